//! The command line. `serve` runs the server and `demo` the whole flow locally; every other command is a
//! client of a running server over HTTP, finding it (address and token) through the data dir unless told
//! otherwise, and printing a summary for people (`--json` prints the API's answer for scripts).

mod client;
mod commands;
pub mod config;
mod demo;
mod print;
mod secret_input;
mod table;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

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
    /// Weekly rep-visit times the clinic publishes.
    Times {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: TimesCommand,
    },
    /// Dates the clinic takes no rep visits (public holidays, closures).
    Closed {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: ClosedCommand,
    },
    /// Visitor categories: which reps may see which times.
    Category {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: CategoryCommand,
    },
    /// Booking links for reps (capability URLs).
    Link {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: LinkCommand,
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
        command: ConfigCommand,
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

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The settings `repbook serve` would run with now, and where each comes from: flag, env (REPBOOK_*),
    /// file (repbook.toml in the data dir) or default, in that order of precedence. Secrets are hidden.
    Show {
        #[command(flatten)]
        serve: ServeArgs,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// How the server writes its log lines (to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people reading a terminal or journalctl.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REPBOOK_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// API token to require (default: the data dir's token file, created on first start).
    #[arg(long, env = "REPBOOK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Start on a store older than what it last acknowledged (after a damage, knowingly): the writes after
    /// it are gone. Without it, such a store is refused.
    #[arg(long, env = "REPBOOK_ACCEPT_OLDER_STORE")]
    pub accept_older_store: bool,
    /// Accept an API token shorter than 32 characters (throwaway test setups only).
    #[arg(long, env = "REPBOOK_INSECURE_TOKEN")]
    pub insecure_token: bool,
    /// Seconds a stop (SIGTERM, Ctrl-C) waits for requests and PMS deliveries in flight.
    #[arg(long, env = "REPBOOK_DRAIN_SECS", default_value_t = 10)]
    pub drain_secs: u64,
    /// The store's background flush, ms (0 = none; every write waits for its own flush anyway).
    #[arg(long, env = "REPBOOK_STORE_FLUSH_EVERY_MS", default_value_t = 500)]
    pub store_flush_every_ms: u64,
    /// Log lines as text or as JSON.
    #[arg(long, env = "REPBOOK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub plugins: PluginArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
    #[command(flatten)]
    pub public: PublicLimitArgs,
    /// How long a day of a doctor's PMS diary is trusted before it is read again, seconds.
    #[arg(long, env = "REPBOOK_AVAILABILITY_TTL_SECS", default_value_t = 300)]
    pub availability_ttl_secs: u64,
    /// How often the background refresh looks for stale diary days, seconds.
    #[arg(long, env = "REPBOOK_AVAILABILITY_REFRESH_SECS", default_value_t = 30)]
    pub availability_refresh_secs: u64,
    #[command(flatten)]
    pub connections: ConnectionArgs,
    /// How often requests nobody decided on are let go and rate-limit keys forgotten, milliseconds.
    #[arg(long, env = "REPBOOK_HOUSEKEEPING_MS", default_value_t = 60_000)]
    pub housekeeping_ms: u64,
    #[command(flatten)]
    pub test_hooks: TestHookArgs,
}

/// Hooks for the end-to-end suites only (hidden from `--help` and from repbook.toml): they move the clock
/// the booking rules read and widen a race window, so tests of time and of races are deterministic.
#[derive(Debug, Args)]
pub struct TestHookArgs {
    /// Add the seconds written in this file to the clock the booking rules read.
    #[arg(long, env = "REPBOOK_TEST_CLOCK_FILE", hide = true)]
    pub test_clock_file: Option<PathBuf>,
    /// Hold a rep booking's claimed slot this long before writing it, milliseconds.
    #[arg(long, env = "REPBOOK_TEST_CLAIM_DELAY_MS", hide = true, default_value_t = 0)]
    pub test_claim_delay_ms: u64,
}

/// Who may hold a connection, for how long, and how the server is reached.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Listen beyond loopback (e.g. --listen 0.0.0.0:7878): the admin API and sign-in become reachable from
    /// the network. Prefer --tls-cert/--tls-key or a reverse proxy that terminates HTTPS.
    #[arg(long, env = "REPBOOK_PUBLIC")]
    pub public: bool,
    /// PEM certificate chain (leaf first): serve HTTPS.
    #[arg(long, env = "REPBOOK_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "REPBOOK_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Reverse proxies whose X-Forwarded-For names the client (comma-separated addresses).
    #[arg(long, env = "REPBOOK_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Open connections in all; more are closed on accept.
    #[arg(long, env = "REPBOOK_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Open connections per client address (trusted proxies excepted).
    #[arg(long, env = "REPBOOK_CONNECTIONS_PER_ADDRESS", default_value_t = 64)]
    pub connections_per_address: usize,
    /// Seconds a client has to send a request's headers; also the longest idle keep-alive.
    #[arg(long, env = "REPBOOK_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, env = "REPBOOK_BODY_TIMEOUT_SECS", default_value_t = 60)]
    pub body_timeout_secs: u64,
}

