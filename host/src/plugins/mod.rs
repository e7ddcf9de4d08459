//! PMS connectors as sandboxed WebAssembly components: the wasmtime engine and its limits, the host side
//! of the imports (HTTP through an allowlist, log, site cache), the registry that installs, activates and
//! rolls back plugin versions at run time. This is the only module that knows wasmtime.

mod connector;
pub mod contract;
pub mod egress;
mod engine;
mod registry;
mod sandbox;
mod wit;

use std::path::Path;
use std::sync::Arc;

use thiserror::Error;

pub use connector::LoadedPlugin;
pub use contract::{CallContext, ConnectorFailure};
pub use engine::{PluginEngine, SandboxLimits};
pub use registry::{InstallOutcome, PluginSummary, Registry};
pub use sandbox::HttpLimits;
pub use wit::WitVersion;

use crate::store::StoreError;

/// Why the runtime could not run a plugin call (as opposed to the connector reporting a PMS failure).
#[derive(Debug, Error)]
pub enum PluginError {
    #[error("no plugin named '{0}' is installed; install one with `repbook plugin install FILE.wasm`")]
    NotInstalled(String),
    #[error(
        "connector '{name}' is installed but cannot load: {reason}. Install the component again \
         (`repbook plugin install FILE.wasm`) or roll back to another version"
    )]
    Unloadable { name: String, reason: String },
    #[error("plugin {name} has no version {version}; `repbook plugin list` shows the installed ones")]
    UnknownVersion { name: String, version: String },
    #[error("the file is not a usable WebAssembly component: {0}")]
    Compile(String),
    #[error("the component is not a repbook connector (world connector-world of repbook:pms): {0}")]
    Incompatible(String),
    #[error("plugin {plugin} ran past its {bound} ({budget_ms} ms; stopped after {elapsed_ms} ms)")]
    Deadline {
        plugin: String,
        bound: DeadlineKind,
        budget_ms: u64,
        elapsed_ms: u64,
    },
    #[error("plugin {plugin} hit its memory limit ({limit_mib} MiB) and was stopped")]
    MemoryLimit { plugin: String, limit_mib: usize },
    #[error("plugin {plugin} crashed: {message}")]
    Trapped { plugin: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("compiled-component cache: {0}")]
    Cache(String),
    #[error("wasm engine: {0}")]
    Engine(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which bound stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineKind {
    /// Wall-clock time spent running guest code: waiting in host calls (the PMS) does not count; on a
    /// machine short of cores, waiting for one does (it is not the kernel's CPU-time accounting).
    GuestTime,
    /// The whole call's wall-clock time, waiting for the PMS included.
    WallClock,
}

impl std::fmt::Display for DeadlineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeadlineKind::GuestTime => "guest-time budget",
            DeadlineKind::WallClock => "wall-clock bound",
        })
    }
}

/// A call's failure: from the runtime, or the connector's own report about the PMS.
#[derive(Debug, Error)]
pub enum CallError {
    #[error(transparent)]
    Runtime(#[from] PluginError),
    #[error(transparent)]
    Connector(ConnectorFailure),
}

/// The operator's limits and network policy for connector plugins.
#[derive(Debug, Clone, Default)]
pub struct PluginConfig {
    pub sandbox: SandboxLimits,
    pub http: HttpLimits,
    /// Let plugins reach loopback addresses (only for a local simulator).
    pub allow_loopback: bool,
    /// Let plugins reach private and link-local addresses (a PMS or calendar on the clinic's network).
    pub allow_private: bool,
    /// Hosts plugins may reach, narrowing what each declares; `None` allows what they declare.
    pub allowed_hosts: Option<Vec<String>>,
}

impl PluginConfig {
    pub fn policy(&self) -> Result<egress::OperatorPolicy, PluginError> {
        let allowed_hosts = match &self.allowed_hosts {
            None => None,
            Some(hosts) => Some(
                hosts
                    .iter()
                    .map(|h| {
                        egress::HostRule::parse(h)
                            .map_err(|e| PluginError::Invalid(format!("allowed plugin hosts: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(egress::OperatorPolicy {
            allowed_hosts,
            allow_loopback: self.allow_loopback,
            allow_private: self.allow_private,
        })
    }
}

/// Shared by every loaded plugin: the engine, the HTTP client, the operator's network policy.
pub struct Runtime {
    pub engine: PluginEngine,
    pub http: reqwest::Client,
    pub http_limits: HttpLimits,
    pub operator: egress::OperatorPolicy,
}

impl Runtime {
    pub fn from_config(data_dir: &Path, config: &PluginConfig) -> Result<Arc<Runtime>, PluginError> {
        Runtime::new(data_dir, config.sandbox.clone(), config.http.clone(), config.policy()?)
    }

    pub fn new(
        data_dir: &Path,
        limits: SandboxLimits,
        http_limits: HttpLimits,
        operator: egress::OperatorPolicy,
    ) -> Result<Arc<Runtime>, PluginError> {
        let engine = PluginEngine::new(&data_dir.join("wasm-cache"), limits)?;
        let http = reqwest::Client::builder()
            // A redirect could lead anywhere; the guest sees the 3xx and any follow-up goes through the check.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            // Every name is resolved through the operator's rule on addresses (IP literals are checked on
            // the URL's text before a request leaves).
            .dns_resolver(Arc::new(egress::PolicyResolver(operator.reachable())))
            .build()
            .map_err(|e| PluginError::Engine(format!("HTTP client: {e}")))?;
        Ok(Arc::new(Runtime {
            engine,
            http,
            http_limits,
            operator,
        }))
    }
}
