//! `repbook link create|list|renew|revoke`: booking links for reps (capability URLs, shown once: repbook
//! keeps only their digest).

use std::path::Path;

use clap::Subcommand;

use super::ClientArgs;
use super::category::category_ids;
use super::client::{CliError, Client};
use super::output::show;
use super::table;
use crate::api::links::{LinkList, LinkView};
use crate::domain::NewBookingLink;

#[derive(Debug, Subcommand)]
pub enum LinkCommand {
    /// Create a booking link to give reps; it sees the times of its categories (none = times for every rep).
    Create {
        #[arg(long)]
        clinic: String,
        /// Who the link is for, e.g. "Acme territory".
        #[arg(long)]
        label: String,
        /// Visitor category (name or id); repeatable.
        #[arg(long = "category")]
        categories: Vec<String>,
    },
    /// The clinic's links, live first.
    List {
        #[arg(long)]
        clinic: String,
    },
    /// A new URL for a link whose URL was lost or leaked: the old one stops working, bookings stay.
    Renew {
        #[arg(long)]
        clinic: String,
        id: String,
    },
    /// Revoke a link: it stops working at once; bookings made through it stay.
    Revoke {
        #[arg(long)]
        clinic: String,
        id: String,
    },
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: LinkCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    let absolute = |mut view: LinkView| {
        view.url = view.url.map(|url| client.absolute(&url));
        view
    };
    let shown_once = |l: &LinkView| {
        print_links(std::slice::from_ref(l));
        if let Some(url) = &l.url {
            println!("Give reps this URL: {}", table::printable(url));
            println!(
                "It is shown only now (repbook keeps a fingerprint of it); lost, `repbook link renew` makes a new one."
            );
        }
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
            show(args, &absolute(created), shown_once);
        }
        LinkCommand::Renew { clinic, id } => {
            let renewed: LinkView = client
                .post(&["clinics", &clinic, "links", &id, "renew"], &serde_json::json!({}))
                .await?;
            show(args, &absolute(renewed), shown_once);
        }
        LinkCommand::List { clinic } => {
            let mut list: LinkList = client.get(&["clinics", &clinic, "links"]).await?;
            list.links = list.links.into_iter().map(absolute).collect();
            show(args, &list, |l| print_links(&l.links));
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

fn print_links(links: &[LinkView]) {
    let rows: Vec<Vec<String>> = links
        .iter()
        .map(|l| {
            vec![
                l.label.clone(),
                if l.categories.is_empty() {
                    "every rep".into()
                } else {
                    l.categories.join(", ")
                },
                match (&l.url, l.revoked) {
                    (_, true) => "revoked".into(),
                    (Some(url), false) => url.clone(),
                    (None, false) => "live (shown when made)".into(),
                },
                l.id.clone(),
            ]
        })
        .collect();
    table::print(&["LABEL", "CATEGORIES", "URL", "ID"], &rows);
}
