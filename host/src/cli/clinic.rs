//! `repbook clinic create|list|show|update|set-pms|validate|locations|reset`: clinics and their PMS settings.

use std::path::Path;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{local, or_dash, say, show};
use super::table;
use crate::api::model::*;
use crate::domain::{ClinicUpdate, NewClinic, PmsSettingsUpdate};
use crate::sync::Validation;

#[derive(Debug, Subcommand)]
pub enum ClinicCommand {
    /// Create a clinic.
    Create {
        #[arg(long)]
        name: String,
        /// IANA zone, e.g. Australia/Sydney.
        #[arg(long)]
        timezone: String,
        /// NSW, VIC, QLD, SA, WA, TAS, NT or ACT.
        #[arg(long)]
        state: String,
        /// Default appointment length in minutes (5 to 240).
        #[arg(long, default_value_t = 15)]
        duration: u32,
    },
    /// List clinics.
    List,
    /// Show one clinic with its PMS settings (secrets are never shown).
    Show { clinic: String },
    /// Change a clinic's name, zone, state, default appointment length or rep booking rules.
    Update {
        clinic: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        duration: Option<u32>,
        #[command(flatten)]
        rules: BookingRuleArgs,
    },
    /// Set the PMS connection (only the options given change).
    SetPms(SetPmsArgs),
    /// Check the Site ID with the PMS and list practice locations.
    Validate { clinic: String },
    /// The practice locations the PMS offers (after a valid Validate).
    Locations { clinic: String },
    /// Forget the PMS site state, re-validate and re-send what is pending.
    Reset { clinic: String },
}

/// The rep booking rules `clinic update` can change; only the flags given change.
#[derive(Debug, Args)]
pub struct BookingRuleArgs {
    /// Slots closer than this many hours are not offered to reps.
    #[arg(long)]
    pub booking_lead_hours: Option<u32>,
    /// Slots further ahead than this many days are not offered.
    #[arg(long)]
    pub booking_horizon_days: Option<u32>,
    /// Future bookings one rep (by email) may hold at the clinic.
    #[arg(long)]
    pub max_open_bookings_per_rep: Option<u32>,
    /// At most one visit per company per doctor in this many weeks (0 = no such rule).
    #[arg(long)]
    pub company_visit_interval_weeks: Option<u32>,
    /// Reps may cancel up to this many hours before the visit.
    #[arg(long)]
    pub cancel_cutoff_hours: Option<u32>,
    /// Reps may swap to another time up to this many hours before the visit.
    #[arg(long)]
    pub swap_cutoff_hours: Option<u32>,
    /// Swaps one booking may take in 24 hours (each one writes into the PMS).
    #[arg(long)]
    pub swaps_per_day: Option<u32>,
    /// Days after a visit that the rep's name, address and phone are kept (then removed).
    #[arg(long)]
    pub rep_data_retention_days: Option<u32>,
    /// Hours an approval-required request waits for staff before it expires.
    #[arg(long)]
    pub request_expiry_hours: Option<u32>,
    /// Bookings one link may take per day.
    #[arg(long)]
    pub link_daily_cap: Option<u32>,
    /// What reps should know (parking, where to wait); shown on their pages and in the calendar file.
    #[arg(long)]
    pub visiting_instructions: Option<String>,
    /// Whose PMS appointment book receives visits with the whole clinic (a practitioner id; "none" clears).
    #[arg(long)]
    pub clinic_visit_practitioner: Option<String>,
    /// The practice's inbox for requests, reps' cancellations and swaps, the daily agenda and PMS sync
    /// trouble (repeatable; "none" clears).
    #[arg(long = "notify-email")]
    pub notify_email: Vec<String>,
    /// Remind reps this many hours before their visit (0 = no reminders).
    #[arg(long)]
    pub reminder_hours: Option<u32>,
    /// Clinic-local HH:MM to mail the day's visits to the practice ("none" = no agenda).
    #[arg(long)]
    pub daily_agenda: Option<String>,
    /// Minutes a booking through a link is held while the rep confirms their address.
    #[arg(long)]
    pub confirm_hold_minutes: Option<u32>,
    /// The sender's name reps see (default: the clinic's name; "none" clears).
    #[arg(long)]
    pub mail_display_name: Option<String>,
    /// Where reps' replies go (default: the first --notify-email; "none" clears).
    #[arg(long)]
    pub reply_to: Option<String>,
}

