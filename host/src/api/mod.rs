//! The HTTP API: routes, auth, error mapping. Handlers stay thin: parse, call the store or domain, map the
//! error. Everything but `/healthz` needs the bearer token.

mod appointments;
mod auth;
mod clinics;
mod error;
mod extract;
mod metrics;
mod plugins;
mod pms;
mod staff;
mod views;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use tower_http::trace::TraceLayer;

pub use auth::{TOKEN_FILE, load_or_create_token};
pub use error::ApiError;

use crate::plugins::egress::{HostRule, OperatorPolicy};
use crate::plugins::{HttpLimits, Registry, Runtime, SandboxLimits};
use crate::store::Store;
use crate::sync::{SyncConfig, SyncEngine};

/// Written by `serve` once it listens, so the CLI and scripts find a server started on port 0.
pub const ADDR_FILE: &str = "server.addr";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
const BODY_LIMIT_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub plugins: Arc<Registry>,
    pub sync: Arc<SyncEngine>,
    pub token: Arc<str>,
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/clinics", get(clinics::list).post(clinics::create))
        .route(
            "/clinics/{clinic}",
            get(clinics::show).patch(clinics::update).delete(clinics::delete),
        )
        .route("/clinics/{clinic}/pms", put(pms::set))
        .route("/clinics/{clinic}/pms/validate", post(pms::validate))
        .route("/clinics/{clinic}/pms/locations", get(pms::locations))
        .route("/clinics/{clinic}/pms/reset", post(pms::reset))
        .route("/clinics/{clinic}/staff", get(staff::list).post(staff::add))
        .route("/clinics/{clinic}/staff/sync", post(staff::sync))
        .route("/clinics/{clinic}/staff/{id}/pms", put(staff::map))
        .route(
            "/clinics/{clinic}/appointments",
            get(appointments::list).post(appointments::book),
        )
        .route("/clinics/{clinic}/sync", get(pms::sync_status).post(pms::sync_all))
        .route("/clinics/{clinic}/sync/reconcile", post(pms::reconcile))
        .route("/clinics/{clinic}/sync/retry-parked", post(pms::retry_parked))
        .route(
            "/appointments/{id}",
            get(appointments::show).patch(appointments::reschedule),
        )
        .route("/appointments/{id}/cancel", post(appointments::cancel))
        .route("/appointments/{id}/resend", post(appointments::resend))
        .route("/plugins", get(plugins::list))
        .route(
            "/plugins",
            post(plugins::install).layer(DefaultBodyLimit::max(plugins::MAX_COMPONENT_BODY)),
        )
        .route("/plugins/{name}/activate", post(plugins::activate))
        .route("/plugins/{name}/rollback", post(plugins::rollback))
        .route("/plugins/{name}/versions/{version}", delete(plugins::remove))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    let metrics = Router::new()
        .route("/metrics", get(metrics::render))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(metrics)
        .nest("/api/v1", api)
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_such_route",
                "no such route; see DESIGN.md or `repbook --help`",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub token: Option<String>,
    pub plugins: PluginConfig,
    pub sync: SyncConfig,
}

/// The operator's limits and network policy for connector plugins.
#[derive(Debug, Clone, Default)]
pub struct PluginConfig {
    pub sandbox: SandboxLimits,
    pub allow_loopback: bool,
    /// Hosts plugins may reach, narrowing what each declares; `None` allows what they declare.
    pub allowed_hosts: Option<Vec<String>>,
}

impl PluginConfig {
    fn policy(&self) -> anyhow::Result<OperatorPolicy> {
        let allowed_hosts = match &self.allowed_hosts {
            None => None,
            Some(hosts) => Some(
                hosts
                    .iter()
                    .map(|h| HostRule::parse(h).map_err(|e| anyhow::anyhow!("--plugin-hosts: {e}")))
                    .collect::<anyhow::Result<Vec<_>>>()?,
            ),
        };
        Ok(OperatorPolicy {
            allowed_hosts,
            allow_loopback: self.allow_loopback,
        })
    }
}

/// A server that has opened its data dir and bound its address, not yet serving.
pub struct Bound {
    pub listener: tokio::net::TcpListener,
    pub addr: SocketAddr,
    pub state: AppState,
}

/// Opens the store and plugin registry, starts the sync worker, binds and records the address.
pub async fn bind(config: ServeConfig) -> anyhow::Result<Bound> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let store = Arc::new(Store::open(&config.data_dir)?);
    let runtime = Runtime::new(
        &config.data_dir,
        config.plugins.sandbox.clone(),
        HttpLimits::default(),
        config.plugins.policy()?,
    )?;
    let plugins = Registry::open(runtime, store.clone()).await?;
    let sync = SyncEngine::new(store.clone(), plugins.clone(), config.sync.clone());
    // Whatever the outbox holds from before a restart (or a kill -9) is delivered from here on.
    tokio::spawn(sync.clone().run());
    let token = load_or_create_token(&config.data_dir, config.token)
        .with_context(|| format!("cannot read or create the token in {}", config.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}; pick another --listen address", config.listen))?;
    let addr = listener.local_addr()?;
    std::fs::write(config.data_dir.join(ADDR_FILE), addr.to_string())?;
    Ok(Bound {
        listener,
        addr,
        state: AppState {
            store,
            plugins,
            sync,
            token: token.into(),
        },
    })
}

/// Serves until SIGINT/SIGTERM.
pub async fn run(bound: Bound) -> anyhow::Result<()> {
    tracing::info!(addr = %bound.addr, "serving");
    axum::serve(bound.listener, router(bound.state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let bound = bind(config).await?;
    println!("repbook listening on http://{}", bound.addr);
    run(bound).await
}

async fn shutdown_signal() {
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
