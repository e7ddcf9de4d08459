//! Each client subcommand: build the request, send it, print a table or JSON.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::{CliError, Client};
use super::{ApptCommand, ClinicCommand, Command, PluginCommand, SetPmsArgs, StaffCommand, SyncCommand, table};

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn clinic_rows(clinics: &[Value]) -> Vec<Vec<String>> {
    clinics
        .iter()
        .map(|c| {
            vec![
                text(&c["id"]),
                text(&c["name"]),
                text(&c["timezone"]),
                text(&c["state"]),
                text(&c["appointment_duration_minutes"]),
                text(&c["pms"]["connector"]),
                text(&c["pms"]["site_id"]),
            ]
        })
        .collect()
}

const CLINIC_HEADERS: &[&str] = &["ID", "NAME", "TIMEZONE", "STATE", "MINUTES", "CONNECTOR", "SITE ID"];

fn appointment_rows(appointments: &[Value]) -> Vec<Vec<String>> {
    appointments
        .iter()
        .map(|a| {
            vec![
                text(&a["id"]),
                text(&a["local_start"]),
                text(&a["duration_minutes"]),
                text(&a["practitioner_id"]),
                format!("{} ({})", text(&a["rep"]["name"]), text(&a["rep"]["company"])),
                text(&a["status"]),
                text(&a["pms"]["state"]),
            ]
        })
        .collect()
}

const APPOINTMENT_HEADERS: &[&str] = &["ID", "LOCAL START", "MIN", "PRACTITIONER", "REP", "STATUS", "PMS"];

fn staff_rows(staff: &[Value]) -> Vec<Vec<String>> {
    staff
        .iter()
        .map(|p| {
            vec![
                text(&p["id"]),
                format!(
                    "{} {} {}",
                    text(&p["title"]),
                    text(&p["first_name"]),
                    text(&p["last_name"])
                )
                .trim()
                .to_string(),
                text(&p["ahpra"]),
                text(&p["pms"]["state"]),
                text(&p["pms"]["user_id"]),
            ]
        })
        .collect()
}

const STAFF_HEADERS: &[&str] = &["ID", "NAME", "AHPRA", "PMS", "PMS USER"];

fn plugin_rows(plugins: &[Value]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for plugin in plugins {
        for version in plugin["versions"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let hosts: Vec<String> = plugin["allowed_hosts"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(text)
                .collect();
            rows.push(vec![
                text(&plugin["name"]),
                text(&version["version"]),
                if version["active"].as_bool() == Some(true) {
                    "*".into()
                } else {
                    String::new()
                },
                text(&version["sha256"]).chars().take(12).collect(),
                text(&version["wit_version"]),
                if version["active"].as_bool() == Some(true) {
                    hosts.join(",")
                } else {
                    String::new()
                },
            ]);
        }
    }
    rows
}

const PLUGIN_HEADERS: &[&str] = &["NAME", "VERSION", "ACTIVE", "SHA256", "WIT", "ALLOWED HOSTS"];

fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn set_pms_body(args: &SetPmsArgs) -> Result<Value, CliError> {
    let mut body = Map::new();
    let mut put = |key: &str, value: Value| {
        body.insert(key.to_string(), value);
    };
    if let Some(v) = &args.connector {
        put("connector", json!(v));
    }
    if let Some(v) = &args.send_via {
        put("send_via", json!(v));
    }
    if args.enable || args.disable {
        put("enabled", json!(args.enable));
    }
    if let Some(v) = &args.site_id {
        put("site_id", json!(v));
    }
    if let Some(v) = &args.pairing_code {
        put("pairing_code", json!(v));
    }
    if let Some(v) = args.location_id {
        put("location_id", json!(v));
    }
    if !args.settings.is_empty() {
        let mut settings = Map::new();
        for pair in &args.settings {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                CliError::Local(anyhow::anyhow!(
                    "--setting '{pair}' is not KEY=VALUE, e.g. --setting base_url=https://api.haloconnect.io"
                ))
            })?;
            settings.insert(key.trim().to_string(), json!(value));
        }
        put("settings", Value::Object(settings));
    }
    Ok(Value::Object(body))
}

