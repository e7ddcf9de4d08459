//! The plugin runtime with real components (plugins/testkit): deadlines, traps, the HTTP allowlist and
//! credential injection, hot swap under load, the compiled-component cache, and the install/activate/
//! rollback surface through the real binary.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Listener, Server, cli, component, component_path, plugin_registry};
use repbook::plugins::{CallContext, CallError, DeadlineKind, PluginError, SandboxLimits};

fn limits(guest_ms: u64) -> SandboxLimits {
    SandboxLimits {
        guest_time: Duration::from_millis(guest_ms),
        // Far beyond the guest budget, so a stop can only come from the guest-time bound.
        wall_time: Duration::from_secs(60),
        ..Default::default()
    }
}

fn ctx(settings: &[(&str, &str)]) -> CallContext {
    CallContext {
        clinic_id: "clinic".into(),
        site_id: Some("12345".into()),
        settings: settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_stops_at_its_deadline_while_other_calls_keep_being_served() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = plugin_registry(dir.path(), limits(500), false).await;
    registry.install(&component("spin")).await.unwrap();
    registry.install(&component("echo")).await.unwrap();

    let spin = registry.get("spin").unwrap();
    let started = Instant::now();
    let spinning = tokio::spawn(async move { spin.health(&mut ctx(&[])).await });
    let echo = registry.get("echo").unwrap();
    let mut served = 0;
    while !spinning.is_finished() {
        let locations = echo
            .list_locations(&mut ctx(&[]))
            .await
            .expect("echo answers while spin runs");
        assert_eq!(locations.len(), 4);
        served += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let error = spinning.await.unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            CallError::Runtime(PluginError::Deadline {
                bound: DeadlineKind::GuestTime,
                ..
            })
        ),
        "{error}"
    );
    assert!(elapsed < Duration::from_millis(500 + 250), "stopped after {elapsed:?}");
    assert!(served >= 5, "echo served only {served} calls during the spin");
    println!("spin stopped after {elapsed:?}; echo served {served} calls meanwhile");
}

#[tokio::test]
async fn trap_becomes_an_error_with_the_panic_message() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = plugin_registry(dir.path(), limits(2000), false).await;
    registry.install(&component("trap")).await.unwrap();
    let trap = registry.get("trap").unwrap();
    for _ in 0..3 {
        let error = trap.health(&mut ctx(&[])).await.unwrap_err();
        match error {
            CallError::Runtime(PluginError::Trapped { message, .. }) => {
                assert!(message.contains("deliberate panic in health"), "{message}")
            }
            other => panic!("expected a trap, got {other}"),
        }
    }
    // The instance that trapped is gone; the next call starts clean.
    assert_eq!(trap.list_locations(&mut ctx(&[])).await.unwrap().len(), 4);
}

