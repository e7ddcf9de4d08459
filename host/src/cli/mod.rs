//! The command line. `serve` runs the server and `demo` the whole flow locally; every other command is a
//! client of a running server over HTTP, finding it (address and token) through the data dir unless told
//! otherwise, and printing a summary for people (`--json` prints the API's answer for scripts).
//!
//! One file per command (atuin's and cargo's shape): its arguments, what it sends and how it prints the
//! answer are read together. This file holds the top-level parser and the dispatch only.

mod appt;
mod audit;
mod backup;
mod category;
mod client;
mod clinic;
mod closed;
pub mod config;
#[cfg(feature = "demo")]
mod demo;
mod doctor;
mod link;
mod mail;
mod output;
mod plugin;
pub(crate) mod secret_input;
mod serve;
mod sso;
mod staff;
mod sync;
mod table;
mod times;
mod user;
mod waitlist;
mod webhook;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

pub use client::{CliError, Client};
pub use serve::{LogFormat, ServeArgs};

/// What `repbook --version` prints: the build and every connector contract it loads.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nloads connector components of repbook:pms@0.1.0 and repbook:pms@0.2.0"
);

#[derive(Debug, Parser)]
#[command(
    name = "repbook",
    version,
    long_version = LONG_VERSION,
    about = "Rep-visit bookings for GP clinics, delivered to the clinic's PMS"
)]
pub struct Cli {
    /// Where the server keeps its data, token and address file.
    #[arg(long, global = true, env = "REPBOOK_DATA_DIR", default_value = "repbook-data")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (HTTP API and PMS sync) on the data dir.
    Serve(serve::ServeArgs),
    /// Run the whole flow locally: Halo + Bp simulator, the halo-bp connector, a demo clinic, the server.
    #[cfg(feature = "demo")]
    Demo(demo::DemoArgs),
    /// Clinics and their PMS settings.
    Clinic {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: clinic::ClinicCommand,
    },
    /// Medical staff.
    Staff {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: staff::StaffCommand,
    },
    /// Rep appointments.
    Appt {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: appt::ApptCommand,
    },
    /// PMS sync status and actions.
    Sync {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: sync::SyncCommand,
    },
    /// Weekly rep-visit times the clinic publishes.
    Times {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: times::TimesCommand,
    },
    /// Dates the clinic takes no rep visits (public holidays, closures).
    Closed {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: closed::ClosedCommand,
    },
    /// Visitor categories: which reps may see which times.
    Category {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: category::CategoryCommand,
    },
    /// Booking links for reps (capability URLs).
    Link {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: link::LinkCommand,
    },
    /// Check clinics the way the seed troubleshoots: connector, site, online, location, staff, parked, clock,
    /// disk. Exits 0 only when everything holds.
    Doctor {
        #[command(flatten)]
        client: ClientArgs,
        /// One clinic (default: every clinic).
        #[arg(long)]
        clinic: Option<String>,
    },
    /// Write a consistent backup of the running server's store to FILE (made private, 0600).
    Backup {
        #[command(flatten)]
        client: ClientArgs,
        file: PathBuf,
    },
    /// Replace the data dir's store with a backup; the server must be stopped. The store it replaces is
    /// kept beside it as store.replaced-<time>.
    Restore { file: PathBuf },
    /// The server's settings: `repbook.toml` in the data dir, REPBOOK_* variables and flags.
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
    /// The audit trail: who did what, when and from where, newest first.
    Audit {
        #[command(flatten)]
        client: ClientArgs,
        /// One clinic's entries.
        #[arg(long)]
        clinic: Option<String>,
        /// Only this action, e.g. "booking refused".
        #[arg(long)]
        action: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Reps' personal information: forget a rep on request.
    Rep {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: audit::RepCommand,
    },
    /// Mail: how the server sends it, a test message, a clinic's messages, retrying a parked one.
    Mail {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: mail::MailCommand,
    },
    /// The waitlist: who waits for a freed time, the offers made, removing a rep, the offer policy.
    Waitlist {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: waitlist::WaitlistCommand,
    },
    /// Single sign-on: the host's OpenID Providers (Microsoft 365, Google...) and whether passwords sign in.
    Sso {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: sso::SsoCommand,
    },
    /// Webhooks: a clinic's endpoints, their signing secrets, a test event, the deliveries and retrying one.
    Webhook {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: webhook::WebhookCommand,
    },
    /// The clinic's people: invitations, roles, disabling, resetting second factors.
    User {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Personal API tokens for scripts: each acts at one clinic with a role no larger than its maker's.
    Token {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: user::TokenCommand,
    },
    /// PMS connector plugins (WebAssembly components).
    Plugin {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: plugin::PluginCommand,
    },
}

/// How a client command reaches the server and prints its answer.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Base URL of a running server (default: the address recorded in the data dir, else 127.0.0.1:7878).
    #[arg(long, global = true, env = "REPBOOK_URL")]
    pub server: Option<String>,
    /// API token: the host token (default: the data dir's token file) or a personal token from My account.
    #[arg(long, global = true, env = "REPBOOK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the API's JSON answer instead of a summary, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A parsed command line, with what `config show` needs to say where each value came from.
pub struct Parsed {
    pub cli: Cli,
    matches: ArgMatches,
    command: clap::Command,
    file_keys: Vec<String>,
}

/// Parses the command line with `repbook.toml`'s values as defaults (for `serve` and `config show`); a bad
/// file ends the process with its error, like a bad flag.
pub fn parse() -> Parsed {
    let base = Cli::command();
    let first = base.clone().ignore_errors(true).get_matches();
    let data_dir = first
        .get_one::<PathBuf>("data_dir")
        .cloned()
        .unwrap_or_else(|| PathBuf::from("repbook-data"));
    let pairs = match first.subcommand_name() {
        Some("serve") | Some("config") => config::read(&data_dir, &base).unwrap_or_else(|error| {
            eprintln!("error: {error}");
            std::process::exit(2);
        }),
        _ => Vec::new(),
    };
    let command = config::apply(base, &pairs);
    let matches = command.clone().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    Parsed {
        cli,
        matches,
        command,
        file_keys: pairs.into_iter().map(|(k, _)| k).collect(),
    }
}

/// Runs the parsed command line; the exit code says how it went (0 ok, 1 refused by the server,
/// 3 server unreachable or local failure).
pub async fn run(parsed: Parsed) -> ExitCode {
    let Parsed {
        cli,
        matches,
        command: parser,
        file_keys,
    } = parsed;
    let data_dir = cli.data_dir;
    let result = match cli.command {
        Command::Serve(args) => serve::run(data_dir, args).await.map_err(CliError::Local),
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(data_dir, args).await.map_err(CliError::Local),
        Command::Config {
            command: config::ConfigCommand::Show { json, .. },
        } => config::show(&parser, &matches, &file_keys, &data_dir, json),
        Command::Backup { client, file } => backup::backup(&data_dir, &client, &file).await,
        Command::Restore { file } => backup::restore(&data_dir, &file),
        Command::Doctor { client, clinic } => match doctor::run(&data_dir, &client, clinic).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(error) => Err(error),
        },
        Command::Clinic { client, command } => clinic::run(&data_dir, &client, command).await,
        Command::Staff { client, command } => staff::run(&data_dir, &client, command).await,
        Command::Appt { client, command } => appt::run(&data_dir, &client, command).await,
        Command::Sync { client, command } => sync::run(&data_dir, &client, command).await,
        Command::Times { client, command } => times::run(&data_dir, &client, command).await,
        Command::Closed { client, command } => closed::run(&data_dir, &client, command).await,
        Command::Category { client, command } => category::run(&data_dir, &client, command).await,
        Command::Link { client, command } => link::run(&data_dir, &client, command).await,
        Command::Plugin { client, command } => plugin::run(&data_dir, &client, command).await,
        Command::Mail { client, command } => mail::run(&data_dir, &client, command).await,
        Command::Waitlist { client, command } => waitlist::run(&data_dir, &client, command).await,
        Command::Webhook { client, command } => webhook::run(&data_dir, &client, command).await,
        Command::Sso { client, command } => sso::run(&data_dir, &client, command).await,
        Command::Audit {
            client,
            clinic,
            action,
            limit,
        } => audit::list(&data_dir, &client, clinic, action, limit).await,
        Command::Rep { client, command } => audit::rep(&data_dir, &client, command).await,
        Command::User { client, command } => user::run(&data_dir, &client, command).await,
        Command::Token { client, command } => user::token(&data_dir, &client, command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", table::printable(&error.to_string()));
            error.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_version_names_every_loadable_contract() {
        for version in crate::plugins::WitVersion::ALL {
            assert!(LONG_VERSION.contains(&version.package()), "{version}");
        }
    }
}
