//! `repbook waitlist list|remove|policy`: the reps waiting at a clinic and the offers made, removing one,
//! and how freed times are offered (in turn, held for `--hold-minutes`, or to all at once).

use std::path::Path;

use clap::{Subcommand, ValueEnum};
use reqwest::Method;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{say, show};
use super::table;
use crate::api::waitlist::WaitlistList;
use crate::domain::{ClinicUpdate, EntryView, OfferPolicy};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Policy {
    /// The longest-waiting matching rep gets the time held for them; unclaimed, it passes to the next.
    InTurn,
    /// Every matching rep hears at once; the first to claim it has it.
    #[value(alias = "to-all")]
    All,
}

#[derive(Debug, Subcommand)]
pub enum WaitlistCommand {
    /// Who waits for what, and the offers made.
    List {
        #[arg(long)]
        clinic: String,
    },
    /// Take a rep off the waitlist (a time held for them is let go).
    Remove {
        #[arg(long)]
        clinic: String,
        entry: String,
    },
    /// How freed times are offered.
    Policy {
        #[arg(long)]
        clinic: String,
        #[arg(long, value_enum)]
        policy: Option<Policy>,
        /// In turn: minutes a time is held for each rep (5 to 10080).
        #[arg(long)]
        hold_minutes: Option<u32>,
    },
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: WaitlistCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        WaitlistCommand::List { clinic } => {
            let list: WaitlistList = client.get(&["clinics", &clinic, "waitlist"]).await?;
            show(args, &list, print_list);
        }
        WaitlistCommand::Remove { clinic, entry } => {
            let removed: EntryView = client
                .call(Method::DELETE, &["clinics", &clinic, "waitlist", &entry], &())
                .await?;
            show(args, &removed, |e| {
                say(format!("{} ({}) is off the waitlist.", e.rep.name, e.rep.company))
            });
        }
        WaitlistCommand::Policy {
            clinic,
            policy,
            hold_minutes,
        } => {
            let body = ClinicUpdate {
                waitlist_policy: policy.map(|p| match p {
                    Policy::InTurn => OfferPolicy::InTurn,
                    Policy::All => OfferPolicy::ToAll,
                }),
                offer_hold_minutes: hold_minutes,
                ..Default::default()
            };
            let updated: serde_json::Value = client.call(Method::PATCH, &["clinics", &clinic], &body).await?;
            show(args, &updated, |c| {
                say(match c["waitlist_policy"].as_str() {
                    Some("all") => {
                        "Freed times go to every matching rep at once; the first to claim has it.".to_string()
                    }
                    _ => format!(
                        "Freed times are held for the longest-waiting matching rep for {} minutes, then pass to the next.",
                        c["offer_hold_minutes"]
                    ),
                })
            });
        }
    }
    Ok(())
}

fn print_list(list: &WaitlistList) {
    let rows: Vec<Vec<String>> = list
        .entries
        .iter()
        .map(|e| {
            vec![
                format!("{} ({}) <{}>", e.rep.name, e.rep.company, e.rep.email),
                e.with.clone(),
                e.days.clone(),
                e.until.clone(),
                format!("{:?}", e.status).to_lowercase(),
                e.id.clone(),
            ]
        })
        .collect();
    table::print(&["REP", "WITH", "DAYS", "UNTIL", "STATE", "ID"], &rows);
    if !list.offers.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = list
            .offers
            .iter()
            .map(|o| {
                vec![
                    o.local_start.replace('T', " "),
                    o.with.clone(),
                    format!("{:?}", o.state).to_lowercase(),
                    o.expires_at.clone().unwrap_or_else(|| "-".into()),
                    o.entry_id.clone(),
                ]
            })
            .collect();
        table::print(&["OFFERED TIME", "WITH", "STATE", "HELD UNTIL", "ENTRY"], &rows);
    }
}
