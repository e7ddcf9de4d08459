//! The one place that wires the application together and takes it apart: store, plugin registry, sync
//! worker and HTTP are started in that order and stopped in the reverse one. A stop (SIGTERM, SIGINT)
//! stops accepting connections, lets in-flight deliveries finish within a bound (an unfinished one stays
//! in the outbox and is delivered after restart), flushes the store and returns.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;

use crate::api::auth::AuthFailures;
use crate::api::listener::{self, ConnectionConfig, TlsFiles};
use crate::api::public::{PublicLimitConfig, PublicLimits};
use crate::api::{self, AppState, load_or_create_token};
use crate::app::{AccountPolicy, App, Availability, AvailabilityConfig};
use crate::clock::Clock;
use crate::identity::Identity;
use crate::identity::throttle::ThrottleConfig;
use crate::notify::{MailIdentity, MailSettings, Mailer, Notifier, NotifyConfig};
use crate::plugins::{PluginConfig, Registry, Runtime};
use crate::store::{Store, StoreOptions};
use crate::sync::{SyncConfig, SyncEngine};
use crate::webhooks::{WebhookConfig, Webhooks};

/// Written once the server listens, so the CLI and scripts find a server started on port 0.
pub const ADDR_FILE: &str = "server.addr";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Overrides the data dir's token file (REPBOOK_TOKEN).
    pub token: Option<String>,
    pub store: StoreOptions,
    pub plugins: PluginConfig,
    pub sync: SyncConfig,
    /// How long a stop waits for in-flight requests and deliveries.
    pub drain: Duration,
    /// Rate limits of the rep's public routes.
    pub public_limits: PublicLimitConfig,
    /// How long the doctors' diaries from the PMS are trusted, and how often they are refreshed.
    pub availability: AvailabilityConfig,
    /// What each connection may take: timeouts, caps, trusted proxies.
    pub connections: ConnectionConfig,
    /// HTTPS instead of HTTP.
    pub tls: Option<TlsFiles>,
    /// The operator's consent to listen beyond loopback (`--public`).
    pub public: bool,
    /// Accept an API token shorter than 32 characters (`--insecure-token`).
    pub insecure_token: bool,
    /// How often expired requests are let go and rate-limit keys forgotten.
    pub housekeeping_every: Duration,
    /// How long audit entries are kept.
    pub audit_retention: Duration,
    /// Tests only: a file whose seconds move the booking rules' clock.
    pub test_clock_file: Option<PathBuf>,
    /// Tests only: how long a rep booking holds its claim before writing it.
    pub test_claim_delay: Duration,
    /// How mail goes out (none: nobody is mailed, and reps' addresses are not verified).
    pub mail: MailSettings,
    /// The address reps reach repbook at, for the links in their mail (default: this server's own).
    pub public_url: Option<String>,
    /// The admin page's address, for the links in mail to the practice (default: `public_url`).
    pub admin_url: Option<String>,
    /// How the mail worker retries.
    pub notify: NotifyConfig,
    /// How webhook deliveries are sent (the network policy is the connectors').
    pub webhooks: WebhookConfig,
    /// Staff accounts: a second factor required, session lifetimes, invitation and reset links.
    pub accounts: AccountPolicy,
    /// Wrong passwords and codes: how many are free, how the waits grow.
    pub sign_in_throttle: ThrottleConfig,
    /// Wrong bearer tokens per address per minute before it is answered 429 (its own setting, never the
    /// reps' booking limits).
    pub wrong_tokens_per_minute: u32,
}

/// Listening beyond this machine exposes the admin API and sign-in to the network: only on purpose.
fn check_exposure(config: &ServerConfig) -> anyhow::Result<()> {
    if config.listen.ip().is_loopback() {
        return Ok(());
    }
    if !config.public {
        anyhow::bail!(
            "--listen {} is reachable from other machines; pass --public to mean it (with --tls-cert and \
             --tls-key, or behind a reverse proxy that terminates HTTPS), or listen on 127.0.0.1",
            config.listen
        );
    }
    if config.tls.is_none() {
        tracing::warn!(
            listen = %config.listen,
            "listening beyond loopback without TLS: the admin token and the reps' details cross the network \
             in the clear unless a reverse proxy in front terminates HTTPS"
        );
    }
    Ok(())
}

