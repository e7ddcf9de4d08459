//! `hog` allocates without bound: the call fails at the memory limit and the host's resident memory stays
//! within limit + 32 MiB. Alone in its test binary so no other test's allocations disturb the reading.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::support::{component, plugin_registry};
use repbook::plugins::{CallContext, CallError, PluginError, SandboxLimits};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hog_fails_at_the_memory_limit_without_growing_host_rss_past_limit_plus_32_mib() {
    let limit = 64usize << 20;
    let dir = tempfile::tempdir().unwrap();
    let limits = SandboxLimits {
        memory_bytes: limit,
        guest_time: Duration::from_secs(10),
        ..Default::default()
    };
    let (registry, _) = plugin_registry(dir.path(), limits, false).await;
    registry.install(&component("hog")).await.unwrap();
    let hog = registry.get("hog").unwrap();

    let baseline = rss_bytes();
    let peak = Arc::new(AtomicU64::new(baseline));
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, running) = (peak.clone(), running.clone());
        std::thread::spawn(move || {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let error = hog.health(&mut CallContext::default()).await.unwrap_err();
    running.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    assert!(
        matches!(error, CallError::Runtime(PluginError::MemoryLimit { .. })),
        "{error}"
    );
    let growth = peak.load(Ordering::Relaxed).saturating_sub(baseline);
    println!(
        "hog stopped: {error}; host RSS grew by at most {} MiB (limit {} MiB)",
        growth >> 20,
        limit >> 20
    );
    assert!(growth < (limit as u64) + (32 << 20), "RSS grew by {} MiB", growth >> 20);
    // And the host still serves: the same plugin answers other calls.
    assert_eq!(hog.list_locations(&mut CallContext::default()).await.unwrap().len(), 4);
}
