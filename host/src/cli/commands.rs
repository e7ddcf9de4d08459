//! Each client subcommand: build the typed request, send it, print a summary (or the JSON answer).

use std::path::Path;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::client::{CliError, Client};
use super::table;
use super::{
    ApptCommand, BookingRuleArgs, CategoryCommand, ClientArgs, ClinicCommand, ClosedCommand, LinkCommand,
    PluginCommand, SetPmsArgs, StaffCommand, SyncCommand, TimesCommand, print,
};
use crate::api::model::*;
use crate::api::published::{CategoryList, ClosedList, LinkList, LinkView, TimeList, TimeView};
use crate::domain::{
    ClinicUpdate, ClosedDate, MoveRequest, NewAppointment, NewBookingLink, NewCategory, NewClinic, NewClosedDate,
    NewPractitioner, NewPublishedTime, PmsSettingsUpdate, Practitioner, Rep, VisitorCategory,
};
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
    for pair in &args.setting_files {
        let (key, path) = pair.split_once('=').ok_or_else(|| {
            local(format!(
                "--setting-file '{pair}' is not KEY=PATH, e.g. --setting-file subscription_key=/root/halo.key \
                 (PATH - reads standard input)"
            ))
        })?;
        let value = super::secret_input::read(key.trim(), path).map_err(CliError::Local)?;
        settings.insert(key.trim().to_string(), value);
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

/// The booking-rule part of a clinic update; 0 weeks and "none" clear the optional rules.
fn rule_update(rules: BookingRuleArgs) -> ClinicUpdate {
    ClinicUpdate {
        booking_lead_hours: rules.booking_lead_hours,
        booking_horizon_days: rules.booking_horizon_days,
        max_open_bookings_per_rep: rules.max_open_bookings_per_rep,
        company_visit_interval_weeks: rules.company_visit_interval_weeks.map(|w| (w > 0).then_some(w)),
        cancel_cutoff_hours: rules.cancel_cutoff_hours,
        swap_cutoff_hours: rules.swap_cutoff_hours,
        request_expiry_hours: rules.request_expiry_hours,
        link_daily_cap: rules.link_daily_cap,
        visiting_instructions: rules.visiting_instructions,
        clinic_visit_practitioner_id: rules
            .clinic_visit_practitioner
            .map(|p| (!p.eq_ignore_ascii_case("none")).then_some(p)),
        ..Default::default()
    }
}

/// Category names or ids as the API's ids, so people can write `--category "Specialist Services"`.
async fn category_ids(client: &Client, clinic: &str, given: &[String]) -> Result<Vec<String>, CliError> {
    if given.is_empty() {
        return Ok(Vec::new());
    }
    let list: CategoryList = client.get(&["clinics", clinic, "categories"]).await?;
    given
        .iter()
        .map(|wanted| {
            list.categories
                .iter()
                .find(|c| &c.id == wanted || c.name.eq_ignore_ascii_case(wanted.trim()))
                .map(|c| c.id.clone())
                .ok_or_else(|| {
                    let known: Vec<&str> = list.categories.iter().map(|c| c.name.as_str()).collect();
                    local(format!(
                        "--category '{wanted}' is not a visitor category of this clinic{}",
                        if known.is_empty() {
                            "; add one with `repbook category add`".to_string()
                        } else {
                            format!(" (it has: {})", known.join(", "))
                        }
                    ))
                })
        })
        .collect()
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
            rules,
        } => {
            let body = ClinicUpdate {
                name,
                timezone,
                state,
                appointment_duration_minutes: duration,
                ..rule_update(rules)
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
            let mut query = AppointmentQuery {
                from,
                to,
                status: status.and_then(|s| serde_json::from_value(Value::String(s)).ok()),
                ..Default::default()
            };
            // The server pages; a person asked for the whole range, so follow the cursors.
            let mut list: AppointmentList = client.get_query(&["clinics", &clinic, "appointments"], &query).await?;
            while let Some(cursor) = list.next_cursor.take() {
                query.cursor = Some(cursor);
                let page: AppointmentList = client.get_query(&["clinics", &clinic, "appointments"], &query).await?;
                list.appointments.extend(page.appointments);
                list.next_cursor = page.next_cursor;
            }
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
        ApptCommand::Approve { id } => {
            let approved: AppointmentView = client.post(&["appointments", &id, "approve"], &()).await?;
            show(args, &approved, print::appointment);
        }
        ApptCommand::Decline { id } => {
            let declined: AppointmentView = client.post(&["appointments", &id, "decline"], &()).await?;
            show(args, &declined, print::appointment);
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

pub async fn times(data_dir: &Path, args: &ClientArgs, command: TimesCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        TimesCommand::Add {
            clinic,
            weekday,
            start,
            end,
            slot_minutes,
            practitioner,
            categories,
            approval_required,
            from,
            until,
        } => {
            let body = NewPublishedTime {
                weekday,
                start,
                end,
                slot_minutes,
                practitioner_id: practitioner,
                categories: category_ids(&client, &clinic, &categories).await?,
                approval_required,
                from,
                until,
            };
            let added: TimeView = client.post(&["clinics", &clinic, "times"], &body).await?;
            show(args, &added, |t| print::times(std::slice::from_ref(t)));
        }
        TimesCommand::List { clinic } => {
            let list: TimeList = client.get(&["clinics", &clinic, "times"]).await?;
            show(args, &list, |l| print::times(&l.times));
        }
        TimesCommand::Remove { clinic, id } => {
            client.delete(&["clinics", &clinic, "times", &id]).await?;
            show(args, &serde_json::json!({"removed": id}), |_| {
                println!("Removed the time; bookings already made stay.")
            });
        }
    }
    Ok(())
}

pub async fn closed(data_dir: &Path, args: &ClientArgs, command: ClosedCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        ClosedCommand::Add { clinic, date, reason } => {
            let added: ClosedDate = client
                .post(&["clinics", &clinic, "closed"], &NewClosedDate { date, reason })
                .await?;
            show(args, &added, |c| print::closed(std::slice::from_ref(c)));
        }
        ClosedCommand::List { clinic } => {
            let list: ClosedList = client.get(&["clinics", &clinic, "closed"]).await?;
            show(args, &list, |l| print::closed(&l.closed));
        }
        ClosedCommand::Remove { clinic, date } => {
            client.delete(&["clinics", &clinic, "closed", &date]).await?;
            show(args, &serde_json::json!({"reopened": date}), |_| {
                println!("{date} is open to rep visits again.")
            });
        }
    }
    Ok(())
}

pub async fn category(data_dir: &Path, args: &ClientArgs, command: CategoryCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        CategoryCommand::Add { clinic, name } => {
            let added: VisitorCategory = client
                .post(&["clinics", &clinic, "categories"], &NewCategory { name })
                .await?;
            show(args, &added, |c| print::categories(std::slice::from_ref(c)));
        }
        CategoryCommand::List { clinic } => {
            let list: CategoryList = client.get(&["clinics", &clinic, "categories"]).await?;
            show(args, &list, |l| print::categories(&l.categories));
        }
        CategoryCommand::Remove { clinic, category } => {
            let ids = category_ids(&client, &clinic, std::slice::from_ref(&category)).await?;
            for id in &ids {
                client.delete(&["clinics", &clinic, "categories", id]).await?;
            }
            show(args, &serde_json::json!({"removed": ids}), |_| {
                println!("Removed the category '{category}'.")
            });
        }
    }
    Ok(())
}

pub async fn link(data_dir: &Path, args: &ClientArgs, command: LinkCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    let absolute = |mut view: LinkView| {
        view.url = client.absolute(&view.url);
        view
    };
    match command {
        LinkCommand::Create {
            clinic,
            label,
            categories,
        } => {
            let body = NewBookingLink {
                label,
                categories: category_ids(&client, &clinic, &categories).await?,
            };
            let created: LinkView = client.post(&["clinics", &clinic, "links"], &body).await?;
            let created = absolute(created);
            show(args, &created, |l| {
                print::links(std::slice::from_ref(l));
                println!("Give reps this URL: {}", table::printable(&l.url));
            });
        }
        LinkCommand::List { clinic } => {
            let mut list: LinkList = client.get(&["clinics", &clinic, "links"]).await?;
            list.links = list.links.into_iter().map(absolute).collect();
            show(args, &list, |l| print::links(&l.links));
        }
        LinkCommand::Revoke { clinic, id } => {
            client.delete(&["clinics", &clinic, "links", &id]).await?;
            show(args, &serde_json::json!({"revoked": id}), |_| {
                println!("Revoked: the link answers 404 from now on; bookings made through it stay.")
            });
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

/// `repbook backup FILE`: fetched from the running server, written beside FILE and renamed into place, so
/// a half-written backup never carries the name.
pub async fn backup(data_dir: &Path, args: &ClientArgs, file: &Path) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    let bytes = client.get_bytes(&["backup"]).await?;
    let (header, _) = crate::store::backup::read_backup(file, &bytes).map_err(|e| local(e.to_string()))?;
    let partial = file.with_extension("partial");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&partial)?;
        out.write_all(&bytes)?;
        out.sync_all()?;
        std::fs::rename(&partial, file)
    };
    write().map_err(|e| local(format!("cannot write {}: {e}", file.display())))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&header).unwrap_or_default());
    } else {
        println!(
            "Backed up {} records in {} trees (generation {}, {}) to {}.",
            header.records,
            header.trees,
            header.generation,
            header.created,
            table::printable(&file.display().to_string())
        );
    }
    Ok(())
}

