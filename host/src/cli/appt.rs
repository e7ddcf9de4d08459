//! `repbook appt book|list|show|move|cancel|resend|approve|decline`: rep appointments and the approval queue.

use std::path::Path;

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{say, show};
use super::table;
use crate::api::model::*;
use crate::domain::{AppointmentStatus, MoveRequest, NewAppointment, PmsSyncState, Rep};
use crate::sync::Delivered;

#[derive(Debug, Subcommand)]
pub enum ApptCommand {
    /// Book a rep visit.
    Book {
        #[arg(long)]
        clinic: String,
        #[arg(long)]
        practitioner: String,
        #[arg(long)]
        rep_name: String,
        #[arg(long)]
        rep_company: String,
        #[arg(long, default_value = "")]
        rep_email: String,
        #[arg(long)]
        rep_phone: Option<String>,
        /// Clinic-local start, YYYY-MM-DDTHH:MM (add +HH:MM only when a DST change makes it ambiguous).
        #[arg(long)]
        start: String,
        /// Minutes (default: the clinic's default).
        #[arg(long)]
        duration: Option<u32>,
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// List a clinic's appointments.
    List {
        #[arg(long)]
        clinic: String,
        /// First clinic-local date, YYYY-MM-DD (default: from now on).
        #[arg(long)]
        from: Option<String>,
        /// Last clinic-local date, YYYY-MM-DD.
        #[arg(long)]
        to: Option<String>,
        /// booked, requested (the approval queue), cancelled, declined or expired.
        #[arg(long, value_parser = ["booked", "requested", "cancelled", "declined", "expired"])]
        status: Option<String>,
    },
    /// Show one appointment with its PMS state.
    Show { id: String },
    /// Move to a new start and/or length.
    Move {
        id: String,
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        duration: Option<u32>,
    },
    /// Cancel (the PMS follows).
    Cancel { id: String },
    /// Send one future appointment to the PMS again.
    Resend { id: String },
    /// Approve a requested visit: it is booked and goes to the PMS.
    Approve { id: String },
    /// Decline a requested visit: its slot is free again.
    Decline { id: String },
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: ApptCommand) -> Result<(), CliError> {
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
            show(args, &booked, print_appointment);
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
            show(args, &list, |l| print_appointments(&l.appointments));
        }
        ApptCommand::Show { id } => {
            let view: AppointmentView = client.get(&["appointments", &id]).await?;
            show(args, &view, print_appointment);
        }
        ApptCommand::Move { id, start, duration } => {
            let body = MoveRequest {
                start,
                duration_minutes: duration,
            };
            let moved: AppointmentView = client.call(Method::PATCH, &["appointments", &id], &body).await?;
            show(args, &moved, print_appointment);
        }
        ApptCommand::Cancel { id } => {
            let cancelled: AppointmentView = client.post(&["appointments", &id, "cancel"], &()).await?;
            show(args, &cancelled, print_appointment);
        }
        ApptCommand::Approve { id } => {
            let approved: AppointmentView = client.post(&["appointments", &id, "approve"], &()).await?;
            show(args, &approved, print_appointment);
        }
        ApptCommand::Decline { id } => {
            let declined: AppointmentView = client.post(&["appointments", &id, "decline"], &()).await?;
            show(args, &declined, print_appointment);
        }
        ApptCommand::Resend { id } => {
            let resent: ResendView = client.post(&["appointments", &id, "resend"], &()).await?;
            show(args, &resent, print_resend);
        }
    }
    Ok(())
}

fn print_appointments(appointments: &[AppointmentView]) {
    let rows: Vec<Vec<String>> = appointments
        .iter()
        .map(|a| {
            vec![
                a.local_start.replace('T', " "),
                a.duration_minutes.to_string(),
                a.practitioner_name.clone(),
                format!("{} ({})", a.rep.name, a.rep.company),
                status(a.status).into(),
                sync_state(a.pms.state).into(),
                a.id.clone(),
            ]
        })
        .collect();
    table::print(
        &["LOCAL START", "MIN", "PRACTITIONER", "REP", "STATUS", "PMS", "ID"],
        &rows,
    );
}

fn status(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::Booked => "booked",
        AppointmentStatus::Requested => "requested",
        AppointmentStatus::Held => "held",
        AppointmentStatus::Cancelled => "cancelled",
        AppointmentStatus::Declined => "declined",
        AppointmentStatus::Expired => "expired",
    }
}

fn sync_state(state: PmsSyncState) -> &'static str {
    match state {
        PmsSyncState::Pending => "pending",
        PmsSyncState::Synced => "synced",
        PmsSyncState::NeedsAttention => "needs attention",
        PmsSyncState::NotApplicable => "-",
    }
}

fn print_appointment(a: &AppointmentView) {
    say(format!(
        "{} {} for {} min with {} ({})",
        status(a.status),
        a.local_start.replace('T', " "),
        a.duration_minutes,
        a.practitioner_name,
        a.start
    ));
    say(format!(
        "  rep {} of {}{}",
        a.rep.name,
        a.rep.company,
        if a.rep.email.is_empty() {
            String::new()
        } else {
            format!(", {}", a.rep.email)
        }
    ));
    if !a.notes.is_empty() {
        say(format!("  notes: {}", a.notes));
    }
    say(format!(
        "  PMS: {}{}{}",
        sync_state(a.pms.state),
        a.pms
            .pms_id
            .as_ref()
            .map(|id| format!(", PMS id {id}"))
            .unwrap_or_default(),
        a.pms.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
    ));
    say(format!(
        "  id {} (reference {}), version {}",
        a.id, a.reference, a.version
    ));
}

fn print_resend(view: &ResendView) {
    match &view.delivered {
        Some(Delivered::Pushed { outcome }) => say(format!(
            "Sent to the PMS: {:?} (PMS id {}).",
            outcome.action, outcome.pms_id
        )),
        Some(Delivered::Cancelled) => say("Cancelled in the PMS."),
        Some(Delivered::NotSent { reason }) => say(format!("Nothing sent: {reason}.")),
        None => say("The PMS could not take it now; it stays queued and is retried by itself."),
    }
    print_appointment(&view.appointment);
}