#[tokio::test]
async fn dialer_is_denied_an_undeclared_host_before_any_packet_and_reaches_a_declared_one() {
    let declared = Listener::start("hello").await;
    let undeclared = Listener::start("should never be reached").await;
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = plugin_registry(dir.path(), limits(2000), true).await;
    registry.install(&component("dialer")).await.unwrap();
    let dialer = registry.get("dialer").unwrap();
    let declared_url = format!("http://127.0.0.1:{}/ok", declared.addr.port());
    // Same machine, other name: `localhost` is not in the dialer's declaration.
    let undeclared_url = format!("http://localhost:{}/x", undeclared.addr.port());
    let site = dialer
        .validate_site(&mut ctx(&[
            ("declared_url", &declared_url),
            ("undeclared_url", &undeclared_url),
        ]))
        .await
        .unwrap();
    assert_eq!(site.details["declared_url"], "status 200");
    assert!(
        site.details["undeclared_url"].starts_with("denied:"),
        "{:?}",
        site.details
    );
    assert_eq!(declared.connections.load(Ordering::SeqCst), 1);
    assert_eq!(
        undeclared.connections.load(Ordering::SeqCst),
        0,
        "a packet left for the undeclared host"
    );

    // Without the operator's loopback permission, even the declared loopback host is refused.
    let dir = tempfile::tempdir().unwrap();
    let (strict, _) = plugin_registry(dir.path(), limits(2000), false).await;
    strict.install(&component("dialer")).await.unwrap();
    let site = strict
        .get("dialer")
        .unwrap()
        .validate_site(&mut ctx(&[
            ("declared_url", &declared_url),
            ("undeclared_url", &undeclared_url),
        ]))
        .await
        .unwrap();
    assert!(site.details["declared_url"].contains("loopback"), "{:?}", site.details);
    assert_eq!(declared.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn credential_header_is_added_by_the_host_for_its_origin_only() {
    let listener = Listener::start("fine").await;
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = plugin_registry(dir.path(), limits(2000), true).await;
    registry.install(&component("echo")).await.unwrap();
    let echo = registry.get("echo").unwrap();
    let url = format!("http://127.0.0.1:{}/health", listener.addr.port());
    let mut call = ctx(&[("url", &url)]);
    call.secrets.insert("api_key".into(), "s3cret-key-value".into());
    let health = echo.health(&mut call).await.unwrap();
    assert_eq!(health.detail, "200 fine");
    let seen = listener.requests.lock().unwrap().clone();
    let request = seen[0].to_ascii_lowercase();
    assert!(request.contains("x-api-key: s3cret-key-value"), "{request}");
    assert!(
        !request.contains("guest-made-this-up"),
        "the guest's own credential header must be dropped: {request}"
    );

    // The dialer declares the same credential for the `url` origin but dials `declared_url`, another
    // origin: the key must not travel there.
    let other = Listener::start("other").await;
    registry.install(&component("dialer")).await.unwrap();
    let other_url = format!("http://127.0.0.1:{}/x", other.addr.port());
    let mut call = ctx(&[
        ("url", &url),
        ("declared_url", &other_url),
        ("undeclared_url", "http://localhost:9/"),
    ]);
    call.secrets.insert("api_key".into(), "s3cret-key-value".into());
    registry.get("dialer").unwrap().validate_site(&mut call).await.unwrap();
    let seen_other = other.requests.lock().unwrap()[0].to_ascii_lowercase();
    assert!(
        !seen_other.contains("s3cret") && !seen_other.contains("x-api-key"),
        "{seen_other}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_under_load_loses_no_call_and_never_mixes_versions() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = plugin_registry(dir.path(), limits(2000), false).await;
    registry.install(&component("echo")).await.unwrap();
    let v2 = registry.install(&component("echo-v2")).await.unwrap();
    assert!(!v2.activated, "a second version waits for activate");

    // Swaps are paced by progress, not by the clock: calls may run at most one phase (95 calls) ahead of the
    // swaps, and each swap starts mid-phase while other calls are in flight. A slow flush on a loaded
    // machine therefore cannot let the load finish before the swaps happen.
    const CALLS: usize = 2000;
    const SWAPS: usize = 20;
    const PHASE: usize = 95;
    let issued = Arc::new(AtomicUsize::new(0));
    let swaps = Arc::new(AtomicUsize::new(0));
    // Per version: answers from it; then failed calls and answers that mixed versions.
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let failed = Arc::new(AtomicUsize::new(0));
    let mixed = Arc::new(AtomicUsize::new(0));
    let answered = || seen[0].load(Ordering::SeqCst) + seen[1].load(Ordering::SeqCst) + failed.load(Ordering::SeqCst);
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (registry, issued, swaps, seen, failed, mixed) = (
            registry.clone(),
            issued.clone(),
            swaps.clone(),
            seen.clone(),
            failed.clone(),
            mixed.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let n = issued.fetch_add(1, Ordering::SeqCst);
                if n >= CALLS {
                    return;
                }
                while swaps.load(Ordering::SeqCst) < SWAPS && n >= (swaps.load(Ordering::SeqCst) + 1) * PHASE {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let locations = match registry.get("echo") {
                    Ok(plugin) => plugin.list_locations(&mut ctx(&[])).await.ok(),
                    Err(_) => None,
                };
                let Some(locations) = locations else {
                    failed.fetch_add(1, Ordering::SeqCst);
                    continue;
                };
                let version = if locations[0].name.contains("1.0.0") { 0 } else { 1 };
                let tag = ["echo 1.0.0", "echo 2.0.0"][version];
                if !locations.iter().all(|l| l.name.starts_with(tag)) {
                    mixed.fetch_add(1, Ordering::SeqCst);
                }
                seen[version].fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for swap in 0..SWAPS {
        while answered() < swap * PHASE + PHASE / 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let version = if swap % 2 == 0 { "2.0.0" } else { "1.0.0" };
        registry.activate("echo", version).await.unwrap();
        swaps.fetch_add(1, Ordering::SeqCst);
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let (v1_calls, v2_calls) = (seen[0].load(Ordering::SeqCst), seen[1].load(Ordering::SeqCst));
    println!("2000 calls: {v1_calls} answered by 1.0.0, {v2_calls} by 2.0.0");
    assert_eq!(failed.load(Ordering::SeqCst), 0, "calls failed during the swaps");
    assert_eq!(mixed.load(Ordering::SeqCst), 0, "answers mixed two versions");
    assert_eq!(v1_calls + v2_calls, CALLS);
    assert!(
        v1_calls > 0 && v2_calls > 0,
        "both versions should have served during the swaps"
    );
}

#[tokio::test]
async fn restart_after_install_loads_from_the_compiled_cache() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    {
        let (registry, _) = plugin_registry(dir.path(), limits(2000), false).await;
        registry.install(&component("echo")).await.unwrap();
        assert_eq!(registry.runtime().engine.compiled_count(), 1);
    }
    let first = started.elapsed();
    let started = Instant::now();
    let (registry, _) = plugin_registry(dir.path(), limits(2000), false).await;
    let second = started.elapsed();
    assert_eq!(
        registry.runtime().engine.compiled_count(),
        0,
        "restart must not recompile"
    );
    assert_eq!(registry.runtime().engine.cache_hit_count(), 1);
    assert_eq!(registry.get("echo").unwrap().version, "1.0.0");
    println!("install + compile: {first:?}; restart loading from cache: {second:?}");
}

#[tokio::test]
async fn install_refuses_bad_components_and_rollback_walks_back() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = plugin_registry(dir.path(), limits(2000), false).await;
    let not_wasm = registry.install(b"hello").await.unwrap_err();
    assert!(matches!(not_wasm, PluginError::Compile(_)), "{not_wasm}");
    // A valid core module, but not a component implementing the world.
    let core_module = b"\0asm\x01\0\0\0";
    assert!(registry.install(core_module).await.is_err());

    registry.install(&component("echo")).await.unwrap();
    let again = registry.install(&component("echo")).await.unwrap();
    assert!(again.already_installed);
    registry.install(&component("echo-v2")).await.unwrap();
    registry.activate("echo", "2.0.0").await.unwrap();
    let refused = registry.remove("echo", "2.0.0").await.unwrap_err();
    assert!(refused.to_string().contains("active version"), "{refused}");
    assert_eq!(registry.rollback("echo").await.unwrap(), "1.0.0");
    assert_eq!(registry.get("echo").unwrap().version, "1.0.0");
    assert!(registry.rollback("echo").await.is_err(), "nothing earlier than 1.0.0");
    registry.remove("echo", "2.0.0").await.unwrap();
    assert!(registry.activate("echo", "2.0.0").await.is_err());
}

#[tokio::test]
async fn plugin_install_list_activate_rollback_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let _server = Server::start(dir.path()).await;
    let data = dir.path();
    let installed = cli(
        data,
        &["plugin", "install", component_path("echo").to_str().unwrap(), "--json"],
    );
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let installed: serde_json::Value = serde_json::from_slice(&installed.stdout).unwrap();
    assert_eq!(installed["activated"], true);
    assert!(
        cli(
            data,
            &["plugin", "install", component_path("echo-v2").to_str().unwrap()]
        )
        .status
        .success()
    );
    assert!(cli(data, &["plugin", "activate", "echo", "2.0.0"]).status.success());
    let table = cli(data, &["plugin", "list"]);
    let text = String::from_utf8_lossy(&table.stdout).to_string();
    let active_line = text.lines().find(|l| l.contains("2.0.0")).unwrap_or_default();
    assert!(
        text.starts_with("NAME") && active_line.contains('*') && active_line.contains("127.0.0.1"),
        "{text}"
    );
    let rolled = cli(data, &["plugin", "rollback", "echo", "--json"]);
    let rolled: serde_json::Value = serde_json::from_slice(&rolled.stdout).unwrap();
    assert_eq!(rolled["active_version"], "1.0.0");
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x01\0\0\0").unwrap();
    let refused = cli(data, &["plugin", "install", garbage.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("component"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[tokio::test]
async fn cache_machine_code_overwritten_in_a_compiled_file_is_compiled_again_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path()).await;
    let installed = cli(
        dir.path(),
        &["plugin", "install", component_path("echo").to_str().unwrap()],
    );
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    server.terminate(Duration::from_secs(20));

    // int3 over the middle of every compiled file: run as it is, the server dies of SIGTRAP at start.
    let cache = dir.path().join("wasm-cache");
    let mut damaged = 0;
    let mut damaged_files = Vec::new();
    for entry in std::fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            let mut bytes = std::fs::read(&path).unwrap();
            let middle = bytes.len() / 2;
            let end = (middle + 64 * 1024).min(bytes.len());
            bytes[middle..end].fill(0xCC);
            std::fs::write(&path, &bytes).unwrap();
            damaged += 1;
            damaged_files.push((path, bytes));
        }
    }
    assert!(damaged > 0, "no compiled file in {}", cache.display());

    let log = dir.path().join("server.log");
    let server = Server::start_logged(dir.path(), &[], Some(&log)).await;
    let (status, plugins) = server.get("/api/v1/plugins").await;
    assert_eq!(status, 200, "{plugins}");
    assert_eq!(plugins["plugins"][0]["active_version"], "1.0.0", "{plugins}");
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("digest check"), "the recompile is logged: {said}");
    for (path, bytes) in damaged_files {
        assert_ne!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{} was compiled again",
            path.display()
        );
    }
}

#[tokio::test]
async fn cache_a_damaged_stored_component_is_refused_at_start_and_said_until_installed_again() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (registry, store) = plugin_registry(dir.path(), limits(2000), false).await;
        registry.install(&component("echo")).await.unwrap();
        // The stored bytes rot under their record.
        let record = store.plugin_record("echo", "1.0.0").unwrap().unwrap();
        let mut rotten = component("echo");
        let middle = rotten.len() / 2;
        rotten[middle] ^= 0x55;
        store.save_plugin(&record, &rotten).unwrap();
        store.durable().await.unwrap();
    }
    let (registry, _) = plugin_registry(dir.path(), limits(2000), false).await;
    let refused = registry.get("echo").map(|_| ()).unwrap_err();
    assert!(matches!(refused, PluginError::Unloadable { .. }), "{refused}");
    let said = refused.to_string();
    assert!(said.contains("damaged") && said.contains("install"), "{said}");

    // Installing the same build again repairs it, without a restart.
    let again = registry.install(&component("echo")).await.unwrap();
    assert!(again.already_installed);
    assert_eq!(registry.get("echo").unwrap().version, "1.0.0");
}