#[derive(Debug, Args)]
pub struct SetPmsArgs {
    pub clinic: String,
    #[arg(long)]
    pub connector: Option<String>,
    /// How appointments travel; today only halo-link.
    #[arg(long)]
    pub send_via: Option<String>,
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    #[arg(long)]
    pub disable: bool,
    #[arg(long)]
    pub site_id: Option<String>,
    #[arg(long)]
    pub pairing_code: Option<String>,
    #[arg(long)]
    pub location_id: Option<i64>,
    /// Connector setting as KEY=VALUE (repeatable); secrets such as subscription_key are write-only.
    /// A value on the command line shows in `ps` and shell history: give secrets with --setting-file.
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// Connector setting read from a file (KEY=PATH, repeatable); PATH `-` reads standard input, asking
    /// without echo when it is a terminal.
    #[arg(long = "setting-file", value_name = "KEY=PATH")]
    pub setting_files: Vec<String>,
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
        swaps_per_day: rules.swaps_per_day,
        rep_data_retention_days: rules.rep_data_retention_days,
        request_expiry_hours: rules.request_expiry_hours,
        link_daily_cap: rules.link_daily_cap,
        visiting_instructions: rules.visiting_instructions,
        clinic_visit_practitioner_id: rules
            .clinic_visit_practitioner
            .map(|p| (!p.eq_ignore_ascii_case("none")).then_some(p)),
        notify_email: (!rules.notify_email.is_empty()).then(|| {
            rules
                .notify_email
                .into_iter()
                .filter(|a| !a.eq_ignore_ascii_case("none"))
                .collect()
        }),
        reminder_hours: rules.reminder_hours,
        daily_agenda_local_time: rules.daily_agenda.map(unless_none),
        confirm_hold_minutes: rules.confirm_hold_minutes,
        mail_display_name: rules.mail_display_name.map(unless_none),
        reply_to: rules.reply_to.map(unless_none),
        ..Default::default()
    }
}

/// A flag's value, or `None` for "none" (which clears an optional setting).
fn unless_none(value: String) -> Option<String> {
    (!value.eq_ignore_ascii_case("none")).then_some(value)
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: ClinicCommand) -> Result<(), CliError> {
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
            show(args, &created, print_clinic);
        }
        ClinicCommand::List => {
            let list: ClinicList = client.get(&["clinics"]).await?;
            show(args, &list, |l| print_clinics(&l.clinics));
        }
        ClinicCommand::Show { clinic } => {
            let view: ClinicView = client.get(&["clinics", &clinic]).await?;
            show(args, &view, print_clinic);
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
            show(args, &view, print_clinic);
        }
        ClinicCommand::SetPms(set) => {
            let body = set_pms_body(&set)?;
            let view: ClinicView = client
                .call(Method::PUT, &["clinics", &set.clinic, "pms"], &body)
                .await?;
            show(args, &view, print_clinic);
        }
        ClinicCommand::Validate { clinic } => {
            let validation: Validation = client.post(&["clinics", &clinic, "pms", "validate"], &()).await?;
            show(args, &validation, print_validation);
        }
        ClinicCommand::Locations { clinic } => {
            let list: LocationList = client.get(&["clinics", &clinic, "pms", "locations"]).await?;
            show(args, &list, |l| print_locations(&l.locations));
        }
        ClinicCommand::Reset { clinic } => {
            let reset: ResetView = client.post(&["clinics", &clinic, "pms", "reset"], &()).await?;
            show(args, &reset, |r| {
                print_validation(&r.validation);
                println!("Re-queued {} appointments for the PMS.", r.requeued);
            });
        }
    }
    Ok(())
}

