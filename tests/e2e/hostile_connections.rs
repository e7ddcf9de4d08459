//! Slow clients cannot starve the server: 5,000 connections that never finish their headers, from one
//! address (held to its share: each new one replaces that address's longest idle) and then spread over a
//! hundred (filling the server, which then closes the longest idle ones),
//! while `/healthz` and a real API call keep answering; each stalled connection is closed by the header
//! timeout, and the server's memory comes back down after.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::support::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const STALLED: usize = 5_000;

/// Lets this process hold the attack's sockets.
fn raise_open_file_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit on a struct this function owns.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        limit.rlim_cur
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// A connection from `source` that sends half a request line's worth of headers and then nothing.
pub(crate) async fn stall(source: Ipv4Addr, server: SocketAddr) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).ok()?;
    let mut stream = socket.connect(server).await.ok()?;
    let _ = stream
        .write_all(b"GET /api/v1/clinics HTTP/1.1\r\nHost: repbook\r\nX-Slow: ")
        .await;
    Some(stream)
}

fn counter(metrics: &serde_json::Value, name: &str) -> u64 {
    metrics
        .as_str()
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
}

/// Times `/healthz` and an authenticated list from 127.0.0.1 while the attack holds its sockets.
async fn probe(server: &Server, rounds: usize) -> Vec<Duration> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut took = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let health = http.get(format!("{}/healthz", server.base)).send().await;
        took.push(started.elapsed());
        assert!(
            health.as_ref().is_ok_and(|r| r.status() == 200),
            "/healthz starved: {health:?}"
        );
        let list = http
            .get(format!("{}/api/v1/clinics", server.base))
            .bearer_auth(&server.token)
            .send()
            .await;
        assert!(list.as_ref().is_ok_and(|r| r.status() == 200), "API starved: {list:?}");
    }
    took.sort();
    took
}

/// Every stalled socket is closed by the server within `bound` (read sees the end, or a reset).
async fn all_closed_within(streams: Vec<TcpStream>, bound: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + bound;
    let mut open = 0;
    let mut waits = Vec::new();
    for mut stream in streams {
        waits.push(tokio::spawn(async move {
            let mut buf = [0u8; 256];
            loop {
                match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                    Err(_) => return false,
                    Ok(Ok(0)) | Ok(Err(_)) => return true,
                    // A 408 or similar before the close is fine; keep reading to the end.
                    Ok(Ok(_)) => continue,
                }
            }
        }));
    }
    for wait in waits {
        if !wait.await.unwrap() {
            open += 1;
        }
    }
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_slowloris_5000_stalled_connections_never_starve_healthz_and_memory_comes_back() {
    let limit = raise_open_file_limit();
    assert!(
        limit > STALLED as u64 + 500,
        "this test holds {STALLED} sockets; the open-file limit is {limit}"
    );
    let dir = tempfile::tempdir().unwrap();
    // Room for 2,000 connections: the spread attack fills the server, which then closes the connections
    // idle the longest to let the probes in.
    let mut server = Server::start_with_env(
        dir.path(),
        &[
            ("REPBOOK_HEADER_TIMEOUT_SECS", "2"),
            ("REPBOOK_MAX_CONNECTIONS", "2000"),
        ],
    )
    .await;
    let pid = server.pid();
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let baseline = probe(&server, 10).await;
    let rss_before = rss_kib(pid);

    // One address: it keeps its share (64) open; each newer connection replaces its longest idle one.
    let mut streams = Vec::new();
    for _ in 0..STALLED {
        if let Some(stream) = stall(Ipv4Addr::new(127, 0, 0, 2), addr).await {
            streams.push(stream);
        }
    }
    assert_eq!(streams.len(), STALLED, "the attacker could not even connect");
    let one_address = probe(&server, 20).await;
    let rss_one = rss_kib(pid);
    let (_, metrics) = server.get("/metrics").await;
    let replaced_one = counter(&metrics, "repbook_connections_evicted_total");
    let still_open = all_closed_within(streams, Duration::from_secs(6)).await;
    assert_eq!(still_open, 0, "stalled connections outlived the 2 s header timeout");

    // A hundred addresses, 50 each: every one is under the per-address cap; together they fill the server.
    let mut streams = Vec::new();
    for i in 0..STALLED {
        let source = Ipv4Addr::new(127, 0, 1, 1 + (i % 100) as u8);
        if let Some(stream) = stall(source, addr).await {
            streams.push(stream);
        }
    }
    assert_eq!(streams.len(), STALLED);
    let spread = probe(&server, 20).await;
    let rss_peak = rss_kib(pid);
    let still_open = all_closed_within(streams, Duration::from_secs(6)).await;
    assert_eq!(still_open, 0, "stalled connections outlived the 2 s header timeout");

    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = probe(&server, 10).await;
    let rss_after = rss_kib(pid);
    let (_, metrics) = server.get("/metrics").await;
    let refused = counter(&metrics, "repbook_connections_refused_total");
    let evicted = counter(&metrics, "repbook_connections_evicted_total");
    assert!(
        replaced_one >= (STALLED - 64) as u64,
        "per-address share: only {replaced_one} of one address's connections were replaced by newer ones"
    );
    assert!(evicted > replaced_one, "the full server never made room");
    println!(
        "healthz p50/max: idle {:?}/{:?}; 5000 stalled from one address {:?}/{:?}; 5000 from 100 addresses {:?}/{:?}; after {:?}/{:?}",
        baseline[baseline.len() / 2],
        baseline[baseline.len() - 1],
        one_address[one_address.len() / 2],
        one_address[one_address.len() - 1],
        spread[spread.len() / 2],
        spread[spread.len() - 1],
        after[after.len() / 2],
        after[after.len() - 1]
    );
    println!(
        "server RSS: before {rss_before} KiB, one-address attack {rss_one} KiB, spread attack peak {rss_peak} KiB, after {rss_after} KiB; {refused} connections refused on accept, {evicted} idle ones closed to make room ({replaced_one} of them in the one-address attack)"
    );
    // Memory follows the connections: what 5,000 held connections took is given back.
    assert!(
        rss_after < rss_before + 16 * 1024,
        "memory stayed up: {rss_before} KiB before, {rss_peak} KiB at the peak, {rss_after} KiB after"
    );
    server.terminate(Duration::from_secs(20));
}
