//! The command line. `serve` runs the server; every other command is a client of a running server over
//! HTTP, finding it (address and token) through the data dir unless told otherwise.

mod client;
mod commands;
mod demo;
mod table;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use client::{CliError, Client};

#[derive(Debug, Parser)]
#[command(
    name = "repbook",
    version,
    about = "Rep-visit bookings for GP clinics, delivered to the clinic's PMS"
)]
pub struct Cli {
    /// Where the server keeps its data, token and address file.
    #[arg(long, global = true, env = "REPBOOK_DATA_DIR", default_value = "repbook-data")]
    pub data_dir: PathBuf,
    /// Base URL of a running server (default: the address recorded in the data dir, else 127.0.0.1:7878).
    #[arg(long, global = true, env = "REPBOOK_URL")]
    pub server: Option<String>,
    /// API token (default: the data dir's token file).
    #[arg(long, global = true, env = "REPBOOK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of tables, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (HTTP API) on the data dir.
    Serve {
        #[arg(long, env = "REPBOOK_LISTEN", default_value = crate::api::DEFAULT_LISTEN)]
        listen: SocketAddr,
        #[command(flatten)]
        plugins: PluginArgs,
        #[command(flatten)]
        sync: SyncArgs,
    },
    /// Run the whole flow locally: Halo + Bp simulator, the halo-bp connector, a demo clinic, the server.
    Demo {
        #[arg(long, env = "REPBOOK_LISTEN", default_value = crate::api::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// The halo-bp component to install (built by `make plugins`).
        #[arg(long)]
        component: Option<PathBuf>,
    },
    /// Clinics and their PMS settings.
    #[command(subcommand)]
    Clinic(ClinicCommand),
    /// Medical staff.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Rep appointments.
    #[command(subcommand)]
    Appt(ApptCommand),
    /// PMS sync status and actions.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// PMS connector plugins (WebAssembly components).
    #[command(subcommand)]
    Plugin(PluginCommand),
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
    pub fn config(&self) -> crate::api::PluginConfig {
        crate::api::PluginConfig {
            sandbox: crate::plugins::SandboxLimits {
                memory_bytes: self.plugin_memory_mib << 20,
                guest_time: std::time::Duration::from_millis(self.plugin_time_ms),
                ..Default::default()
            },
            allow_loopback: self.plugin_allow_loopback,
            allowed_hosts: self.plugin_hosts.clone(),
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
    /// Seconds between scheduled reconciliations of each clinic (0 = off).
    #[arg(long, env = "REPBOOK_RECONCILE_EVERY_SECS", default_value_t = 3600)]
    pub reconcile_every_secs: u64,
}

impl SyncArgs {
    pub fn config(&self) -> crate::sync::SyncConfig {
        use std::time::Duration;
        crate::sync::SyncConfig {
            backoff_base: Duration::from_millis(self.sync_backoff_base_ms.max(1)),
            backoff_cap: Duration::from_millis(self.sync_backoff_cap_ms.max(1)),
            probe_cap: Duration::from_millis(self.sync_probe_cap_ms.max(1)),
            per_site_concurrency: self.sync_site_concurrency.max(1),
            reconcile_every: (self.reconcile_every_secs > 0).then(|| Duration::from_secs(self.reconcile_every_secs)),
            ..Default::default()
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
        #[arg(long)]
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
    let result = match cli.command {
        Command::Serve { listen, plugins, sync } => crate::api::serve(crate::api::ServeConfig {
            data_dir: cli.data_dir.clone(),
            listen,
            token: cli.token.clone(),
            plugins: plugins.config(),
            sync: sync.config(),
        })
        .await
        .map_err(CliError::Local),
        Command::Demo { listen, component } => demo::run(
            cli.data_dir.clone(),
            listen,
            cli.token.clone(),
            component.unwrap_or_else(demo::default_component),
        )
        .await
        .map_err(CliError::Local),
        command => match Client::discover(&cli.data_dir, cli.server.as_deref(), cli.token.as_deref()) {
            Ok(client) => commands::run(&client, command, cli.json).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}
