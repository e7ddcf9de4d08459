//! `repbook closed add|list|remove`: dates the clinic takes no rep visits.

use std::path::Path;

use clap::Subcommand;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::show;
use super::table;
use crate::api::times::ClosedList;
use crate::domain::{ClosedDate, NewClosedDate};

#[derive(Debug, Subcommand)]
pub enum ClosedCommand {
    /// Close a date to rep visits.
    Add {
        #[arg(long)]
        clinic: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        date: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// The clinic's closed dates.
    List {
        #[arg(long)]
        clinic: String,
    },
    /// Open a closed date again.
    Remove {
        #[arg(long)]
        clinic: String,
        date: String,
    },
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: ClosedCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        ClosedCommand::Add { clinic, date, reason } => {
            let added: ClosedDate = client
                .post(&["clinics", &clinic, "closed"], &NewClosedDate { date, reason })
                .await?;
            show(args, &added, |c| print_closed(std::slice::from_ref(c)));
        }
        ClosedCommand::List { clinic } => {
            let list: ClosedList = client.get(&["clinics", &clinic, "closed"]).await?;
            show(args, &list, |l| print_closed(&l.closed));
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

fn print_closed(closed: &[ClosedDate]) {
    let rows: Vec<Vec<String>> = closed
        .iter()
        .map(|c| vec![c.date.to_string(), c.reason.clone()])
        .collect();
    table::print(&["DATE", "REASON"], &rows);
}
