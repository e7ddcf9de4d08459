//! `repbook sync status|run|reconcile|retry-parked`: where a clinic's appointments stand with its PMS, and
//! the actions that send them again.

use std::path::Path;

use clap::Subcommand;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{or_dash, say, show};
use crate::api::model::*;
use crate::sync::{ReconcileReport, SyncStatus};

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Pending, in flight, parked (with reasons), site health, next retry.
    Status {
        #[arg(long)]
        clinic: String,
    },
    /// Queue every future appointment of the clinic for the PMS.
    Run {
        #[arg(long)]
        clinic: String,
    },
    /// Compare the PMS with repbook and repair the PMS (repbook is the source of truth).
    Reconcile {
        #[arg(long)]
        clinic: String,
    },
    /// Queue again every appointment parked as needing attention.
    RetryParked {
        #[arg(long)]
        clinic: String,
    },
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: SyncCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    let queued = |q: &Queued| println!("Queued {} appointments for the PMS.", q.queued);
    match command {
        SyncCommand::Status { clinic } => {
            let status: SyncStatus = client.get(&["clinics", &clinic, "sync"]).await?;
            show(args, &status, print_sync_status);
        }
        SyncCommand::Run { clinic } => {
            let answer: Queued = client.post(&["clinics", &clinic, "sync"], &()).await?;
            show(args, &answer, queued);
        }
        SyncCommand::Reconcile { clinic } => {
            let report: ReconcileReport = client.post(&["clinics", &clinic, "sync", "reconcile"], &()).await?;
            show(args, &report, print_reconcile);
        }
        SyncCommand::RetryParked { clinic } => {
            let answer: Queued = client.post(&["clinics", &clinic, "sync", "retry-parked"], &()).await?;
            show(args, &answer, queued);
        }
    }
    Ok(())
}

fn print_sync_status(status: &SyncStatus) {
    say(format!(
        "{}: PMS sync {}, connector {}{}",
        status.clinic_name,
        if status.pms_enabled { "on" } else { "off" },
        or_dash(status.connector.as_ref()),
        if status.connector_installed {
            ""
        } else {
            " (NOT INSTALLED)"
        }
    ));
    let site = &status.site;
    let mut state = if site.paused {
        format!(
            "offline: deliveries wait; next health probe in {}",
            seconds(site.next_probe_in_ms)
        )
    } else {
        "reachable".to_string()
    };
    if let Some(ms) = site.held_for_ms {
        state.push_str(&format!("; rate limited by the PMS for {}", seconds(Some(ms))));
    }
    say(format!("Site: {state}"));
    if let Some(last) = &site.last_success {
        say(format!("  last success {last}"));
    }
    if let Some(error) = &site.last_error {
        say(format!("  last error: {error}"));
    }
    let c = &status.appointments;
    say(format!(
        "Appointments: {} synced, {} pending, {} need attention, {} without a PMS",
        c.synced, c.pending, c.needs_attention, c.not_applicable
    ));
    say(format!(
        "Queue: {} outbox entries, {} in flight{}",
        status.outbox,
        status.in_flight,
        status
            .next_retry_in_ms
            .map(|ms| format!(", next retry in {}", seconds(Some(ms))))
            .unwrap_or_default()
    ));
    if !status.parked.is_empty() {
        say("Need attention (fix the cause, then `repbook sync retry-parked` or Resend):");
        for item in &status.parked {
            say(format!(
                "  {}  {}  {}  [{}]",
                item.start, item.practitioner, item.rep, item.id
            ));
            say(format!("      {}", or_dash(item.reason.as_ref())));
        }
    }
}

fn seconds(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => format!("{:.1} s", ms as f64 / 1000.0),
        None => "-".into(),
    }
}

fn print_reconcile(report: &ReconcileReport) {
    say(format!(
        "Checked {} appointments in repbook against {} in the PMS; {} repairs.",
        report.checked_in_repbook, report.found_in_pms, report.repairs
    ));
    for (label, ids) in [
        ("missing in the PMS (re-sent)", &report.missing),
        ("at another time or length in the PMS (moved back)", &report.misplaced),
        (
            "cancelled in repbook, live in the PMS (cancelled there)",
            &report.should_be_cancelled,
        ),
        ("in the PMS more than once (extras cancelled)", &report.duplicated),
        ("unknown to repbook (cancelled in the PMS)", &report.unknown),
    ] {
        if !ids.is_empty() {
            say(format!("  {label}: {}", ids.join(", ")));
        }
    }
}