fn print_clinics(clinics: &[ClinicView]) {
    let rows: Vec<Vec<String>> = clinics
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.timezone.clone(),
                format!("{:?}", c.state),
                c.appointment_duration_minutes.to_string(),
                pms_summary(&c.pms),
                c.id.clone(),
            ]
        })
        .collect();
    table::print(&["NAME", "TIME ZONE", "STATE", "MIN", "PMS", "ID"], &rows);
}

fn pms_summary(pms: &PmsView) -> String {
    match (&pms.connector, pms.enabled) {
        (None, _) => "none".into(),
        (Some(connector), enabled) => format!(
            "{connector}{}{}",
            if enabled { "" } else { " (off)" },
            if pms.validated {
                ", validated"
            } else {
                ", not validated"
            }
        ),
    }
}

fn print_clinic(clinic: &ClinicView) {
    say(format!("{} ({})", clinic.name, clinic.id));
    say(format!(
        "  time zone {}, {:?}; appointments {} min by default",
        clinic.timezone, clinic.state, clinic.appointment_duration_minutes
    ));
    let pms = &clinic.pms;
    say(format!(
        "  PMS: {}; send via {}; sync {}",
        or_dash(pms.connector.as_ref()),
        or_dash(pms.send_via.map(|v| format!("{v:?}"))),
        if pms.enabled { "on" } else { "off" }
    ));
    say(format!(
        "  site ID {}{}; {}",
        or_dash(pms.site_id.as_ref()),
        if pms.pairing_code_set {
            " (pairing code set)"
        } else {
            ""
        },
        if pms.validated {
            "validated"
        } else {
            "not validated yet"
        }
    ));
    say(format!(
        "  practice location {}",
        match (&pms.location_id, &pms.location_name) {
            (Some(id), Some(name)) => format!("{id} ({name})"),
            (Some(id), None) => id.to_string(),
            _ => "not chosen".into(),
        }
    ));
    for (name, value) in &pms.settings {
        say(format!("  setting {name} = {value}"));
    }
    if !pms.secrets_set.is_empty() {
        say(format!("  secrets set (never shown): {}", pms.secrets_set.join(", ")));
    }
    let rules = &clinic.booking;
    say(format!(
        "  rep booking: {} h lead, {} days ahead, {} open per rep{}; reps cancel up to {} h and swap up to {} h before ({} a day)",
        rules.booking_lead_hours,
        rules.booking_horizon_days,
        rules.max_open_bookings_per_rep,
        rules
            .company_visit_interval_weeks
            .map(|w| format!(", one visit per company per doctor every {w} weeks"))
            .unwrap_or_default(),
        rules.cancel_cutoff_hours,
        rules.swap_cutoff_hours,
        rules.swaps_per_day
    ));
    say(format!(
        "  requests wait {} h for approval; {} bookings per link per day{}",
        rules.request_expiry_hours,
        rules.link_daily_cap,
        rules
            .clinic_visit_practitioner_id
            .as_ref()
            .map(|p| format!("; whole-clinic visits go to {p}'s PMS book"))
            .unwrap_or_default()
    ));
    if !rules.visiting_instructions.is_empty() {
        say(format!("  visiting instructions: {}", rules.visiting_instructions));
    }
}

fn print_validation(validation: &Validation) {
    let site = &validation.site;
    say(format!(
        "Site is valid: {} ({}{})",
        site.practice_name,
        site.availability,
        site.version
            .as_ref()
            .map(|v| format!(", version {v}"))
            .unwrap_or_default()
    ));
    if let Some(warning) = &validation.warning {
        say(format!("Warning: {warning}"));
    }
    print_locations(&validation.locations);
    if !validation.locations.is_empty() {
        say("Next: choose the practice location with `repbook clinic set-pms CLINIC --location-id ID`.");
    }
}

fn print_locations(locations: &[crate::plugins::contract::Location]) {
    let rows: Vec<Vec<String>> = locations
        .iter()
        .map(|l| vec![l.id.to_string(), l.name.clone()])
        .collect();
    table::print(&["LOCATION", "NAME"], &rows);
}
