//! `repbook category add|list|remove`: visitor categories, which decide which reps see which times.

use std::path::Path;

use clap::Subcommand;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{local, show};
use super::table;
use crate::api::times::CategoryList;
use crate::domain::{NewCategory, VisitorCategory};

#[derive(Debug, Subcommand)]
pub enum CategoryCommand {
    /// Add a visitor category, e.g. "Specialist Services".
    Add {
        #[arg(long)]
        clinic: String,
        #[arg(long)]
        name: String,
    },
    /// The clinic's visitor categories.
    List {
        #[arg(long)]
        clinic: String,
    },
    /// Remove a category no time or live link uses.
    Remove {
        #[arg(long)]
        clinic: String,
        /// Name or id.
        category: String,
    },
}

/// Category names or ids as the API's ids, so people can write `--category "Specialist Services"`.
pub(super) async fn category_ids(client: &Client, clinic: &str, given: &[String]) -> Result<Vec<String>, CliError> {
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

pub async fn run(data_dir: &Path, args: &ClientArgs, command: CategoryCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        CategoryCommand::Add { clinic, name } => {
            let added: VisitorCategory = client
                .post(&["clinics", &clinic, "categories"], &NewCategory { name })
                .await?;
            show(args, &added, |c| print_categories(std::slice::from_ref(c)));
        }
        CategoryCommand::List { clinic } => {
            let list: CategoryList = client.get(&["clinics", &clinic, "categories"]).await?;
            show(args, &list, |l| print_categories(&l.categories));
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

fn print_categories(categories: &[VisitorCategory]) {
    let rows: Vec<Vec<String>> = categories.iter().map(|c| vec![c.name.clone(), c.id.clone()]).collect();
    table::print(&["CATEGORY", "ID"], &rows);
}
