//! Each client subcommand: build the typed request, send it, print a summary (or the JSON answer).

use std::path::Path;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::client::{CliError, Client};
use super::{ApptCommand, ClientArgs, ClinicCommand, PluginCommand, SetPmsArgs, StaffCommand, SyncCommand, print};
use crate::api::model::*;
use crate::domain::{MoveRequest, NewAppointment, NewClinic, NewPractitioner, PmsSettingsUpdate, Practitioner, Rep};
use crate::sync::{ReconcileReport, SyncStatus, Validation};

/// Prints `value` as JSON for scripts, or through `render` for people.
fn show<T: Serialize>(args: &ClientArgs, value: &T, render: impl FnOnce(&T)) {
    if args.json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    } else {
        render(value);
    }
}

fn local(message: String) -> CliError {
    CliError::Local(anyhow::anyhow!(message))
}

fn set_pms_body(args: &SetPmsArgs) -> Result<PmsSettingsUpdate, CliError> {
    let send_via = args
        .send_via
        .as_ref()
        .map(|v| {
            serde_json::from_value(Value::String(v.clone()))
                .map_err(|_| local(format!("--send-via '{v}' is not known; use halo-link")))
        })
        .transpose()?;
    let mut settings = std::collections::BTreeMap::new();
    for pair in &args.settings {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            local(format!(
                "--setting '{pair}' is not KEY=VALUE, e.g. --setting base_url=https://api.haloconnect.io"
            ))
        })?;
        settings.insert(key.trim().to_string(), value.to_string());
    }
    Ok(PmsSettingsUpdate {
        connector: args.connector.clone(),
        send_via,
        enabled: (args.enable || args.disable).then_some(args.enable),
        site_id: args.site_id.clone(),
        pairing_code: args.pairing_code.clone(),
        location_id: args.location_id.map(Some),
        location_name: None,
        settings: (!settings.is_empty()).then_some(settings),
    })
}

pub async fn clinic(data_dir: &Path, args: &ClientArgs, command: ClinicCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        ClinicCommand::Create {
            name,
            timezone,
            state,
            duration,
        } => {
            let body = NewClinic {
                name,
                timezone,
                state,
                appointment_duration_minutes: duration,
            };
            let created: ClinicView = client.post(&["clinics"], &body).await?;
            show(args, &created, print::clinic);
        }
        ClinicCommand::List => {
            let list: ClinicList = client.get(&["clinics"]).await?;
            show(args, &list, |l| print::clinics(&l.clinics));
        }
        ClinicCommand::Show { clinic } => {
            let view: ClinicView = client.get(&["clinics", &clinic]).await?;
            show(args, &view, print::clinic);
        }
        ClinicCommand::Update {
            clinic,
            name,
            timezone,
            state,
            duration,
        } => {
            let body = ClinicUpdate {
                name,
                timezone,
                state,
                appointment_duration_minutes: duration,
            };
            let view: ClinicView = client.call(Method::PATCH, &["clinics", &clinic], &body).await?;
            show(args, &view, print::clinic);
        }
        ClinicCommand::SetPms(set) => {
            let body = set_pms_body(&set)?;
            let view: ClinicView = client
                .call(Method::PUT, &["clinics", &set.clinic, "pms"], &body)
                .await?;
            show(args, &view, print::clinic);
        }
        ClinicCommand::Validate { clinic } => {
            let validation: Validation = client.post(&["clinics", &clinic, "pms", "validate"], &()).await?;
            show(args, &validation, print::validation);
        }
        ClinicCommand::Locations { clinic } => {
            let list: LocationList = client.get(&["clinics", &clinic, "pms", "locations"]).await?;
            show(args, &list, |l| print::locations(&l.locations));
        }
        ClinicCommand::Reset { clinic } => {
            let reset: ResetView = client.post(&["clinics", &clinic, "pms", "reset"], &()).await?;
            show(args, &reset, |r| {
                print::validation(&r.validation);
                println!("Re-queued {} appointments for the PMS.", r.requeued);
            });
        }
    }
    Ok(())
}

pub async fn staff(data_dir: &Path, args: &ClientArgs, command: StaffCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        StaffCommand::Add {
            clinic,
            title,
            first_name,
            last_name,
            ahpra,
        } => {
            let body = NewPractitioner {
                title,
                first_name,
                last_name,
                ahpra,
            };
            let added: Practitioner = client.post(&["clinics", &clinic, "staff"], &body).await?;
            show(args, &added, |p| print::staff(std::slice::from_ref(p)));
        }
        StaffCommand::List { clinic } => {
            let list: StaffList = client.get(&["clinics", &clinic, "staff"]).await?;
            show(args, &list, |l| print::staff(&l.staff));
        }
        StaffCommand::Sync { clinic } => {
            let synced: StaffSyncView = client.post(&["clinics", &clinic, "staff", "sync"], &()).await?;
            show(args, &synced, print::staff_sync);
        }
        StaffCommand::Map {
            clinic,
            staff,
            user_id,
            clear,
        } => {
            let body = StaffMapping {
                user_id: if clear { None } else { user_id },
            };
            let mapped: Practitioner = client
                .call(Method::PUT, &["clinics", &clinic, "staff", &staff, "pms"], &body)
                .await?;
            show(args, &mapped, |p| print::staff(std::slice::from_ref(p)));
        }
    }
    Ok(())
}

