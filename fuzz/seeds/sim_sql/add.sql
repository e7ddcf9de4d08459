DECLARE @ret int
EXEC @ret = BPSPATIENTS.dbo.BP_AddAppointmentEx @apptdate = '2027-03-01', @appttime = 45000, @apptlen = 900, @userid = 2000000564, @reason = N'Rep visit', @appttype = 126, @locationid = 1
SELECT @ret AS RecordID