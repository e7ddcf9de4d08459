//! `repbook staff add|list|sync|map`: medical staff and their match to PMS users.

use std::path::Path;

use clap::Subcommand;
use reqwest::Method;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{or_dash, say, show};
use super::table;
use crate::api::model::*;
use crate::domain::{NewPractitioner, PmsLinkState, Practitioner};

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a practitioner.
    Add {
        #[arg(long)]
        clinic: String,
        #[arg(long, default_value = "Dr")]
        title: String,
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        last_name: String,
        /// AHPRA registration number, e.g. MED0001234567.
        #[arg(long)]
        ahpra: String,
    },
    /// List a clinic's practitioners and their PMS match.
    List {
        #[arg(long)]
        clinic: String,
    },
    /// Match staff to PMS users by AHPRA number.
    Sync {
        #[arg(long)]
        clinic: String,
    },
    /// Map a practitioner to a PMS user by hand (or --clear the mapping).
    Map {
        #[arg(long)]
        clinic: String,
        staff: String,
        #[arg(required_unless_present = "clear")]
        user_id: Option<i64>,
        #[arg(long)]
        clear: bool,
    },
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: StaffCommand) -> Result<(), CliError> {
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
            show(args, &added, |p| print_staff(std::slice::from_ref(p)));
        }
        StaffCommand::List { clinic } => {
            let list: StaffList = client.get(&["clinics", &clinic, "staff"]).await?;
            show(args, &list, |l| print_staff(&l.staff));
        }
        StaffCommand::Sync { clinic } => {
            let synced: StaffSyncView = client.post(&["clinics", &clinic, "staff", "sync"], &()).await?;
            show(args, &synced, print_staff_sync);
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
            show(args, &mapped, |p| print_staff(std::slice::from_ref(p)));
        }
    }
    Ok(())
}

fn print_staff(staff: &[Practitioner]) {
    let rows: Vec<Vec<String>> = staff
        .iter()
        .map(|p| {
            vec![
                p.display_name(),
                p.ahpra.to_string(),
                link_state(p.pms.state).into(),
                or_dash(p.pms.user_id),
                p.id.clone(),
            ]
        })
        .collect();
    table::print(&["NAME", "AHPRA", "PMS", "PMS USER", "ID"], &rows);
}

fn link_state(state: PmsLinkState) -> &'static str {
    match state {
        PmsLinkState::Unsynced => "not synced yet",
        PmsLinkState::Synced => "synced",
        PmsLinkState::NotInPms => "not in the PMS",
        PmsLinkState::AhpraMismatch => "AHPRA mismatch",
        PmsLinkState::NeedsMapping => "map by hand",
    }
}

fn print_staff_sync(view: &StaffSyncView) {
    let s = &view.summary;
    say(format!(
        "{} synced, {} AHPRA mismatch, {} not in the PMS, {} to map by hand",
        s.synced, s.ahpra_mismatch, s.not_in_pms, s.needs_mapping
    ));
    for p in &view.staff {
        match (p.pms.state, &p.pms.reason) {
            (PmsLinkState::Synced, _) => say(format!(
                "  synced   {} ({}) -> PMS user {}",
                p.display_name(),
                p.ahpra,
                or_dash(p.pms.user_id)
            )),
            (state, reason) => {
                say(format!("  {:<8} {} ({})", "ACTION", p.display_name(), p.ahpra));
                say(format!(
                    "           {}: {}",
                    link_state(state),
                    or_dash(reason.as_ref())
                ));
            }
        }
    }
}