/// A started server: serving HTTP and syncing until `stop`.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    http: JoinHandle<std::io::Result<()>>,
    stop_http: tokio::sync::oneshot::Sender<()>,
    worker: JoinHandle<()>,
    housekeeping: JoinHandle<()>,
    diaries: JoinHandle<()>,
    mailing: JoinHandle<()>,
    notifier: Arc<Notifier>,
    hooking: JoinHandle<()>,
    offering: JoinHandle<()>,
    webhooks: Arc<Webhooks>,
    drain: Duration,
}

/// Once a minute (by default): lets go of the approval requests nobody decided on in time (their slots are
/// already free to book; this makes their state say so) and forgets rate-limit keys that have refilled.
async fn housekeeping(
    app: Arc<App>,
    limits: Arc<PublicLimits>,
    wrong_tokens: Arc<AuthFailures>,
    every: Duration,
    audit_keep: Duration,
) {
    let mut every = tokio::time::interval(every);
    let audit_keep = jiff::SignedDuration::try_from(audit_keep).unwrap_or(jiff::SignedDuration::MAX);
    loop {
        every.tick().await;
        if let Err(error) = app.apply_retention(audit_keep).await {
            tracing::warn!(%error, "cannot remove reps' details past their retention");
        }
        if let Err(error) = app.expire_requests().await {
            tracing::warn!(%error, "cannot expire old requests");
        }
        if let Err(error) = app.send_due_notices().await {
            tracing::warn!(%error, "cannot queue reminders and notices");
        }
        limits.retain_recent();
        wrong_tokens.retain_recent(std::time::Instant::now());
        app.identity().throttle.retain_recent(std::time::Instant::now());
    }
}

/// The waitlist's offer sweep: at once for the clinics whose free times changed (a commit wakes it), and
/// every `every` for all clinics with a waitlist (holds that lapse, entries that pass their end date).
async fn offer_freed_times(app: Arc<App>, every: Duration) {
    let wake = app.waitlist_signal();
    let mut tick = tokio::time::interval(every);
    loop {
        let all = tokio::select! {
            _ = wake.notified() => false,
            _ = tick.tick() => true,
        };
        if let Err(error) = app.offer_freed_times(all).await {
            tracing::warn!(%error, "cannot offer freed times to the waitlist");
        }
    }
}

