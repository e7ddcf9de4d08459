//! `repbook audit`: the audit trail (who did what, when, from where), newest first; and `repbook rep
//! forget EMAIL`: a rep's details leave every visit and the trail, on their request.

use std::path::Path;

use clap::Subcommand;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::show;
use super::table;
use crate::api::audit::{AuditList, ForgetRep, Forgotten};

#[derive(Debug, serde::Serialize)]
struct Query<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    clinic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
    limit: usize,
}

/// Prints the newest `limit` entries, of one clinic or all.
pub async fn list(
    data_dir: &Path,
    args: &ClientArgs,
    clinic: Option<String>,
    action: Option<String>,
    limit: usize,
) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    let query = Query {
        clinic: clinic.as_deref(),
        action: action.as_deref(),
        limit,
    };
    let page: AuditList = client.get_query(&["audit"], &query).await?;
    show(args, &page, |page| {
        let rows: Vec<Vec<String>> = page
            .entries
            .iter()
            .map(|e| {
                vec![
                    e.at.to_string(),
                    match e.role {
                        Some(role) => format!("{} (as {})", e.actor.name, role.words()),
                        None => e.actor.name.clone(),
                    },
                    e.client.clone().unwrap_or_default(),
                    e.action.clone(),
                    e.outcome.clone(),
                    e.detail.clone(),
                ]
            })
            .collect();
        table::print(&["WHEN (UTC)", "WHO", "FROM", "WHAT", "OUTCOME", "DETAIL"], &rows);
    });
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum RepCommand {
    /// Remove a rep's name, address and phone from all their visits (the visits, times and doctors stay)
    /// and from the audit trail, on their request.
    Forget { email: String },
}

pub async fn rep(data_dir: &Path, args: &ClientArgs, command: RepCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        RepCommand::Forget { email } => {
            let done: Forgotten = client.post(&["reps", "forget"], &ForgetRep { email }).await?;
            show(args, &done, |d| {
                println!(
                    "Removed the rep's details from {} visit(s), {} audit entr{}, {} waitlist place(s) and {} webhook delivery body(ies).",
                    d.visits,
                    d.audit_entries,
                    if d.audit_entries == 1 { "y" } else { "ies" },
                    d.waitlist_entries,
                    d.webhook_deliveries
                )
            });
        }
    }
    Ok(())
}
