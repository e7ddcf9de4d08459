//! How repbook is reached: loopback unless the operator says `--public`; HTTPS with `--tls-cert` and
//! `--tls-key`; behind a reverse proxy, the client address (which the rep routes' rate limits count) comes
//! from `X-Forwarded-For` only when the proxy is listed in `--trusted-proxies`.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::booking::{clinic, link, publish, rep, weekday};
use crate::support::{BIN, Server, listening_addr, local_date_in};
use serde_json::json;

/// The port a server started on port 0 listens on.
async fn listening_port(data: &std::path::Path, child: &mut std::process::Child) -> String {
    listening_addr(data, child)
        .await
        .rsplit(':')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn exposure_listening_beyond_loopback_needs_public() {
    let dir = tempfile::tempdir().unwrap();
    let refused = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("REPBOOK_PUBLIC")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--public") && said.contains("127.0.0.1"), "{said}");
}

#[tokio::test]
async fn exposure_public_without_tls_warns_and_https_serves_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("plain");
    let mut public = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--public", "--data-dir"])
        .arg(&data)
        .env_remove("REPBOOK_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port = listening_port(&data, &mut public).await;
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let _ = Command::new("kill").args(["-TERM", &public.id().to_string()]).status();
    let output = public.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("without TLS"), "{said}");

    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let data = dir.path().join("tls");
    std::fs::create_dir_all(&data).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--tls-cert")
        .arg(&cert_file)
        .arg("--tls-key")
        .arg(&key_file)
        .env_remove("REPBOOK_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let port = listening_port(&data, &mut child).await;
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let health = trusting
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // Plain HTTP to the HTTPS port gets no answer it could mistake for one.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    let _ = child.kill();
    let _ = child.wait();

    // A key file that is not a key says so at start.
    let broken = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("broken"))
        .arg("--tls-cert")
        .arg(&cert_file)
        .arg("--tls-key")
        .arg(&cert_file)
        .output()
        .unwrap();
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("no PEM private key"));
}

#[tokio::test]
async fn exposure_forwarded_for_counts_the_client_only_behind_a_trusted_proxy() {
    for trusted in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut env = vec![
            ("REPBOOK_PUBLIC_READS_PER_MINUTE", "3"),
            ("REPBOOK_PUBLIC_PER_LINK_PER_MINUTE", "100000"),
        ];
        if trusted {
            env.push(("REPBOOK_TRUSTED_PROXIES", "127.0.0.1"));
        }
        let server = Server::start_with_env(dir.path(), &env).await;
        let c = clinic(&server, "Australia/Sydney", "NSW").await;
        let day = local_date_in("Australia/Sydney", 10);
        publish(
            &server,
            &c.id,
            json!({"weekday": weekday(&day), "start": "12:00", "end": "13:00", "practitioner_id": c.ana}),
        )
        .await;
        let link_path = link(&server, &c.id, "All reps", &[]).await;
        let _ = rep;
        let http = reqwest::Client::new();
        let read_as = |client_ip: &'static str| {
            let request = http
                .get(format!("{}{link_path}/slots", server.base))
                .header("x-forwarded-for", format!("198.51.100.77, {client_ip}"));
            async move { request.send().await.unwrap().status().as_u16() }
        };
        // Three reads from one rep use up the quota...
        for _ in 0..3 {
            assert_eq!(read_as("203.0.113.1").await, 200);
        }
        assert_eq!(read_as("203.0.113.1").await, 429);
        // ...and another rep behind the same proxy is counted apart only when the proxy is trusted;
        // otherwise the header is a claim anyone could make, and everyone shares the proxy's quota.
        let other = read_as("203.0.113.2").await;
        if trusted {
            assert_eq!(other, 200, "a trusted proxy's clients are counted one by one");
        } else {
            assert_eq!(other, 429, "an untrusted X-Forwarded-For must not open a new quota");
        }
    }
}