pub async fn appt(data_dir: &Path, args: &ClientArgs, command: ApptCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
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
            let body = NewAppointment {
                practitioner_id: practitioner,
                rep: Rep {
                    name: rep_name,
                    company: rep_company,
                    email: rep_email,
                    phone: rep_phone,
                },
                start,
                duration_minutes: duration,
                notes,
            };
            let booked: AppointmentView = client.post(&["clinics", &clinic, "appointments"], &body).await?;
            show(args, &booked, print::appointment);
        }
        ApptCommand::List {
            clinic,
            from,
            to,
            status,
        } => {
            let query = AppointmentQuery {
                from,
                to,
                status: status.and_then(|s| serde_json::from_value(Value::String(s)).ok()),
            };
            let list: AppointmentList = client.get_query(&["clinics", &clinic, "appointments"], &query).await?;
            show(args, &list, |l| print::appointments(&l.appointments));
        }
        ApptCommand::Show { id } => {
            let view: AppointmentView = client.get(&["appointments", &id]).await?;
            show(args, &view, print::appointment);
        }
        ApptCommand::Move { id, start, duration } => {
            let body = MoveRequest {
                start,
                duration_minutes: duration,
            };
            let moved: AppointmentView = client.call(Method::PATCH, &["appointments", &id], &body).await?;
            show(args, &moved, print::appointment);
        }
        ApptCommand::Cancel { id } => {
            let cancelled: AppointmentView = client.post(&["appointments", &id, "cancel"], &()).await?;
            show(args, &cancelled, print::appointment);
        }
        ApptCommand::Resend { id } => {
            let resent: ResendView = client.post(&["appointments", &id, "resend"], &()).await?;
            show(args, &resent, print::resend);
        }
    }
    Ok(())
}

pub async fn sync(data_dir: &Path, args: &ClientArgs, command: SyncCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    let queued = |q: &Queued| println!("Queued {} appointments for the PMS.", q.queued);
    match command {
        SyncCommand::Status { clinic } => {
            let status: SyncStatus = client.get(&["clinics", &clinic, "sync"]).await?;
            show(args, &status, print::sync_status);
        }
        SyncCommand::Run { clinic } => {
            let answer: Queued = client.post(&["clinics", &clinic, "sync"], &()).await?;
            show(args, &answer, queued);
        }
        SyncCommand::Reconcile { clinic } => {
            let report: ReconcileReport = client.post(&["clinics", &clinic, "sync", "reconcile"], &()).await?;
            show(args, &report, print::reconcile);
        }
        SyncCommand::RetryParked { clinic } => {
            let answer: Queued = client.post(&["clinics", &clinic, "sync", "retry-parked"], &()).await?;
            show(args, &answer, queued);
        }
    }
    Ok(())
}

pub async fn plugin(data_dir: &Path, args: &ClientArgs, command: PluginCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    let active = |v: &ActiveVersion| println!("{}@{} is active.", v.name, v.active_version);
    match command {
        PluginCommand::List => {
            let list: PluginList = client.get(&["plugins"]).await?;
            show(args, &list, |l| print::plugins(&l.plugins));
        }
        PluginCommand::Install { file } => {
            let bytes = std::fs::read(&file).map_err(|e| local(format!("cannot read {}: {e}", file.display())))?;
            let installed: Installed = client.post_bytes(&["plugins"], bytes).await?;
            show(args, &installed, print::installed);
        }
        PluginCommand::Activate { name, version } => {
            let answer: ActiveVersion = client
                .post(&["plugins", &name, "activate"], &Activation { version })
                .await?;
            show(args, &answer, active);
        }
        PluginCommand::Rollback { name } => {
            let answer: ActiveVersion = client.post(&["plugins", &name, "rollback"], &()).await?;
            show(args, &answer, active);
        }
        PluginCommand::Remove { name, version } => {
            client.delete(&["plugins", &name, "versions", &version]).await?;
            let removed = serde_json::json!({"removed": format!("{name}@{version}")});
            show(args, &removed, |_| println!("Removed {name}@{version}."));
        }
    }
    Ok(())
}
