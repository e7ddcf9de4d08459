//! Immediate queries, checked against `shared/reference/` alone: the T-SQL and stored-procedure calls
//! written the way the reference's sources write them (HALO-PY, HALO-PY-SQL, CS-NRME, CS-BRIDGE, NODE-BP,
//! PHP-LARAVEL), every documented Bp procedure, the command/parameter checks of Halo's API, SQL Server's
//! errors, and raw-table SELECTs only with the site's permission.

use crate::common::{input, rows, sql_error, start};
use reqwest::Method;
use serde_json::{Value, json};

fn add_params(date: &str, time: &str) -> Vec<Value> {
    vec![
        input("@aptdate", "Date", date),
        input("@apttime", "Int", time),
        input("@aptlen", "Int", "900"),
        input("@practitionerid", "Int", "12"),
        input("@patientid", "Int", "0"),
        input("@locationid", "Int", "1"),
    ]
}

#[tokio::test]
async fn contract_halo_py_add_appointment_returns_the_record_id_in_a_result_row() {
    let sim = start(false).await;
    // bp-sdk.md section 2, the HALO-PY body verbatim.
    let (status, answer) = sim
        .query(json!({"type": "text", "executionMode": "reader",
            "text": "DECLARE @AppointmentId INT; EXEC @AppointmentId = BPSPATIENTS.dbo.BP_AddAppointment @aptdate=@aptdate, @apttime=@apttime, @aptlen=@aptlen, @practitionerid=@practitionerid, @patientid=@patientid, @locationid=@locationid; SELECT @AppointmentId AS AppointmentId;",
            "parameters": add_params("2025-07-01", "36000")}))
        .await;
    assert_eq!(status, 200, "{answer}");
    let id = rows(&answer)[0]["AppointmentId"].as_i64().unwrap();
    assert!(id > 0);
    assert_eq!(answer["result"]["rows"], 1);
    let held = sim.appointments().await;
    assert_eq!(
        (
            held[0]["record_id"].as_i64(),
            held[0]["time"].as_i64(),
            held[0]["length"].as_i64()
        ),
        (Some(id), Some(36000), Some(900))
    );

    // HALO-PY-SQL's spelling: `SELECT appointment_id = @return_value`.
    let (status, answer) = sim
        .query(json!({"text": "DECLARE @return_value INT;\nEXEC @return_value = BPSPATIENTS.dbo.BP_AddAppointment @aptdate = @aptdate, @apttime = @apttime, @aptlen = @aptlen, @practitionerid = @practitionerid, @patientid = @patientid;\nSELECT appointment_id = @return_value;",
            "parameters": add_params("2025-07-01", "39600")}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(rows(&answer)[0]["appointment_id"].as_i64().unwrap() > id);
}

#[tokio::test]
async fn contract_the_same_statement_written_differently_has_the_same_effect() {
    // CS-NRME's literal EXEC; then the same with other spacing, argument order, case, optional arguments
    // left out, an unqualified and a bracketed name, variables bound positionally (PHP-LARAVEL's order).
    let spellings = [
        "EXEC BP_AddAppointmentEx @aptdate = N'20301204', @apttime = 29700, @appointmenttype = 1, @aptlen = 900, @practitionerid = 12, @patientid = 9, @reason = N'test', @loginid = 12, @locationid = 1, @videourl = NULL",
        "exec   bpspatients.DBO.bp_addappointmentex\n  @REASON=N'test',@PatientID=9,@aptlen=900,\n@AptDate='2030-12-04',@apptime_placeholder_never_used_is_not_here=0",
        "EXECUTE [BPSPatients].[dbo].[BP_AddAppointmentEx] @practitionerid = 12, @apttime = 29700, @aptdate = '2030-12-04', @appointmenttype = 1, @aptlen = 900, @patientid = 9, @reason = N'test'",
        "DECLARE @d DATE = '2030-12-04', @t INT = 29700; EXEC BP_AddAppointmentEx @d, @t, 1, 900, 12, 9, N'test'",
    ];
    let mut effects = Vec::new();
    for (n, text) in spellings.iter().enumerate() {
        let sim = start(false).await;
        let (status, answer) = sim.query(json!({"text": text})).await;
        if n == 1 {
            // An argument the procedure does not have is refused, naming it (SQL Server error 8145).
            assert_eq!(sql_error(status, &answer), 8145, "{answer}");
            assert!(
                answer["errorDetails"]["errorMessage"]
                    .as_str()
                    .unwrap()
                    .contains("is not a parameter for procedure")
            );
            continue;
        }
        assert_eq!(status, 200, "{text}: {answer}");
        let held = sim.appointments().await;
        assert_eq!(held.len(), 1, "{text}");
        let mut record = held[0].clone();
        record.as_object_mut().unwrap().remove("record_id");
        effects.push(record);
    }
    assert_eq!(effects.len(), 3);
    assert!(effects.windows(2).all(|w| w[0] == w[1]), "{effects:?}");
    assert_eq!(effects[0]["date"], "2030-12-04");
    assert_eq!(
        effects[0]["location_id"], 1,
        "without @locationid, the practitioner's usual location"
    );
}

#[tokio::test]
async fn contract_stored_procedure_calls_bind_by_name_and_return_values_come_back_as_parameters() {
    let sim = start(false).await;
    // CS-BRIDGE: a ReturnValue parameter receives RETURN; NODE-BP's parameter casing is accepted.
    let (status, answer) = sim
        .query(json!({"type": "storedProcedure", "executionMode": "nonQuery", "text": "BPSPATIENTS.dbo.BP_AddAppointmentEx",
            "parameters": [
                input("@AptDate", "Date", "2030-07-02"), input("@AptTime", "Int", "36000"), input("@AppointmentType", "Int", "18"),
                input("@AptLen", "Int", "900"), input("@PractitionerID", "Int", "12"), input("@PatientID", "Int", "0"),
                input("@Reason", "NVarChar", "Rep visit"),
                {"name": "@appointmentID", "direction": "returnValue", "type": "Int", "value": null}]}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["rowsAffected"], 1);
    let returned = &answer["result"]["parameters"][0];
    assert_eq!(returned["direction"], "returnValue");
    let id: i64 = returned["value"].as_str().unwrap().parse().unwrap();
    assert_eq!(sim.appointments().await[0]["record_id"], id);

    // BP_AddAppointmentEx returns 0 when the slot is already taken.
    let (_, answer) = sim
        .query(json!({"type": "storedProcedure", "text": "BPSPATIENTS.dbo.BP_AddAppointmentEx",
            "parameters": [
                input("@aptdate", "Date", "2030-07-02"), input("@apttime", "Int", "36300"), input("@appointmenttype", "Int", "18"),
                input("@aptlen", "Int", "900"), input("@practitionerid", "Int", "12"), input("@patientid", "Int", "0"),
                input("@reason", "NVarChar", "Another rep"),
                {"name": "@rv", "direction": "returnValue", "type": "Int"}]}))
        .await;
    assert_eq!(answer["result"]["parameters"][0]["value"], "0");
    assert_eq!(sim.appointments().await.len(), 1);
}

#[tokio::test]
async fn contract_move_update_cancel_and_is_booked_act_on_the_record_id() {
    let sim = start(false).await;
    let (_, answer) = sim
        .query(json!({"text": "DECLARE @id INT; EXEC @id = BPSPATIENTS.dbo.BP_AddAppointmentEx @aptdate = @d, @apttime = 36000, @appointmenttype = 18, @aptlen = 900, @practitionerid = 12, @patientid = 0, @reason = @r; SELECT @id AS AppointmentId",
            "parameters": [input("@d", "Date", "2030-07-03"), input("@r", "NVarChar", "[REP] A (B)")]}))
        .await;
    let id = rows(&answer)[0]["AppointmentId"].as_i64().unwrap().to_string();
    let booked = |date: &str, time: &str| {
        json!({"text": "DECLARE @b INT; EXEC @b = BPSPATIENTS.dbo.BP_IsAppointmentBooked @userid = 12, @aptdate = @d, @apttime = @t; SELECT @b AS IsBooked",
            "parameters": [input("@d", "Date", date), input("@t", "Int", time)]})
    };
    assert_eq!(
        rows(&sim.query(booked("2030-07-03", "36000")).await.1)[0]["IsBooked"],
        1
    );
    assert_eq!(
        rows(&sim.query(booked("2030-07-03", "39600")).await.1)[0]["IsBooked"],
        0
    );

    // HALO-PY's move and update, nonQuery.
    let (status, answer) = sim
        .query(json!({"type": "storedProcedure", "executionMode": "nonQuery", "text": "BPSPATIENTS.dbo.BP_MoveAppointment",
            "parameters": [input("@aptid", "Int", &id), input("@aptdate", "Date", "2030-07-04"), input("@apttime", "Int", "39600"),
                           input("@practitionerid", "Int", "2000000570"), input("@locationid", "Int", "2")]}))
        .await;
    assert_eq!(
        (status, &answer["result"]["rowsAffected"]),
        (200, &json!(1)),
        "{answer}"
    );
    let (status, _) = sim
        .query(json!({"type": "storedProcedure", "executionMode": "nonQuery", "text": "BPSPATIENTS.dbo.BP_UpdateAppointment",
            "parameters": [input("@aptid", "Int", &id), input("@apttype", "Int", "1"), input("@aptlen", "Int", "1800"),
                           input("@reason", "VarChar", "moved")]}))
        .await;
    assert_eq!(status, 200);
    let held = sim.appointments().await[0].clone();
    assert_eq!(
        (
            &held["date"],
            &held["time"],
            &held["user_id"],
            &held["location_id"],
            &held["length"],
            &held["appointment_type"],
            &held["reason"]
        ),
        (
            &json!("2030-07-04"),
            &json!(39600),
            &json!(2000000570),
            &json!(2),
            &json!(1800),
            &json!(1),
            &json!("moved")
        )
    );
    // Cancel once changes one record, twice none.
    let cancel = json!({"type": "storedProcedure", "executionMode": "nonQuery", "text": "BPSPATIENTS.dbo.BP_CancelAppointment",
        "parameters": [input("@aptid", "Int", &id)]});
    assert_eq!(sim.query(cancel.clone()).await.1["result"]["rowsAffected"], 1);
    assert_eq!(sim.query(cancel).await.1["result"]["rowsAffected"], 0);
    assert_eq!(sim.appointments().await[0]["record_status"], 0);
    assert_eq!(
        rows(&sim.query(booked("2030-07-04", "39600")).await.1)[0]["IsBooked"],
        0,
        "cancelled is not booked"
    );
}

#[tokio::test]
async fn contract_read_procedures_return_the_documented_columns() {
    let sim = start(false).await;
    let read = |text: &str, parameters: Vec<Value>| json!({"type": "storedProcedure", "text": format!("BPSPATIENTS.dbo.{text}"), "parameters": parameters});
    sim.query(json!({"text": "EXEC BP_AddAppointmentEx @aptdate='2030-07-01', @apttime=36000, @appointmenttype=18, @aptlen=900, @practitionerid=12, @patientid=9, @reason=N'Check'"}))
        .await;

    let users = rows(&sim.query(read("BP_GetAllUsers", vec![])).await.1);
    let sam = users.iter().find(|u| u["UserID"] == 12).unwrap();
    assert_eq!(sam["Surname"].as_str().unwrap().trim_end(), "Smith");
    assert!(sam["Surname"].as_str().unwrap().ends_with(' '), "Bp pads names");
    for column in ["Firstname", "GroupName", "Appointments"] {
        assert!(sam.get(column).is_some(), "{column}");
    }
    assert!(
        sam.get("RegistrationNo").is_none() && sam.get("ProviderNo").is_none(),
        "no AHPRA from any procedure"
    );
    let book_users = rows(&sim.query(read("BP_GetAppointmentBookUsers", vec![])).await.1);
    assert!(
        book_users.iter().all(|u| u["UserID"] != 2000000580),
        "Dana has no appointment book"
    );
    let locations = rows(&sim.query(read("BP_GetPracticeLocations", vec![])).await.1);
    assert_eq!(locations.len(), 2);

    // 2030-07-01 is a Monday: Dr Smith's session 09:00-12:00 in 15-minute slots, 10:00 taken.
    let free = rows(
        &sim.query(read(
            "BP_GetFreeAppointments",
            vec![input("@userid", "Int", "12"), input("@aptdate", "Date", "2030-07-01")],
        ))
        .await
        .1,
    );
    assert_eq!(free.len(), 11);
    assert!(
        free.iter()
            .all(|s| s["AppointmentLength"] == 900 && s["AppointmentTime"] != 36000)
    );
    let sessions = rows(&sim.query(read("BP_GetAllSessions", vec![])).await.1);
    for column in [
        "UserID",
        "LocationID",
        "DayOfWeek",
        "StartTime",
        "EndTime",
        "Length",
        "StartDate",
        "EndDate",
        "Weeks",
        "CycleWeek",
        "CycleDate",
    ] {
        assert!(sessions[0].get(column).is_some(), "{column}");
    }
    assert_eq!(sessions[0]["StartTime"], 32400);

    let patient = rows(
        &sim.query(read("BP_GetPatientAppointments", vec![input("@patientid", "Int", "9")]))
            .await
            .1,
    );
    assert_eq!(patient.len(), 1);
    for column in [
        "RecordID",
        "AppointmentCode",
        "UserTitle",
        "UserSurname",
        "AppointmentDate",
        "AppointmentTime",
        "AppointmentType",
    ] {
        assert!(patient[0].get(column).is_some(), "{column}");
    }
    assert_eq!(
        patient[0]["AppointmentDate"], "2030-07-01T00:00:00",
        "DATETIME as ISO-8601 without an offset"
    );
    let id = patient[0]["RecordID"].to_string();
    let details = rows(
        &sim.query(read("BP_GetAppointmentDetails", vec![input("@aptid", "Int", &id)]))
            .await
            .1,
    );
    for column in [
        "Firstname",
        "Surname",
        "AppointmentDate",
        "AppointmentTime",
        "AppointmentType",
        "Description",
        "UserTitle",
        "UserFirstname",
        "UserSurname",
    ] {
        assert!(details[0].get(column).is_some(), "{column}");
    }
    assert_eq!(details[0]["Description"], "Check");
    assert_eq!(details[0]["Surname"].as_str().unwrap().trim(), "Example");

    // An away day: BP_GetFreeAppointments raises an error that mentions "away" ... "that date".
    sim.control(
        Method::POST,
        "/_sim/sites/12345/away",
        Some(json!({"user_id": 12, "date": "2030-07-01"})),
    )
    .await;
    let (status, answer) = sim
        .query(read(
            "BP_GetFreeAppointments",
            vec![input("@userid", "Int", "12"), input("@aptdate", "Date", "2030-07-01")],
        ))
        .await;
    assert_eq!(sql_error(status, &answer), 50000);
    let message = answer["errorDetails"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("away") && message.contains("that date"), "{message}");
}

#[tokio::test]
async fn contract_halo_checks_the_command_and_its_parameters() {
    let sim = start(false).await;
    let cancel = |parameters: Vec<Value>| json!({"type": "storedProcedure", "executionMode": "nonQuery", "text": "BPSPATIENTS.dbo.BP_CancelAppointment", "parameters": parameters});
    // Not a number where the parameter says Int: Halo Link's conversion message (400, general envelope).
    let (status, answer) = sim.query(cancel(vec![input("@aptid", "Int", "1; DROP TABLE x")])).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"]["message"],
        "Failed to convert parameter value from a String to a Int32."
    );
    // A type that is not a SqlDbType; a direction that does not exist.
    let (status, _) = sim.query(cancel(vec![input("@aptid", "Integer", "1")])).await;
    assert_eq!(status, 400);
    let (status, _) = sim
        .query(cancel(vec![
            json!({"name": "@aptid", "direction": "sideways", "type": "Int", "value": "1"}),
        ]))
        .await;
    assert_eq!(status, 400);
    // The documented known issue: NVarChar over 4000 characters with storedProcedure fails to convert.
    let long = "x".repeat(4001);
    let (status, answer) = sim
        .query(json!({"type": "storedProcedure", "text": "BPSPATIENTS.dbo.BP_UpdateAppointment",
            "parameters": [input("@aptid", "Int", "1"), input("@apttype", "Int", "1"), input("@aptlen", "Int", "900"), input("@reason", "NVarChar", &long)]}))
        .await;
    assert_eq!(
        (status, answer["error"]["message"].as_str()),
        (
            400,
            Some("Failed to convert parameter value from a String to a String.")
        )
    );
    // The same through text + a declared variable works (the documented workaround).
    let (status, answer) = sim
        .query(json!({"text": "EXEC BPSPATIENTS.dbo.BP_UpdateAppointment @aptid = 1, @apttype = 1, @aptlen = 900, @reason = @r", "parameters": [input("@r", "NVarChar", &long)]}))
        .await;
    assert_eq!(status, 200, "{answer}");
    // Command type, execution mode, maxTimeInQueue and catalogue are checked.
    for body in [
        json!({"command": {"text": "x", "type": "procedure"}}),
        json!({"command": {"text": "x", "executionMode": "rows"}}),
        json!({"maxTimeInQueue": 60001, "command": {"text": "SELECT 1 AS One"}}),
        json!({"catalogue": "Samples", "command": {"text": "SELECT 1 AS One"}}),
        json!({"command": {"type": "text"}}),
    ] {
        let (status, _, answer) = sim
            .send(
                Method::POST,
                &format!("/integrator/sites/{}/queries/immediate", crate::common::GUID),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"]["message"].is_string(), "{answer}");
    }
    let (status, _, answer) = sim
        .send(Method::POST, &format!("/integrator/sites/{}/queries/immediate", crate::common::GUID),
              Some(json!({"catalogue": "Patients", "maxTimeInQueue": 15000, "command": {"text": "SELECT 1 AS One", "executionMode": "scalar"}})))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rows(&answer), vec![json!({"One": 1})]);
}

#[tokio::test]
async fn contract_sql_server_errors_for_what_bp_would_refuse() {
    let sim = start(false).await;
    let text = |t: &str| json!({"text": t});
    for (statement, number) in [
        ("EXEC BPSPATIENTS.dbo.BP_DropEverything", 2812),
        ("EXEC BPSSamples.dbo.BP_GetAllUsers", 2812),
        ("EXEC BPSPATIENTS.dbo.BP_CancelAppointment", 201),
        (
            "EXEC BPSPATIENTS.dbo.BP_CancelAppointment @aptid = 1, @nonsense = 2",
            8145,
        ),
        ("EXEC BPSPATIENTS.dbo.BP_CancelAppointment 1, 2, 3", 8144),
        ("EXEC BPSPATIENTS.dbo.BP_CancelAppointment @aptid = 'abc'", 8114),
        ("SELECT @nothing AS X", 137),
        ("EXEC BPSPATIENTS.dbo.BP_CancelAppointment @aptid = 1 @loginid = 2", 102),
        (
            "EXEC BP_AddAppointmentEx @aptdate = '2030-01-01', @apttime = 1, @appointmenttype = 99, @aptlen = 900, @practitionerid = 12, @patientid = 0, @reason = 'x'",
            547,
        ),
        (
            "EXEC BP_AddAppointmentEx @aptdate = '2030-02-30', @apttime = 1, @appointmenttype = 1, @aptlen = 900, @practitionerid = 12, @patientid = 0, @reason = 'x'",
            8114,
        ),
        ("DROP TABLE Appointments", 3701),
        ("DELETE FROM BPSPATIENTS.dbo.APPOINTMENTS", 229),
        ("SELECT RECORDID FROM BPSPATIENTS.dbo.APPOINTMENTS", 229),
        ("SELECT * FROM BPSPATIENTS.dbo.NOSUCHTABLE", 208),
    ] {
        let (status, answer) = sim.query(text(statement)).await;
        assert_eq!(sql_error(status, &answer), number, "{statement}: {answer}");
    }
    // A rep name spliced into SQL text breaks the batch at parse time: nothing runs, nothing changes.
    let name = "O'Brien'); DROP TABLE Appointments;--";
    let spliced = format!(
        "EXEC BP_AddAppointmentEx @aptdate = '2030-01-01', @apttime = 36000, @appointmenttype = 1, @aptlen = 900, @practitionerid = 12, @patientid = 0, @reason = '[REP] {name}'"
    );
    let (status, answer) = sim.query(text(&spliced)).await;
    assert_eq!(sql_error(status, &answer), 102, "{answer}");
    assert!(sim.appointments().await.is_empty());
    // Statements before a failing one keep their effect (a batch is not a transaction).
    let (status, answer) = sim
        .query(text("EXEC BP_AddAppointmentEx @aptdate = '2030-01-01', @apttime = 36000, @appointmenttype = 1, @aptlen = 900, @practitionerid = 12, @patientid = 0, @reason = 'a'; EXEC BP_NoSuch"))
        .await;
    assert_eq!(sql_error(status, &answer), 2812);
    assert_eq!(sim.appointments().await.len(), 1);
}

#[tokio::test]
async fn contract_raw_table_selects_need_the_sites_permission() {
    let sim = start(true).await;
    sim.query(json!({"text": "EXEC BP_AddAppointmentEx @aptdate='2030-07-01', @apttime=36000, @appointmenttype=18, @aptlen=900, @practitionerid=12, @patientid=0, @reason=N'[REP] Jane (Acme) - ref 1'"}))
        .await;
    let (status, answer) = sim
        .query(json!({"text": "SELECT RECORDID AS RecordID, APPOINTMENTDATE AS AppointmentDate, REASON FROM BPSPATIENTS.dbo.APPOINTMENTS WHERE REASON LIKE @p AND APPOINTMENTDATE BETWEEN @a AND @b ORDER BY RECORDID",
            "parameters": [input("@p", "NVarChar", "%ref 1%"), input("@a", "Date", "2030-07-01"), input("@b", "Date", "2030-07-31")]}))
        .await;
    assert_eq!(status, 200, "{answer}");
    let found = rows(&answer);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["AppointmentDate"], "2030-07-01T00:00:00");
    assert!(found[0].get("REASON").is_some(), "an unaliased column keeps its name");
    let (status, answer) = sim
        .query(
            json!({"text": "SELECT USERID, REGISTRATIONNO AS RegistrationNo, PROVIDERNO FROM BPSPATIENTS.dbo.USERS"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        rows(&answer)[0]["RegistrationNo"].as_str().unwrap().trim(),
        "MED0001234567"
    );
    let (status, answer) = sim
        .query(json!({"text": "SELECT AHPRA_NO FROM BPSPATIENTS.dbo.USERS"}))
        .await;
    assert_eq!(sql_error(status, &answer), 207);
}
