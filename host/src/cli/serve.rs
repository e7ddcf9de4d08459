//! `repbook serve`: its flags (also `REPBOOK_*` variables and repbook.toml keys) and how they become the
//! server's configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::server::{DEFAULT_LISTEN, ServerConfig};

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
    /// Days the audit trail keeps an entry.
    #[arg(long, env = "REPBOOK_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u64,
    #[command(flatten)]
    pub mail: MailArgs,
    #[command(flatten)]
    pub accounts: AccountArgs,
    #[command(flatten)]
    pub test_hooks: TestHookArgs,
}

/// Staff accounts: the second factor, sessions, invitations, and the throttles on wrong credentials (each
/// its own setting, never tied to the reps' booking limits).
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// Every account must add a second factor (a passkey or an authenticator app) before anything else.
    #[arg(long, env = "REPBOOK_REQUIRE_MFA", default_value_t = true, action = clap::ArgAction::Set)]
    pub require_mfa: bool,
    /// Minutes without a request after which a session signs out.
    #[arg(long, env = "REPBOOK_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u32,
    /// Hours after which a session signs out, however busy.
    #[arg(long, env = "REPBOOK_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u32,
    /// Hours an invitation's link works.
    #[arg(long, env = "REPBOOK_INVITATION_HOURS", default_value_t = 72)]
    pub invitation_hours: u32,
    /// Wrong passwords or codes against one account before each further try waits (doubling).
    #[arg(long, env = "REPBOOK_SIGN_IN_FAILURES_PER_ACCOUNT", default_value_t = 5)]
    pub sign_in_failures_per_account: u32,
    /// Wrong passwords or codes from one address, whatever the account, before each further try waits.
    #[arg(long, env = "REPBOOK_SIGN_IN_FAILURES_PER_ADDRESS", default_value_t = 20)]
    pub sign_in_failures_per_address: u32,
    /// The longest such wait, seconds (also how long a failure is remembered).
    #[arg(long, env = "REPBOOK_SIGN_IN_MAX_DELAY_SECS", default_value_t = 900)]
    pub sign_in_max_delay_secs: u64,
    /// Sign-in steps per minute per address, right or wrong (bounds the password hashing one address asks for).
    #[arg(long, env = "REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", default_value_t = 30)]
    pub sign_in_attempts_per_minute: u32,
    /// Wrong bearer tokens per minute per address before it is answered 429 on every route.
    #[arg(long, env = "REPBOOK_WRONG_TOKENS_PER_MINUTE", default_value_t = 20)]
    pub wrong_tokens_per_minute: u32,
    /// `repbook demo` only: the owner may put off enrolling a second factor once.
    #[arg(long, env = "REPBOOK_DEMO_SKIP_ENROLMENT", hide = true)]
    pub demo_skip_enrolment: bool,
}

impl AccountArgs {
    pub fn policy(&self) -> crate::app::AccountPolicy {
        use jiff::SignedDuration;
        crate::app::AccountPolicy {
            require_mfa: self.require_mfa,
            sessions: crate::domain::SessionPolicy {
                idle: SignedDuration::from_mins(i64::from(self.session_idle_minutes.max(1))),
                max: SignedDuration::from_hours(i64::from(self.session_max_hours.max(1))),
            },
            invitation_for: SignedDuration::from_hours(i64::from(self.invitation_hours.max(1))),
            demo_skip_enrolment: self.demo_skip_enrolment,
            ..Default::default()
        }
    }

    pub fn throttle(&self) -> crate::identity::throttle::ThrottleConfig {
        crate::identity::throttle::ThrottleConfig {
            per_account: self.sign_in_failures_per_account.max(1),
            per_address: self.sign_in_failures_per_address.max(1),
            max_delay: Duration::from_secs(self.sign_in_max_delay_secs.max(1)),
            ..Default::default()
        }
    }
}

/// How mail goes out: an SMTP server, or a folder of .eml files; neither, and nobody is mailed (reps'
/// addresses are then not verified).
#[derive(Debug, Args)]
pub struct MailArgs {
    /// The mail server: smtp://host:25, smtp://host:587?tls=required (STARTTLS) or smtps://host:465.
    #[arg(long, env = "REPBOOK_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The user to sign in to the mail server as.
    #[arg(long, env = "REPBOOK_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// A file holding the mail server's password (`-`: read it from standard input).
    #[arg(long, env = "REPBOOK_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// The mail server's password (prefer --smtp-password-file: a command line shows in `ps`).
    #[arg(long, env = "REPBOOK_SMTP_PASSWORD", hide_env_values = true, hide = true)]
    pub smtp_password: Option<String>,
    /// A PEM file of certificate authorities to trust for the mail server's TLS, beside the public ones.
    #[arg(long, env = "REPBOOK_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
    /// The address mail comes from (the clinic's name goes with it), e.g. visits@harbourgp.com.au.
    #[arg(long, env = "REPBOOK_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Write each message as an .eml file in this folder instead of sending it.
    #[arg(long, env = "REPBOOK_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,
    /// The address reps reach repbook at, for the links in their mail (default: this server's own).
    #[arg(long, env = "REPBOOK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The admin page's address, for the links in mail to the practice (default: --public-url).
    #[arg(long, env = "REPBOOK_ADMIN_URL")]
    pub admin_url: Option<String>,
    /// Seconds one conversation with the mail server may take.
    #[arg(long, env = "REPBOOK_MAIL_TIMEOUT_SECS", default_value_t = 30)]
    pub mail_timeout_secs: u64,
    /// First wait before a message the mail server deferred is tried again, ms (doubles, up to an hour).
    #[arg(long, env = "REPBOOK_MAIL_RETRY_BASE_MS", default_value_t = 30_000)]
    pub mail_retry_base_ms: u64,
    /// Seconds one webhook delivery attempt may take (connecting, sending, the answer).
    #[arg(long, env = "REPBOOK_WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    pub webhook_timeout_secs: u64,
    /// First wait before a failed webhook delivery is tried again, ms (doubles, up to an hour; three days in all).
    #[arg(long, env = "REPBOOK_WEBHOOK_RETRY_BASE_MS", default_value_t = 5_000)]
    pub webhook_retry_base_ms: u64,
}