impl ConnectionArgs {
    pub fn config(&self) -> crate::api::listener::ConnectionConfig {
        crate::api::listener::ConnectionConfig {
            max_connections: self.max_connections.max(1),
            per_address: self.connections_per_address.max(1),
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(self.body_timeout_secs.max(1)),
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }

    pub fn tls(&self) -> Option<crate::api::listener::TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::api::listener::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }
}

/// Rate limits of the rep's public pages and routes (`/book/...`, `/manage/...`).
#[derive(Debug, Args)]
pub struct PublicLimitArgs {
    /// Page and slot reads per minute per client address.
    #[arg(long, env = "REPBOOK_PUBLIC_READS_PER_MINUTE", default_value_t = 240)]
    pub public_reads_per_minute: u32,
    /// Bookings, swaps and cancellations per minute per client address.
    #[arg(long, env = "REPBOOK_PUBLIC_WRITES_PER_MINUTE", default_value_t = 20)]
    pub public_writes_per_minute: u32,
    /// Requests per minute per booking link or manage link, from any address.
    #[arg(long, env = "REPBOOK_PUBLIC_PER_LINK_PER_MINUTE", default_value_t = 300)]
    pub public_per_link_per_minute: u32,
}

impl PublicLimitArgs {
    pub fn config(&self) -> crate::api::public::PublicLimitConfig {
        crate::api::public::PublicLimitConfig {
            reads_per_address: self.public_reads_per_minute,
            writes_per_address: self.public_writes_per_minute,
            per_capability: self.public_per_link_per_minute,
        }
    }
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
    /// Time per plugin call spent running guest code, milliseconds (waiting for the PMS does not count;
    /// on a machine short of cores, waiting for one does).
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
    /// Change a clinic's name, zone, state, default appointment length or rep booking rules.
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
        #[command(flatten)]
        rules: BookingRuleArgs,
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

/// The rep booking rules `clinic update` can change; only the flags given change.
#[derive(Debug, Args)]
pub struct BookingRuleArgs {
    /// Slots closer than this many hours are not offered to reps.
    #[arg(long)]
    pub booking_lead_hours: Option<u32>,
    /// Slots further ahead than this many days are not offered.
    #[arg(long)]
    pub booking_horizon_days: Option<u32>,
    /// Future bookings one rep (by email) may hold at the clinic.
    #[arg(long)]
    pub max_open_bookings_per_rep: Option<u32>,
    /// At most one visit per company per doctor in this many weeks (0 = no such rule).
    #[arg(long)]
    pub company_visit_interval_weeks: Option<u32>,
    /// Reps may cancel up to this many hours before the visit.
    #[arg(long)]
    pub cancel_cutoff_hours: Option<u32>,
    /// Reps may swap to another time up to this many hours before the visit.
    #[arg(long)]
    pub swap_cutoff_hours: Option<u32>,
    /// Hours an approval-required request waits for staff before it expires.
    #[arg(long)]
    pub request_expiry_hours: Option<u32>,
    /// Bookings one link may take per day.
    #[arg(long)]
    pub link_daily_cap: Option<u32>,
    /// What reps should know (parking, where to wait); shown on their pages and in the calendar file.
    #[arg(long)]
    pub visiting_instructions: Option<String>,
    /// Whose PMS appointment book receives visits with the whole clinic (a practitioner id; "none" clears).
    #[arg(long)]
    pub clinic_visit_practitioner: Option<String>,
}

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
    /// Revoke a link: it stops working at once; bookings made through it stay.
    Revoke {
        #[arg(long)]
        clinic: String,
        id: String,
    },
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
    /// A value on the command line shows in `ps` and shell history: give secrets with --setting-file.
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// Connector setting read from a file (KEY=PATH, repeatable); PATH `-` reads standard input, asking
    /// without echo when it is a terminal.
    #[arg(long = "setting-file", value_name = "KEY=PATH")]
    pub setting_files: Vec<String>,
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
        /// booked, requested (the approval queue), cancelled, declined or expired.
        #[arg(long, value_parser = ["booked", "requested", "cancelled", "declined", "expired"])]
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
    /// Approve a requested visit: it is booked and goes to the PMS.
    Approve { id: String },
    /// Decline a requested visit: its slot is free again.
    Decline { id: String },
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

/// Prints `config show`.
fn show_config(parsed: &Parsed, json: bool) -> Result<(), CliError> {
    let Some(("config", config_matches)) = parsed.matches.subcommand() else {
        return Ok(());
    };
    let Some(("show", show_matches)) = config_matches.subcommand() else {
        return Ok(());
    };
    let mut settings = config::effective(&parsed.command, show_matches, &parsed.file_keys);
    // In the order `serve --help` lists them (a file's keys would otherwise come last).
    let order = config::known_keys(&Cli::command());
    settings.sort_by_key(|s| order.iter().position(|k| *k == s.key));
    if json {
        println!("{}", serde_json::to_string_pretty(&settings).unwrap_or_default());
    } else {
        println!(
            "{}",
            table::printable(&format!(
                "Precedence: flag > REPBOOK_* env > {} > default.",
                parsed.cli.data_dir.join(config::CONFIG_FILE).display()
            ))
        );
        let rows: Vec<Vec<String>> = settings
            .iter()
            .map(|s| {
                vec![
                    s.key.clone(),
                    s.value.clone().unwrap_or_else(|| "-".into()),
                    s.source.to_string(),
                ]
            })
            .collect();
        table::print(&["KEY", "VALUE", "SOURCE"], &rows);
    }
    Ok(())
}

/// Runs the parsed command line; the exit code says how it went (0 ok, 1 refused by the server,
/// 3 server unreachable or local failure).
pub async fn run(parsed: Parsed) -> ExitCode {
    let config_result = match &parsed.cli.command {
        Command::Config {
            command: ConfigCommand::Show { json, .. },
        } => Some(show_config(&parsed, *json)),
        _ => None,
    };
    let cli = parsed.cli;
    let data_dir = cli.data_dir;
    let result = match cli.command {
        Command::Serve(args) => crate::server::serve(ServerConfig {
            data_dir,
            listen: args.listen,
            token: args.token,
            plugins: args.plugins.config(),
            sync: args.sync.config(),
            drain: Duration::from_secs(args.drain_secs),
            public_limits: args.public.config(),
            availability: crate::availability::AvailabilityConfig {
                ttl: Duration::from_secs(args.availability_ttl_secs.max(1)),
                refresh_every: Duration::from_secs(args.availability_refresh_secs.max(1)),
                ..Default::default()
            },
            store: crate::store::StoreOptions {
                background_flush: (args.store_flush_every_ms > 0)
                    .then(|| Duration::from_millis(args.store_flush_every_ms)),
                accept_older: args.accept_older_store,
            },
            connections: args.connections.config(),
            tls: args.connections.tls(),
            public: args.connections.public,
            insecure_token: args.insecure_token,
            housekeeping_every: Duration::from_millis(args.housekeeping_ms.max(10)),
            test_clock_file: args.test_hooks.test_clock_file,
            test_claim_delay: Duration::from_millis(args.test_hooks.test_claim_delay_ms),
        })
        .await
        .map_err(CliError::Local),
        Command::Demo(args) => demo::run(data_dir, args).await.map_err(CliError::Local),
        Command::Config { .. } => config_result.unwrap_or(Ok(())),
        Command::Backup { client, file } => commands::backup(&data_dir, &client, &file).await,
        Command::Restore { file } => commands::restore(&data_dir, &file),
        Command::Doctor { client, clinic } => match commands::doctor(&data_dir, &client, clinic).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(error) => Err(error),
        },
        Command::Clinic { client, command } => commands::clinic(&data_dir, &client, command).await,
        Command::Staff { client, command } => commands::staff(&data_dir, &client, command).await,
        Command::Appt { client, command } => commands::appt(&data_dir, &client, command).await,
        Command::Sync { client, command } => commands::sync(&data_dir, &client, command).await,
        Command::Times { client, command } => commands::times(&data_dir, &client, command).await,
        Command::Closed { client, command } => commands::closed(&data_dir, &client, command).await,
        Command::Category { client, command } => commands::category(&data_dir, &client, command).await,
        Command::Link { client, command } => commands::link(&data_dir, &client, command).await,
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