/// `repbook restore FILE`: local, with the server stopped.
pub fn restore(data_dir: &Path, file: &Path) -> Result<(), CliError> {
    crate::secure::private_umask();
    let restored = crate::store::backup::restore(data_dir, file).map_err(|e| local(e.to_string()))?;
    let header = &restored.header;
    println!(
        "Restored {} records (generation {}, taken {}) into {}.",
        header.records,
        header.generation,
        header.created,
        table::printable(&data_dir.join("store").display().to_string())
    );
    if let Some(kept) = &restored.kept {
        println!(
            "The store it replaced is kept at {}; delete it once the server runs well.",
            table::printable(&kept.display().to_string())
        );
    }
    Ok(())
}

/// Runs `doctor` on one clinic or all; `Ok(healthy)`.
pub async fn doctor(data_dir: &Path, args: &ClientArgs, clinic: Option<String>) -> Result<bool, CliError> {
    let client = Client::discover(data_dir, args)?;
    let ids = match clinic {
        Some(id) => vec![id],
        None => {
            let list: ClinicList = client.get(&["clinics"]).await?;
            if list.clinics.is_empty() {
                return Err(local("there are no clinics yet; add one first".into()));
            }
            list.clinics.into_iter().map(|c| c.id).collect()
        }
    };
    let mut reports = Vec::new();
    for id in ids {
        let report: crate::doctor::DoctorReport = client.get(&["clinics", &id, "doctor"]).await?;
        reports.push(report);
    }
    let healthy = reports.iter().all(|r| r.healthy);
    show(args, &reports, |reports| {
        for report in reports {
            print::doctor(report);
        }
    });
    Ok(healthy)
}