/// Opens the data dir, loads the plugins, starts the sync worker and serves HTTP.
pub async fn start(config: ServerConfig) -> anyhow::Result<Running> {
    check_exposure(&config)?;
    let tls = config.tls.as_ref().map(listener::tls_acceptor).transpose()?;
    let mut connections = config.connections.clone();
    let room = listener::connection_room();
    if connections.max_connections > room {
        tracing::warn!(
            asked = connections.max_connections,
            room,
            "the open-file limit leaves room for fewer connections than --max-connections; raise LimitNOFILE"
        );
        connections.max_connections = room;
    }
    crate::secure::private_umask();
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    for path in crate::secure::lock_down(&config.data_dir)? {
        tracing::warn!(path = %path.display(), "was readable by other users; now only by this one");
    }
    let store = Arc::new(Store::open_with(&config.data_dir, &config.store)?);
    let runtime = Runtime::from_config(&config.data_dir, &config.plugins)?;
    let plugins = Registry::open(runtime, store.clone()).await?;
    let token = load_or_create_token(&config.data_dir, config.token)
        .with_context(|| format!("cannot read or create the token in {}", config.data_dir.display()))?;
    crate::secure::check_token(&token, config.insecure_token)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}; pick another --listen address", config.listen))?;
    let addr = listener.local_addr()?;
    let clock = match config.test_clock_file.clone() {
        Some(file) => Clock::offset_by_file(file),
        None => Clock::system(),
    };
    // Mail: the way out (a server or a folder) and what messages say they come from.
    let mailer = Mailer::from_settings(&config.mail)?.map(Arc::new);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{addr}"));
    let identity = mailer.as_ref().map(|mailer| MailIdentity {
        from: mailer.from().to_string(),
        admin_url: config.admin_url.clone().unwrap_or_else(|| public_url.clone()),
        public_url: public_url.clone(),
    });
    if let Some(mailer) = &mailer {
        tracing::info!(to = %mailer.describe(), "sending mail");
    }
    let notifier = Notifier::new(store.clone(), mailer.clone(), clock.clone(), config.notify.clone());
    let mailing = tokio::spawn(notifier.clone().run());
    let webhook_config = WebhookConfig {
        operator: config.plugins.policy()?,
        ..config.webhooks.clone()
    };
    let webhooks = Webhooks::new(store.clone(), clock.clone(), webhook_config)?;
    let hooking = tokio::spawn(webhooks.clone().run());
    let sync_config = SyncConfig {
        mail: identity.clone(),
        ..config.sync.clone()
    };
    let sync = SyncEngine::new(store.clone(), plugins.clone(), sync_config);
    // Whatever the outbox holds from before a restart (or a kill -9) is delivered from here on.
    let worker = tokio::spawn(sync.clone().run());
    std::fs::write(config.data_dir.join(ADDR_FILE), addr.to_string())
        .with_context(|| format!("cannot write {}", config.data_dir.join(ADDR_FILE).display()))?;
    let availability = Arc::new(Availability::new(store.clone(), plugins.clone(), config.availability));
    let diaries = tokio::spawn(availability.clone().run());
    // Passkeys belong to the name staff reach the admin page by; hashing takes at most half the cores, so a
    // flood of sign-ins leaves the rest to bookings.
    let relying_party = config.admin_url.as_deref().or(config.public_url.as_deref());
    let admin_base = config.admin_url.clone().unwrap_or_else(|| public_url.clone());
    let hashing = std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1);
    let accounts = Arc::new(Identity::new(relying_party, &admin_base, config.sign_in_throttle, hashing).await?);
    let app = Arc::new(
        App::new(
            store.clone(),
            plugins.clone(),
            sync.clone(),
            availability,
            clock,
            config.data_dir.clone(),
            accounts,
        )
        .with_claim_delay(config.test_claim_delay)
        .with_mail(identity.zip(mailer))
        .with_accounts(config.accounts),
    );
    let public_limits = Arc::new(PublicLimits::new(config.public_limits));
    let wrong_tokens = Arc::new(AuthFailures::new(
        config.wrong_tokens_per_minute,
        Duration::from_secs(60),
    ));
    let offering = tokio::spawn(offer_freed_times(app.clone(), config.housekeeping_every));
    let housekeeping = tokio::spawn(housekeeping(
        app.clone(),
        public_limits.clone(),
        wrong_tokens.clone(),
        config.housekeeping_every,
        config.audit_retention,
    ));
    let state = AppState {
        app,
        sync,
        plugins,
        store,
        public_limits,
        wrong_tokens,
        notifier: notifier.clone(),
        webhooks: webhooks.clone(),
        token: token.into(),
    };
    let (stop_http, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = api::router(state.clone());
    let stop = async {
        let _ = stopped.await;
    };
    let https = tls.is_some();
    let http = tokio::spawn(listener::serve(listener, app, connections, tls, stop));
    tracing::info!(%addr, https, "serving");
    Ok(Running {
        addr,
        state,
        http,
        stop_http,
        worker,
        housekeeping,
        diaries,
        mailing,
        notifier,
        hooking,
        offering,
        webhooks,
        drain: config.drain,
    })
}

impl Running {
    /// Stops in order: no new connections (requests in flight may finish), no new deliveries (those in
    /// flight may finish), then a final flush. Everything waits at most the drain bound.
    pub async fn stop(self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + self.drain;
        let _ = self.stop_http.send(());
        let mut http = self.http;
        if tokio::time::timeout_at(deadline, &mut http).await.is_err() {
            tracing::warn!("requests still running at the drain bound; closing their connections");
            http.abort();
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.state.sync.stop(left).await;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.notifier.stop(left).await;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.webhooks.stop(left).await;
        self.mailing.abort();
        self.hooking.abort();
        self.offering.abort();
        self.worker.abort();
        self.housekeeping.abort();
        self.diaries.abort();
        self.state.store.durable().await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// `repbook serve`: runs until SIGINT or SIGTERM, then stops in order.
pub async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let running = start(config).await?;
    println!("repbook listening on {scheme}://{}", running.addr);
    let store = running.state.store.clone();
    tokio::select! {
        () = shutdown_signal() => running.stop().await,
        reason = store_failure(&store) => {
            // /healthz has said 503 since the failure; give monitors a moment to see it, then stop
            // (what was acknowledged is on disk) and exit non-zero, so the supervisor restarts repbook,
            // which reopens the store once the disk has room again.
            tokio::time::sleep(FAULT_GRACE).await;
            let _ = running.stop().await;
            anyhow::bail!(
                "stopped because the store cannot write ({reason}); free disk space or fix the disk, then \
                 start repbook again (systemd does so by itself)"
            )
        }
    }
}

/// How long a server whose store failed keeps answering (503 on /healthz) before it exits.
const FAULT_GRACE: Duration = Duration::from_secs(3);

/// Resolves with the reason once the store's disk failed a write.
async fn store_failure(store: &Store) -> String {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        if let Err(reason) = store.health() {
            return reason;
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
