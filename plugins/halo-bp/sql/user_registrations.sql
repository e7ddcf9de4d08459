SELECT USERID AS UserID, {ahpra_column} AS RegistrationNo
FROM BPSPATIENTS.dbo.USERS;