impl MailArgs {
    /// The settings, with the password read from its file (or standard input).
    pub fn settings(&self) -> anyhow::Result<crate::notify::MailSettings> {
        let password = match (&self.smtp_password_file, &self.smtp_password) {
            (Some(path), _) => Some(crate::cli::secret_input::read(
                "smtp_password",
                &path.display().to_string(),
            )?),
            (None, password) => password.clone(),
        };
        Ok(crate::notify::MailSettings {
            smtp_url: self.smtp_url.clone(),
            smtp_user: self.smtp_user.clone(),
            smtp_password: password,
            smtp_ca_file: self.smtp_ca_file.clone(),
            mail_dir: self.mail_dir.clone(),
            mail_from: self.mail_from.clone(),
            timeout: Duration::from_secs(self.mail_timeout_secs.max(1)),
        })
    }

    /// The webhook worker's bounds; its network policy is filled in from the plugins' when the server starts.
    pub fn webhooks(&self) -> crate::webhooks::WebhookConfig {
        crate::webhooks::WebhookConfig {
            timeout: Duration::from_secs(self.webhook_timeout_secs.max(1)),
            retry_base: Duration::from_millis(self.webhook_retry_base_ms.max(1)),
            ..Default::default()
        }
    }

    pub fn notify(&self) -> crate::notify::NotifyConfig {
        crate::notify::NotifyConfig {
            retry: crate::notify::RetryPolicy {
                base: Duration::from_millis(self.mail_retry_base_ms.max(1)),
                ..Default::default()
            },
            ..Default::default()
        }
    }
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
            sign_in_attempts_per_address: 30,
        }
    }
}

#[derive(Debug, Args)]
pub struct PluginArgs {
    /// Let plugins reach loopback addresses (only for a local simulator).
    #[arg(long, env = "REPBOOK_PLUGIN_ALLOW_LOOPBACK")]
    pub plugin_allow_loopback: bool,
    /// Let plugins reach private and link-local addresses (10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7,
    /// fe80::/10), e.g. a CalDAV server on the clinic's network.
    #[arg(long, env = "REPBOOK_PLUGIN_ALLOW_PRIVATE_NETWORK")]
    pub plugin_allow_private_network: bool,
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
            allow_private: self.plugin_allow_private_network,
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
            mail: None,
        }
    }
}

/// `repbook serve`: runs until SIGINT or SIGTERM.
pub async fn run(data_dir: PathBuf, args: ServeArgs) -> anyhow::Result<()> {
    crate::server::serve(args.server_config(data_dir)?).await
}

impl ServeArgs {
    pub fn server_config(self, data_dir: PathBuf) -> anyhow::Result<ServerConfig> {
        Ok(ServerConfig {
            mail: self.mail.settings()?,
            public_url: self.mail.public_url.clone(),
            admin_url: self.mail.admin_url.clone(),
            notify: self.mail.notify(),
            webhooks: self.mail.webhooks(),
            data_dir,
            listen: self.listen,
            token: self.token,
            plugins: self.plugins.config(),
            sync: self.sync.config(),
            drain: Duration::from_secs(self.drain_secs),
            public_limits: crate::api::public::PublicLimitConfig {
                sign_in_attempts_per_address: self.accounts.sign_in_attempts_per_minute.max(1),
                ..self.public.config()
            },
            availability: crate::app::AvailabilityConfig {
                ttl: Duration::from_secs(self.availability_ttl_secs.max(1)),
                refresh_every: Duration::from_secs(self.availability_refresh_secs.max(1)),
                ..Default::default()
            },
            store: crate::store::StoreOptions {
                background_flush: (self.store_flush_every_ms > 0)
                    .then(|| Duration::from_millis(self.store_flush_every_ms)),
                accept_older: self.accept_older_store,
            },
            tls: self.connections.tls(),
            public: self.connections.public,
            connections: self.connections.config(),
            insecure_token: self.insecure_token,
            housekeeping_every: Duration::from_millis(self.housekeeping_ms.max(10)),
            audit_retention: Duration::from_secs(self.audit_retention_days.max(1) * 24 * 3600),
            accounts: self.accounts.policy(),
            sign_in_throttle: self.accounts.throttle(),
            wrong_tokens_per_minute: self.accounts.wrong_tokens_per_minute.max(1),
            test_clock_file: self.test_hooks.test_clock_file,
            test_claim_delay: Duration::from_millis(self.test_hooks.test_claim_delay_ms),
        })
    }
}
