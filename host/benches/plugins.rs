//! Plugin call costs, in one run: a native Rust call of the same logic as `echo`'s describe, a per-call
//! instantiate + `describe` of the `echo` component, and a round trip through the `http` import to a
//! loopback server. Prints p50 and p99 of each, and the ratios. Run with `make bench`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use repbook::plugins::contract::{ConnectorInfo, Credential, SettingSpec};
use repbook::plugins::egress::OperatorPolicy;
use repbook::plugins::{CallContext, Registry, Runtime, SandboxLimits};
use repbook::store::Store;

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}

/// What echo's `describe` computes, as plain Rust.
#[inline(never)]
fn native_describe(name: &str, version: &str) -> ConnectorInfo {
    ConnectorInfo {
        name: name.into(),
        version: version.into(),
        pms: "Test PMS".into(),
        capabilities: vec!["appointments".into()],
        settings: vec![
            SettingSpec {
                name: "url".into(),
                label: "Health URL".into(),
                description: "where health calls go".into(),
                secret: false,
                required: false,
                default_value: None,
            },
            SettingSpec {
                name: "api_key".into(),
                label: "API key".into(),
                description: "sent as X-Api-Key to url's origin".into(),
                secret: true,
                required: false,
                default_value: None,
            },
        ],
        allowed_hosts: vec!["127.0.0.1".into()],
        credentials: vec![Credential {
            secret: "api_key".into(),
            header: "X-Api-Key".into(),
            origin_setting: "url".into(),
            scheme: repbook::plugins::contract::CredentialScheme::Verbatim,
        }],
    }
}

fn line(label: &str, (p50, p99): (Duration, Duration)) {
    println!(
        "{label:<48} p50 {:>9.2} µs   p99 {:>9.2} µs",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let echo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release/examples/echo.wasm");
    let bytes = std::fs::read(&echo).unwrap_or_else(|e| panic!("{}: {e}; run `make plugins`", echo.display()));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let operator = OperatorPolicy {
        allowed_hosts: None,
        allow_loopback: true,
        allow_private: false,
    };
    let runtime = Runtime::new(dir.path(), SandboxLimits::default(), Default::default(), operator).unwrap();
    println!("pooling allocator: {}", runtime.engine.pooling);
    let registry = Registry::open(runtime, store).await.unwrap();
    registry.install(&bytes).await.unwrap();
    let plugin = registry.get("echo").unwrap();

    let mut native = Vec::new();
    for _ in 0..20_000 {
        let t = Instant::now();
        std::hint::black_box(native_describe(std::hint::black_box("echo"), "1.0.0"));
        native.push(t.elapsed());
    }
    let native = stats(native);

    for _ in 0..200 {
        plugin.describe().await.unwrap();
    }
    let mut wasm = Vec::new();
    for _ in 0..5_000 {
        let t = Instant::now();
        std::hint::black_box(plugin.describe().await.unwrap());
        wasm.push(t.elapsed());
    }
    let wasm = stats(wasm);

    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut ctx = CallContext {
        settings: [("url".to_string(), url.clone())].into(),
        ..Default::default()
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        plugin.health(&mut ctx).await.unwrap();
        client.get(&url).send().await.unwrap().text().await.unwrap();
    }
    let mut direct = Vec::new();
    for _ in 0..2_000 {
        let t = Instant::now();
        client.get(&url).send().await.unwrap().text().await.unwrap();
        direct.push(t.elapsed());
    }
    let direct = stats(direct);
    let mut through = Vec::new();
    for _ in 0..2_000 {
        let t = Instant::now();
        plugin.health(&mut ctx).await.unwrap();
        through.push(t.elapsed());
    }
    let through = stats(through);

    line("native Rust describe (same logic)", native);
    line("instantiate + describe of echo.wasm", wasm);
    line("loopback GET, reqwest directly", direct);
    line("instantiate + health (http import -> loopback)", through);
    println!(
        "ratios (p50): wasm describe / native = {:.0}x; health via plugin / direct GET = {:.2}x; goal instantiate+call <= 20 µs: {}",
        wasm.0.as_secs_f64() / native.0.as_secs_f64().max(1e-9),
        through.0.as_secs_f64() / direct.0.as_secs_f64(),
        if wasm.0 <= Duration::from_micros(20) {
            "met"
        } else {
            "not met"
        }
    );
}
