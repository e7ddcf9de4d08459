//! `repbook plugin list|install|activate|rollback|remove`: PMS connector components.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{local, say, show};
use super::table;
use crate::api::model::*;
use crate::plugins::PluginSummary;

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Installed plugins, their versions and which one is active.
    List,
    /// Install a component (.wasm); the first version of a name becomes active.
    Install { file: PathBuf },
    /// Switch every clinic using NAME to VERSION, without a restart.
    Activate { name: String, version: String },
    /// Go back to the previously active version of NAME.
    Rollback { name: String },
    /// Remove an inactive version.
    Remove { name: String, version: String },
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: PluginCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    let active = |v: &ActiveVersion| println!("{}@{} is active.", v.name, v.active_version);
    match command {
        PluginCommand::List => {
            let list: PluginList = client.get(&["plugins"]).await?;
            show(args, &list, |l| print_plugins(&l.plugins));
        }
        PluginCommand::Install { file } => {
            let bytes = std::fs::read(&file).map_err(|e| local(format!("cannot read {}: {e}", file.display())))?;
            let installed: Installed = client.post_bytes(&["plugins"], bytes).await?;
            show(args, &installed, print_installed);
        }
        PluginCommand::Activate { name, version } => {
            let answer: ActiveVersion = client
                .post(&["plugins", &name, "activate"], &Activation { version })
                .await?;
            show(args, &answer, active);
        }
        PluginCommand::Rollback { name } => {
            let answer: ActiveVersion = client.post(&["plugins", &name, "rollback"], &()).await?;
            show(args, &answer, active);
        }
        PluginCommand::Remove { name, version } => {
            client.delete(&["plugins", &name, "versions", &version]).await?;
            let removed = serde_json::json!({"removed": format!("{name}@{version}")});
            show(args, &removed, |_| println!("Removed {name}@{version}."));
        }
    }
    Ok(())
}

fn print_plugins(plugins: &[PluginSummary]) {
    let mut rows = Vec::new();
    for plugin in plugins {
        for version in &plugin.versions {
            rows.push(vec![
                plugin.name.clone(),
                version.version.clone(),
                if version.active { "*".into() } else { String::new() },
                version.wit_version.clone(),
                version.sha256.chars().take(12).collect(),
                if version.active {
                    plugin.allowed_hosts.join(",")
                } else {
                    String::new()
                },
            ]);
        }
    }
    table::print(&["NAME", "VERSION", "ACTIVE", "WIT", "SHA256", "ALLOWED HOSTS"], &rows);
}

fn print_installed(outcome: &Installed) {
    say(format!(
        "{}@{} {}{}",
        outcome.name,
        outcome.version,
        if outcome.already_installed {
            "was already installed"
        } else {
            "installed"
        },
        if outcome.activated {
            " and active"
        } else {
            "; activate it with `repbook plugin activate`"
        }
    ));
}
