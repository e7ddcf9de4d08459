//! The command line. `serve` runs the server and `demo` the whole flow locally; every other command is a
//! client of a running server over HTTP, finding it (address and token) through the data dir unless told
//! otherwise, and printing a summary for people (`--json` prints the API's answer for scripts).

mod client;
mod commands;
mod demo;
mod print;
mod table;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub use client::{CliError, Client};

use crate::server::{DEFAULT_LISTEN, ServerConfig};

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
    Serve(ServeArgs),
    /// Run the whole flow locally: Halo + Bp simulator, the halo-bp connector, a demo clinic, the server.
    Demo(DemoArgs),
    /// Clinics and their PMS settings.
    Clinic {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: ClinicCommand,
    },
    /// Medical staff.
    Staff {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Rep appointments.
    Appt {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: ApptCommand,
    },
    /// PMS sync status and actions.
    Sync {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// PMS connector plugins (WebAssembly components).
    Plugin {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: PluginCommand,
    },
}

/// How a client command reaches the server and prints its answer.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Base URL of a running server (default: the address recorded in the data dir, else 127.0.0.1:7878).
    #[arg(long, global = true, env = "REPBOOK_URL")]
    pub server: Option<String>,
    /// API token (default: the data dir's token file).
    #[arg(long, global = true, env = "REPBOOK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the API's JSON answer instead of a summary, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REPBOOK_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// API token to require (default: the data dir's token file, created on first start).
    #[arg(long, env = "REPBOOK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Seconds a stop (SIGTERM, Ctrl-C) waits for requests and PMS deliveries in flight.
    #[arg(long, env = "REPBOOK_DRAIN_SECS", default_value_t = 10)]
    pub drain_secs: u64,
    /// The store's background flush, ms (0 = none; every write waits for its own flush anyway).
    #[arg(long, env = "REPBOOK_STORE_FLUSH_EVERY_MS", default_value_t = 500)]
    pub store_flush_every_ms: u64,
    #[command(flatten)]
    pub plugins: PluginArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, env = "REPBOOK_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// API token to require (default: the data dir's token file).
    #[arg(long, env = "REPBOOK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The halo-bp component to install (built by `make plugins`).
    #[arg(long)]
    pub component: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PluginArgs {
    /// Let plugins reach loopback addresses (only for a local simulator).
    #[arg(long, env = "REPBOOK_PLUGIN_ALLOW_LOOPBACK")]
    pub plugin_allow_loopback: bool,
    /// Comma-separated hosts plugins may reach (narrows what each plugin declares).
    #[arg(long, env = "REPBOOK_PLUGIN_HOSTS", value_delimiter = ',')]
    pub plugin_hosts: Option<Vec<String>>,
    /// Memory limit per plugin call, MiB.
    #[arg(long, env = "REPBOOK_PLUGIN_MEMORY_MIB", default_value_t = 64)]
    pub plugin_memory_mib: usize,
    /// Guest CPU time per plugin call, milliseconds (time waiting for the PMS does not count).
    #[arg(long, env = "REPBOOK_PLUGIN_TIME_MS", default_value_t = 2000)]
    pub plugin_time_ms: u64,
}

impl PluginArgs {
    pub fn config(&self) -> crate::plugins::PluginConfig {
        crate::plugins::PluginConfig {
            sandbox: crate::plugins::SandboxLimits {
                memory_bytes: self.plugin_memory_mib << 20,
                guest_time: Duration::from_millis(self.plugin_time_ms),
                ..Default::default()
            },
            allow_loopback: self.plugin_allow_loopback,
            allowed_hosts: self.plugin_hosts.clone(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// First retry delay of a failed delivery, ms (doubles per attempt, with full jitter).
    #[arg(long, env = "REPBOOK_SYNC_BACKOFF_BASE_MS", default_value_t = 1000)]
    pub sync_backoff_base_ms: u64,
    /// Longest retry delay, ms.
    #[arg(long, env = "REPBOOK_SYNC_BACKOFF_CAP_MS", default_value_t = 600_000)]
    pub sync_backoff_cap_ms: u64,
    /// Longest wait between health probes of an offline site, ms.
    #[arg(long, env = "REPBOOK_SYNC_PROBE_CAP_MS", default_value_t = 15_000)]
    pub sync_probe_cap_ms: u64,
    /// Deliveries in flight per PMS site.
    #[arg(long, env = "REPBOOK_SYNC_SITE_CONCURRENCY", default_value_t = 4)]
    pub sync_site_concurrency: usize,
    /// Deliveries in flight across all sites.
    #[arg(long, env = "REPBOOK_SYNC_CONCURRENCY", default_value_t = 16)]
    pub sync_concurrency: usize,
    /// Longest the sync worker sleeps when nothing wakes it, ms (commits and retry times wake it).
    #[arg(long, env = "REPBOOK_SYNC_IDLE_WAKE_MS", default_value_t = 1000)]
    pub sync_idle_wake_ms: u64,
    /// Seconds between scheduled reconciliations of each clinic (0 = off).
    #[arg(long, env = "REPBOOK_RECONCILE_EVERY_SECS", default_value_t = 3600)]
    pub reconcile_every_secs: u64,
}

impl SyncArgs {
    pub fn config(&self) -> crate::sync::SyncConfig {
        let defaults = crate::sync::SyncConfig::default();
        crate::sync::SyncConfig {
            retry: crate::sync::RetryPolicy {
                base: Duration::from_millis(self.sync_backoff_base_ms.max(1)),
                cap: Duration::from_millis(self.sync_backoff_cap_ms.max(1)),
            },
            health: crate::sync::HealthPolicy {
                probe_cap: Duration::from_millis(self.sync_probe_cap_ms.max(1)),
                ..defaults.health
            },
            per_site_concurrency: self.sync_site_concurrency.max(1),
            global_concurrency: self.sync_concurrency.max(1),
            idle_wake: Duration::from_millis(self.sync_idle_wake_ms.max(1)),
            reconcile_every: (self.reconcile_every_secs > 0).then(|| Duration::from_secs(self.reconcile_every_secs)),
            ..defaults
        }
    }
}

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

#[derive(Debug, Subcommand)]
pub enum ClinicCommand {
    /// Create a clinic.
    Create {
        #[arg(long)]
        name: String,
        /// IANA zone, e.g. Australia/Sydney.
        #[arg(long)]
        timezone: String,
        /// NSW, VIC, QLD, SA, WA, TAS, NT or ACT.
        #[arg(long)]
        state: String,
        /// Default appointment length in minutes (5 to 240).
        #[arg(long, default_value_t = 15)]
        duration: u32,
    },
    /// List clinics.
    List,
    /// Show one clinic with its PMS settings (secrets are never shown).
    Show { clinic: String },
    /// Change a clinic's name, zone, state or default appointment length.
    Update {
        clinic: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        duration: Option<u32>,
    },
    /// Set the PMS connection (only the options given change).
    SetPms(SetPmsArgs),
    /// Check the Site ID with the PMS and list practice locations.
    Validate { clinic: String },
    /// The practice locations the PMS offers (after a valid Validate).
    Locations { clinic: String },
    /// Forget the PMS site state, re-validate and re-send what is pending.
    Reset { clinic: String },
}

#[derive(Debug, Args)]
pub struct SetPmsArgs {
    pub clinic: String,
    #[arg(long)]
    pub connector: Option<String>,
    /// How appointments travel; today only halo-link.
    #[arg(long)]
    pub send_via: Option<String>,
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    #[arg(long)]
    pub disable: bool,
    #[arg(long)]
    pub site_id: Option<String>,
    #[arg(long)]
    pub pairing_code: Option<String>,
    #[arg(long)]
    pub location_id: Option<i64>,
    /// Connector setting as KEY=VALUE (repeatable); secrets such as subscription_key are write-only.
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
}

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

#[derive(Debug, Subcommand)]
pub enum ApptCommand {
    /// Book a rep visit.
    Book {
        #[arg(long)]
        clinic: String,
        #[arg(long)]
        practitioner: String,
        #[arg(long)]
        rep_name: String,
        #[arg(long)]
        rep_company: String,
        #[arg(long, default_value = "")]
        rep_email: String,
        #[arg(long)]
        rep_phone: Option<String>,
        /// Clinic-local start, YYYY-MM-DDTHH:MM (add +HH:MM only when a DST change makes it ambiguous).
        #[arg(long)]
        start: String,
        /// Minutes (default: the clinic's default).
        #[arg(long)]
        duration: Option<u32>,
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// List a clinic's appointments.
    List {
        #[arg(long)]
        clinic: String,
        /// First clinic-local date, YYYY-MM-DD (default: from now on).
        #[arg(long)]
        from: Option<String>,
        /// Last clinic-local date, YYYY-MM-DD.
        #[arg(long)]
        to: Option<String>,
        /// booked or cancelled.
        #[arg(long, value_parser = ["booked", "cancelled"])]
        status: Option<String>,
    },
    /// Show one appointment with its PMS state.
    Show { id: String },
    /// Move to a new start and/or length.
    Move {
        id: String,
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        duration: Option<u32>,
    },
    /// Cancel (the PMS follows).
    Cancel { id: String },
    /// Send one future appointment to the PMS again.
    Resend { id: String },
}

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

/// Runs the parsed command line; the exit code says how it went (0 ok, 1 refused by the server,
/// 3 server unreachable or local failure).
pub async fn run(cli: Cli) -> ExitCode {
    let data_dir = cli.data_dir;
    let result = match cli.command {
        Command::Serve(args) => crate::server::serve(ServerConfig {
            data_dir,
            listen: args.listen,
            token: args.token,
            plugins: args.plugins.config(),
            sync: args.sync.config(),
            drain: Duration::from_secs(args.drain_secs),
            store: crate::store::StoreOptions {
                background_flush: (args.store_flush_every_ms > 0)
                    .then(|| Duration::from_millis(args.store_flush_every_ms)),
            },
        })
        .await
        .map_err(CliError::Local),
        Command::Demo(args) => demo::run(data_dir, args).await.map_err(CliError::Local),
        Command::Clinic { client, command } => commands::clinic(&data_dir, &client, command).await,
        Command::Staff { client, command } => commands::staff(&data_dir, &client, command).await,
        Command::Appt { client, command } => commands::appt(&data_dir, &client, command).await,
        Command::Sync { client, command } => commands::sync(&data_dir, &client, command).await,
        Command::Plugin { client, command } => commands::plugin(&data_dir, &client, command).await,
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
