DECLARE @AppointmentId INT;
EXEC @AppointmentId = BPSPATIENTS.dbo.BP_AddAppointmentEx @aptdate = @aptdate, @apttime = @apttime, @appointmenttype = @appointmenttype, @aptlen = @aptlen, @practitionerid = @practitionerid, @patientid = @patientid, @reason = @reason, @locationid = @locationid;
SELECT @AppointmentId AS AppointmentId;