pub async fn run(client: &Client, command: Command, as_json: bool) -> Result<(), CliError> {
    let show = |value: &Value, render: &dyn Fn(&Value)| {
        if as_json {
            println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
        } else {
            render(value);
        }
    };
    let one_clinic = |v: &Value| table::print(CLINIC_HEADERS, &clinic_rows(std::slice::from_ref(v)));
    let one_appointment = |v: &Value| table::print(APPOINTMENT_HEADERS, &appointment_rows(std::slice::from_ref(v)));
    let pretty = |v: &Value| println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    match command {
        Command::Serve { .. } | Command::Demo { .. } => unreachable!("serve and demo are not client commands"),
        Command::Clinic(command) => match command {
            ClinicCommand::Create {
                name,
                timezone,
                state,
                duration,
            } => {
                let body = json!({"name": name, "timezone": timezone, "state": state, "appointment_duration_minutes": duration});
                show(&client.post("/clinics", body).await?, &one_clinic);
            }
            ClinicCommand::List => {
                show(&client.get("/clinics").await?, &|v| {
                    table::print(CLINIC_HEADERS, &clinic_rows(list(v, "clinics")))
                });
            }
            ClinicCommand::Show { clinic } => show(&client.get(&format!("/clinics/{clinic}")).await?, &pretty),
            ClinicCommand::SetPms(args) => {
                let body = set_pms_body(&args)?;
                show(
                    &client
                        .send(Method::PUT, &format!("/clinics/{}/pms", args.clinic), Some(body))
                        .await?,
                    &pretty,
                );
            }
            ClinicCommand::Validate { clinic } => show(
                &client
                    .post(&format!("/clinics/{clinic}/pms/validate"), json!({}))
                    .await?,
                &pretty,
            ),
            ClinicCommand::Locations { clinic } => {
                show(&client.get(&format!("/clinics/{clinic}/pms/locations")).await?, &pretty)
            }
            ClinicCommand::Reset { clinic } => show(
                &client.post(&format!("/clinics/{clinic}/pms/reset"), json!({})).await?,
                &pretty,
            ),
        },
        Command::Staff(command) => match command {
            StaffCommand::Add {
                clinic,
                title,
                first_name,
                last_name,
                ahpra,
            } => {
                let body = json!({"title": title, "first_name": first_name, "last_name": last_name, "ahpra": ahpra});
                show(&client.post(&format!("/clinics/{clinic}/staff"), body).await?, &|v| {
                    table::print(STAFF_HEADERS, &staff_rows(std::slice::from_ref(v)))
                });
            }
            StaffCommand::List { clinic } => show(&client.get(&format!("/clinics/{clinic}/staff")).await?, &|v| {
                table::print(STAFF_HEADERS, &staff_rows(list(v, "staff")))
            }),
            StaffCommand::Map {
                clinic,
                staff,
                user_id,
                clear,
            } => {
                let body = json!({ "user_id": if clear { None } else { user_id } });
                show(
                    &client
                        .send(Method::PUT, &format!("/clinics/{clinic}/staff/{staff}/pms"), Some(body))
                        .await?,
                    &pretty,
                )
            }
            StaffCommand::Sync { clinic } => show(
                &client.post(&format!("/clinics/{clinic}/staff/sync"), json!({})).await?,
                &pretty,
            ),
        },
        Command::Appt(command) => match command {
            ApptCommand::Book {
                clinic,
                practitioner,
                rep_name,
                rep_company,
                rep_email,
                rep_phone,
                start,
                duration,
                notes,
            } => {
                let body = json!({
                    "practitioner_id": practitioner,
                    "rep": {"name": rep_name, "company": rep_company, "email": rep_email, "phone": rep_phone},
                    "start": start, "duration_minutes": duration, "notes": notes,
                });
                show(
                    &client.post(&format!("/clinics/{clinic}/appointments"), body).await?,
                    &one_appointment,
                );
            }
            ApptCommand::List {
                clinic,
                from,
                to,
                status,
            } => {
                let mut query = Vec::new();
                for (key, value) in [("from", from), ("to", to), ("status", status)] {
                    if let Some(value) = value {
                        query.push(format!("{key}={value}"));
                    }
                }
                let path = format!("/clinics/{clinic}/appointments?{}", query.join("&"));
                show(&client.get(&path).await?, &|v| {
                    table::print(APPOINTMENT_HEADERS, &appointment_rows(list(v, "appointments")))
                });
            }
            ApptCommand::Show { id } => show(&client.get(&format!("/appointments/{id}")).await?, &pretty),
            ApptCommand::Move { id, start, duration } => {
                let body = json!({"start": start, "duration_minutes": duration});
                show(
                    &client
                        .send(Method::PATCH, &format!("/appointments/{id}"), Some(body))
                        .await?,
                    &one_appointment,
                );
            }
            ApptCommand::Cancel { id } => show(
                &client.post(&format!("/appointments/{id}/cancel"), json!({})).await?,
                &one_appointment,
            ),
            ApptCommand::Resend { id } => show(
                &client.post(&format!("/appointments/{id}/resend"), json!({})).await?,
                &pretty,
            ),
        },
        Command::Sync(command) => match command {
            SyncCommand::Status { clinic } => show(&client.get(&format!("/clinics/{clinic}/sync")).await?, &pretty),
            SyncCommand::Reconcile { clinic } => show(
                &client
                    .post(&format!("/clinics/{clinic}/sync/reconcile"), json!({}))
                    .await?,
                &pretty,
            ),
            SyncCommand::RetryParked { clinic } => show(
                &client
                    .post(&format!("/clinics/{clinic}/sync/retry-parked"), json!({}))
                    .await?,
                &pretty,
            ),
            SyncCommand::Run { clinic } => show(
                &client.post(&format!("/clinics/{clinic}/sync"), json!({})).await?,
                &pretty,
            ),
        },
        Command::Plugin(command) => match command {
            PluginCommand::List => show(&client.get("/plugins").await?, &|v| {
                table::print(PLUGIN_HEADERS, &plugin_rows(list(v, "plugins")))
            }),
            PluginCommand::Install { file } => {
                let bytes = std::fs::read(&file)
                    .map_err(|e| CliError::Local(anyhow::anyhow!("cannot read {}: {e}", file.display())))?;
                show(&client.send_bytes("/plugins", bytes).await?, &pretty);
            }
            PluginCommand::Activate { name, version } => show(
                &client
                    .post(&format!("/plugins/{name}/activate"), json!({"version": version}))
                    .await?,
                &pretty,
            ),
            PluginCommand::Rollback { name } => show(
                &client.post(&format!("/plugins/{name}/rollback"), json!({})).await?,
                &pretty,
            ),
            PluginCommand::Remove { name, version } => show(
                &client
                    .send(Method::DELETE, &format!("/plugins/{name}/versions/{version}"), None)
                    .await?,
                &pretty,
            ),
        },
    }
    Ok(())
}
