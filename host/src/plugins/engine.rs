//! The one wasmtime engine: configuration (component model, epoch interruption, pooling allocator when the
//! machine allows it), the epoch ticker, the on-disk cache of compiled components and per-call stores.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, SemaphorePermit};
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimitsBuilder, UpdateDeadline,
};

use super::PluginError;
use super::sandbox::HostState;
use super::wit;

const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-call sandbox limits.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Linear memory a guest may grow to.
    pub memory_bytes: usize,
    /// Wall-clock time per call spent in guest code, excluding time spent in host imports (HTTP).
    pub guest_time: Duration,
    /// Wall-clock bound on a whole call, HTTP included.
    pub wall_time: Duration,
    /// Calls running at once; more wait their turn.
    pub max_concurrent_calls: u32,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 64 << 20,
            guest_time: Duration::from_secs(2),
            wall_time: Duration::from_secs(120),
            max_concurrent_calls: 32,
        }
    }
}

pub struct PluginEngine {
    engine: Engine,
    linker: Linker<HostState>,
    cache_dir: PathBuf,
    compat_key: String,
    permits: Semaphore,
    pub limits: SandboxLimits,
    pub pooling: bool,
    compiled: AtomicU64,
    cache_hits: AtomicU64,
}

fn config(limits: &SandboxLimits, pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        let slots = limits.max_concurrent_calls;
        // A component instance of a Rust guest holds a few core instances (the guest plus adapters).
        pool.total_component_instances(slots)
            .total_core_instances(slots * 4)
            .total_memories(slots * 2)
            .total_tables(slots * 4)
            .total_stacks(slots)
            .max_memory_size(limits.memory_bytes)
            // Reusing a slot resets its first 64 KiB with memset instead of returning them to the kernel, so
            // the next call does not page-fault them back in. Measured on the echo bench: 23.4 -> 20.1 µs p50
            // per instantiate + call; 1 MiB made it worse (34 µs), 128 KiB no better (20.8 µs).
            .linear_memory_keep_resident(64 << 10)
            .table_keep_resident(1 << 16);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

impl PluginEngine {
    /// Builds the engine. Falls back from the pooling allocator to on-demand allocation where the machine
    /// refuses the pool's address-space reservation (small VMs).
    pub fn new(cache_dir: &Path, limits: SandboxLimits) -> Result<Self, PluginError> {
        std::fs::create_dir_all(cache_dir)
            .map_err(|e| PluginError::Cache(format!("cannot create {}: {e}", cache_dir.display())))?;
        let (engine, pooling) = match Engine::new(&config(&limits, true)) {
            Ok(engine) => (engine, true),
            Err(error) => {
                tracing::warn!(%error, "pooling allocator unavailable; using on-demand allocation");
                (
                    Engine::new(&config(&limits, false)).map_err(|e| PluginError::Engine(e.to_string()))?,
                    false,
                )
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| PluginError::Engine(e.to_string()))?;
        wit::add_to_linker(&mut linker)?;
        spawn_epoch_ticker(&engine);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(PluginEngine {
            compat_key: format!("{:016x}", hasher.finish()),
            permits: Semaphore::new(limits.max_concurrent_calls as usize),
            engine,
            linker,
            cache_dir: cache_dir.to_path_buf(),
            limits,
            pooling,
            compiled: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        })
    }

    /// The component for `bytes`, from the compiled cache when this engine compiled it before.
    /// Compiled files are machine code that runs without further checks, so each is loaded only when its
    /// SHA-256 matches the digest written beside it when it was compiled; otherwise it is compiled again
    /// from the component (a damaged cache costs a compile, never a crash).
    pub async fn component(&self, bytes: &[u8], sha256: &str) -> Result<Component, PluginError> {
        let path = self.cache_dir.join(format!("{sha256}-{}.cwasm", self.compat_key));
        let digest_path = path.with_extension("cwasm.sha256");
        if let Ok(compiled) = std::fs::read(&path) {
            let expected = std::fs::read_to_string(&digest_path).unwrap_or_default();
            let found = format!("{:x}", Sha256::digest(&compiled));
            if expected.trim() != found {
                tracing::warn!(path = %path.display(), "compiled component fails its digest check; compiling it again");
            } else {
                // SAFETY: these bytes are, digest for digest, what `precompile_component` of an engine with
                // the same compatibility hash produced and this host wrote into its own data dir.
                match unsafe { Component::deserialize(&self.engine, &compiled) } {
                    Ok(component) => {
                        self.cache_hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(component);
                    }
                    Err(error) => {
                        tracing::warn!(%error, path = %path.display(), "discarding unreadable compiled component")
                    }
                }
            }
        }
        let engine = self.engine.clone();
        let owned = bytes.to_vec();
        let started = Instant::now();
        let compiled = tokio::task::spawn_blocking(move || engine.precompile_component(&owned))
            .await
            .map_err(|e| PluginError::Compile(e.to_string()))?
            .map_err(|e| PluginError::Compile(format!("{e:#}")))?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            sha256,
            millis = started.elapsed().as_millis() as u64,
            "compiled component"
        );
        // The file first, its digest last: a crash in between leaves a file without a digest, which is
        // compiled again next time.
        let temp = path.with_extension("tmp");
        let digest_temp = path.with_extension("sha256.tmp");
        std::fs::write(&temp, &compiled)
            .and_then(|_| std::fs::rename(&temp, &path))
            .and_then(|_| std::fs::write(&digest_temp, format!("{:x}\n", Sha256::digest(&compiled))))
            .and_then(|_| std::fs::rename(&digest_temp, &digest_path))
            .map_err(|e| PluginError::Cache(format!("cannot write {}: {e}", path.display())))?;
        // SAFETY: these bytes were just produced by `precompile_component` on this engine.
        unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(|e| PluginError::Compile(format!("{e:#}")))
    }

    /// Links and type-checks a component against the WIT version it exports, once per plugin version.
    pub fn prepare(&self, component: &Component) -> Result<wit::Prepared, PluginError> {
        wit::prepare(&self.engine, &self.linker, component)
    }

    pub async fn permit(&self) -> Result<SemaphorePermit<'_>, PluginError> {
        self.permits
            .acquire()
            .await
            .map_err(|_| PluginError::Engine("engine shut down".into()))
    }

    /// A fresh store for one call, with the memory limit and the guest-time budget installed.
    pub fn store(&self, state: HostState) -> Store<HostState> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        let started = Instant::now();
        let budget = self.limits.guest_time;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |ctx| {
            let guest_time = started.elapsed().saturating_sub(ctx.data().host_time);
            // Yield each tick so a busy guest never holds a tokio worker.
            Ok(if guest_time > budget {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        store
    }

    pub fn store_limits(&self) -> wasmtime::StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(16)
            .trap_on_grow_failure(true)
            .build()
    }

    /// Components compiled by this process (cache misses).
    pub fn compiled_count(&self) -> u64 {
        self.compiled.load(Ordering::Relaxed)
    }

    pub fn cache_hit_count(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }
}

/// Ticks the engine's epoch from a plain thread, so it keeps ticking even when every tokio worker is busy
/// inside a guest; it ends when the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let _ = std::thread::Builder::new().name("wasm-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
}
