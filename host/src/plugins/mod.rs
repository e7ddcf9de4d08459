//! PMS connectors as sandboxed WebAssembly components: the wasmtime engine and its limits, the host side
//! of the imports (HTTP through an allowlist, log, site cache), the registry that installs, activates and
//! rolls back plugin versions at run time. This is the only module that knows wasmtime.

mod bindings;
mod connector;
pub mod contract;
pub mod egress;
mod engine;
mod registry;
mod sandbox;

use std::path::Path;
use std::sync::Arc;

use thiserror::Error;

pub use connector::LoadedPlugin;
pub use contract::{CallContext, ConnectorFailure};
pub use engine::{PluginEngine, SandboxLimits};
pub use registry::{InstallOutcome, PluginSummary, Registry};
pub use sandbox::HttpLimits;

use crate::store::StoreError;

/// Why the runtime could not run a plugin call (as opposed to the connector reporting a PMS failure).
#[derive(Debug, Error)]
pub enum PluginError {
    #[error("no plugin named '{0}' is installed; install one with `repbook plugin install FILE.wasm`")]
    NotInstalled(String),
    #[error("plugin {name} has no version {version}; `repbook plugin list` shows the installed ones")]
    UnknownVersion { name: String, version: String },
    #[error("the file is not a usable WebAssembly component: {0}")]
    Compile(String),
    #[error("the component does not implement repbook:pms@0.1.0 (world connector-world): {0}")]
    Incompatible(String),
    #[error("plugin {plugin} ran past its time budget ({budget_ms} ms; stopped after {elapsed_ms} ms)")]
    Deadline {
        plugin: String,
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

/// A call's failure: from the runtime, or the connector's own report about the PMS.
#[derive(Debug, Error)]
pub enum CallError {
    #[error(transparent)]
    Runtime(#[from] PluginError),
    #[error(transparent)]
    Connector(ConnectorFailure),
}

/// Shared by every loaded plugin: the engine, the HTTP client, the operator's network policy.
pub struct Runtime {
    pub engine: PluginEngine,
    pub http: reqwest::Client,
    pub http_limits: HttpLimits,
    pub operator: egress::OperatorPolicy,
}

impl Runtime {
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
