//! `repbook times add|list|remove`: the weekly rep-visit times a clinic publishes.

use std::path::Path;

use clap::Subcommand;

use super::ClientArgs;
use super::category::category_ids;
use super::client::{CliError, Client};
use super::output::{or_dash, show};
use super::table;
use crate::api::times::{TimeList, TimeView};
use crate::domain::NewPublishedTime;

#[derive(Debug, Subcommand)]
pub enum TimesCommand {
    /// Publish a weekly time, cut into slots.
    Add {
        #[arg(long)]
        clinic: String,
        /// mon, tue, wed, thu, fri, sat or sun.
        #[arg(long)]
        weekday: String,
        /// Clinic-local HH:MM.
        #[arg(long)]
        start: String,
        /// Clinic-local HH:MM.
        #[arg(long)]
        end: String,
        /// Slot length (default: the clinic's appointment duration).
        #[arg(long)]
        slot_minutes: Option<u32>,
        /// With one doctor (practitioner id); without it, with the whole clinic.
        #[arg(long)]
        practitioner: Option<String>,
        /// Visitor category (name or id) that may book it; repeatable; none = every rep.
        #[arg(long = "category")]
        categories: Vec<String>,
        /// Bookings wait for staff approval.
        #[arg(long)]
        approval_required: bool,
        /// First date it applies, YYYY-MM-DD.
        #[arg(long)]
        from: Option<String>,
        /// Last date it applies, YYYY-MM-DD.
        #[arg(long)]
        until: Option<String>,
    },
    /// The clinic's published times.
    List {
        #[arg(long)]
        clinic: String,
    },
    /// Stop publishing a time (bookings already made stay).
    Remove {
        #[arg(long)]
        clinic: String,
        id: String,
    },
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: TimesCommand) -> Result<(), CliError> {
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
            show(args, &added, |t| print_times(std::slice::from_ref(t)));
        }
        TimesCommand::List { clinic } => {
            let list: TimeList = client.get(&["clinics", &clinic, "times"]).await?;
            show(args, &list, |l| print_times(&l.times));
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

fn print_times(times: &[TimeView]) {
    let rows: Vec<Vec<String>> = times
        .iter()
        .map(|t| {
            let dates = match (&t.from, &t.until) {
                (None, None) => "every week".to_string(),
                (from, until) => format!("{} to {}", or_dash(from.as_ref()), or_dash(until.as_ref())),
            };
            vec![
                t.weekday.clone(),
                format!("{}-{}", t.start, t.end),
                t.slot_minutes.to_string(),
                t.with.clone(),
                if t.categories.is_empty() {
                    "every rep".into()
                } else {
                    t.categories.join(", ")
                },
                if t.approval_required { "approval" } else { "instant" }.into(),
                dates,
                t.id.clone(),
            ]
        })
        .collect();
    table::print(
        &["DAY", "TIME", "SLOT MIN", "WITH", "VISITORS", "BOOKING", "DATES", "ID"],
        &rows,
    );
}
