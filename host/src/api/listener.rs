//! The connection layer between the socket and the router: who may hold a connection and for how long.
//! A client gets a bounded time to send its headers (which also bounds an idle keep-alive connection) and
//! its body; the server holds at most so many connections in all and per client address, and closes the
//! rest at once, before any buffer is allocated for them. That is what keeps a slowloris from starving
//! `/healthz` or the rep's pages. TLS (rustls) is optional; behind a reverse proxy, the client address
//! comes from `X-Forwarded-For` only when the connection is from a proxy the operator listed as trusted,
//! and so does whether the client spoke HTTPS (`X-Forwarded-Proto`): each request carries `Https`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io::BufReader;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

/// What a connection may take from the server.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Open connections in all; at the cap, a new one replaces the connection idle the longest (or, when
    /// every one is busy with a request, is closed at once).
    pub max_connections: usize,
    /// Open connections per client address (trusted proxies excepted); at the cap, a new one replaces
    /// that address's connection idle the longest.
    pub per_address: usize,
    /// Time to send a request's headers, and the longest a kept-alive connection may sit idle.
    pub header_timeout: Duration,
    /// Time to send a request's body, from its first byte of headers.
    pub body_timeout: Duration,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_connections: 4096,
            per_address: 64,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Descriptors kept for the store, the log, PMS calls and the like, beyond client connections.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft open-file limit to the hard one (systemd gives services a soft 1024) and returns the
/// number of client connections that fit under it.
#[cfg(unix)]
pub fn connection_room() -> usize {
    // SAFETY: getrlimit/setrlimit with a struct this function owns.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return usize::MAX;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        limit.rlim_cur.saturating_sub(RESERVED_DESCRIPTORS).max(1) as usize
    }
}

#[cfg(not(unix))]
pub fn connection_room() -> usize {
    usize::MAX
}

/// The certificate chain and key that turn the listener into HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no PEM certificate; --tls-cert takes the certificate chain, leaf first")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1); --tls-key takes the key")]
    NoKey { path: PathBuf },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Reads PEM files into a rustls acceptor (HTTP/1.1 only, like the plain listener).
pub fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let open = |path: &Path| {
        std::fs::File::open(path)
            .map(BufReader::new)
            .map_err(|source| TlsError::Read {
                path: path.to_path_buf(),
                source,
            })
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_reader_iter(open(&files.cert)?)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_reader(open(&files.key)?).map_err(|_| TlsError::NoKey {
        path: files.key.clone(),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The client's address as repbook counts it: the peer, or the first untrusted hop of `X-Forwarded-For`
/// when the peer is a trusted proxy. Rate limits and sign-in throttling key on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(addr) = parts.extensions.get::<ClientAddr>() {
            return Ok(*addr);
        }
        // Routers driven without the listener (unit tests) still have a peer, or at worst no address.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(ClientAddr(peer))
    }
}

/// Whether the client reached repbook over HTTPS: served here with TLS, or through a trusted proxy that
/// says so in `X-Forwarded-Proto` (its last value: the nearest proxy's word).
#[derive(Debug, Clone, Copy, Default)]
pub struct Https(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Https {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Https>().copied().unwrap_or_default())
    }
}

fn over_https(served_tls: bool, peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> bool {
    if served_tls {
        return true;
    }
    if !trusted.contains(&peer) {
        return false;
    }
    headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Walks `X-Forwarded-For` from the nearest hop back, skipping trusted proxies; the first other address is
/// the client. A missing or malformed header leaves the peer as the client.
fn client_addr(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else { return peer };
        for hop in text.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                Err(_) => return peer,
            }
        }
    }
    hops.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer)
}

/// Open connections, in all and per address. A slot is given back when its guard drops.
#[derive(Default)]
struct Occupancy {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
    /// The most connections open since memory was last handed back.
    peak: usize,
    /// Every open connection's address and activity, so a full server (or a full address) can close the
    /// one idle the longest.
    open: HashMap<u64, (IpAddr, Arc<Activity>)>,
    next_id: u64,
}

/// What the listener knows of a connection: whether a request is in flight, since when it has been idle
/// (from its accept, for one that never finished its headers), and how to close it.
struct Activity {
    in_flight: std::sync::atomic::AtomicUsize,
    idle_since: Mutex<Instant>,
    closing: std::sync::atomic::AtomicBool,
    close: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: Default::default(),
            idle_since: Mutex::new(Instant::now()),
            closing: Default::default(),
            close: tokio::sync::Notify::new(),
        }
    }

    fn idle(&self) -> Option<Instant> {
        use std::sync::atomic::Ordering::SeqCst;
        (self.in_flight.load(SeqCst) == 0 && !self.closing.load(SeqCst))
            .then(|| *self.idle_since.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A request in flight on a connection; its end makes the connection idle again.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Past this many open connections, a fall to a quarter of the peak hands freed memory back.
const TRIM_AFTER_PEAK: usize = 256;

/// Hands the allocator's free pages back to the system. glibc keeps what thousands of connections freed
/// (in per-thread arenas) for reuse; after a flood that would leave the server at its peak size for good.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

struct Slot {
    occupancy: Arc<Mutex<Occupancy>>,
    addr: IpAddr,
    id: u64,
    activity: Arc<Activity>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut occupancy = self.occupancy.lock().unwrap_or_else(|p| p.into_inner());
        occupancy.open.remove(&self.id);
        occupancy.total -= 1;
        if let Some(count) = occupancy.by_address.get_mut(&self.addr) {
            *count -= 1;
            if *count == 0 {
                occupancy.by_address.remove(&self.addr);
            }
        }
        if occupancy.peak >= TRIM_AFTER_PEAK && occupancy.total <= occupancy.peak / 4 {
            occupancy.peak = occupancy.total;
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn_blocking(release_freed_memory);
            }
        }
    }
}

/// A slot for a new connection from `addr`, or `None` when it must be closed at once because every
/// connection it would replace is busy with a request. An address at its share, or a full server, closes
/// its connection idle the longest (one that never finished its headers is idle since its accept) to make
/// room: a slowloris holding many connections, from one address or spread over many, cannot keep out a
/// health check or a real client, even one behind the same NAT.
fn take_slot(occupancy: &Arc<Mutex<Occupancy>>, addr: IpAddr, config: &ConnectionConfig) -> Option<Slot> {
    let mut guard = occupancy.lock().unwrap_or_else(|p| p.into_inner());
    let from_address = guard.by_address.get(&addr).copied().unwrap_or(0);
    // One eviction makes room for both caps when the victim is this address's own.
    let address_full = from_address >= config.per_address && !config.trusted_proxies.contains(&addr);
    if address_full || guard.total >= config.max_connections {
        let victim = guard
            .open
            .values()
            .filter(|(owner, _)| !address_full || *owner == addr)
            .filter_map(|(_, a)| a.idle().map(|since| (since, a)))
            .min_by_key(|(since, _)| *since)
            .map(|(_, a)| a.clone())?;
        victim.closing.store(true, std::sync::atomic::Ordering::SeqCst);
        victim.close.notify_one();
        crate::metrics::global().count_evicted_connection();
    }
    *guard.by_address.entry(addr).or_default() += 1;
    guard.total += 1;
    guard.peak = guard.peak.max(guard.total);
    let id = guard.next_id;
    guard.next_id += 1;
    let activity = Arc::new(Activity::new());
    guard.open.insert(id, (addr, activity.clone()));
    Some(Slot {
        occupancy: occupancy.clone(),
        addr,
        id,
        activity,
    })
}

/// A request body that must arrive within a deadline; afterwards it fails, and the handler's body
/// extractor answers 400 with the reason.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            let message = format!("the request body did not arrive within {} s", self.limit.as_secs());
            return Poll::Ready(Some(Err(message.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Accepts connections until `stop` resolves, then lets the open ones finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: ConnectionConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let config = Arc::new(config);
    let occupancy = Arc::new(Mutex::new(Occupancy::default()));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or the like: pause instead of spinning; connections that
                    // finish give descriptors back.
                    tracing::warn!(%error, "cannot accept a connection; pausing 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Some(slot) = take_slot(&occupancy, peer.ip(), &config) else {
            crate::metrics::global().count_refused_connection();
            tracing::debug!(%peer, "connection refused: too many open connections");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = connection(stream, peer, app.clone(), config.clone(), tls.clone(), slot, &graceful);
        tokio::spawn(connection);
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One connection: the TLS handshake (bounded like headers are), then HTTP/1.1 requests to the router.
fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    config: Arc<ConnectionConfig>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    slot: Slot,
    graceful: &hyper_util::server::graceful::GracefulShutdown,
) -> impl Future<Output = ()> + Send + 'static {
    let watcher = graceful.watcher();
    let served_tls = tls.is_some();
    async move {
        let activity = slot.activity.clone();
        let _slot = slot;
        let service = {
            let config = config.clone();
            let activity = activity.clone();
            hyper::service::service_fn(move |request: axum::http::Request<Incoming>| {
                let in_flight = InFlight::begin(&activity);
                let client = ClientAddr(client_addr(peer.ip(), request.headers(), &config.trusted_proxies));
                let https = over_https(served_tls, peer.ip(), request.headers(), &config.trusted_proxies);
                let limit = config.body_timeout;
                let mut request = request.map(|inner| {
                    axum::body::Body::new(DeadlineBody {
                        inner,
                        deadline: Box::pin(tokio::time::sleep(limit)),
                        limit,
                    })
                });
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(client);
                request.extensions_mut().insert(Https(https));
                let answer = app.clone().oneshot(request);
                async move {
                    let response = answer.await;
                    drop(in_flight);
                    response
                }
            })
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(config.header_timeout)
            // More than the 100 hyper allows, so that the router (not hyper's bare 431) answers up to its own
            // limit with the error envelope.
            .max_headers(256);
        // A full server may close this connection for a newer one while it sits idle.
        let evicted = activity.close.notified();
        let served = async {
            match tls {
                None => {
                    let _ = watcher
                        .watch(http.serve_connection(TokioIo::new(stream), service))
                        .await;
                }
                Some(acceptor) => match tokio::time::timeout(config.header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let _ = watcher
                            .watch(http.serve_connection(TokioIo::new(stream), service))
                            .await;
                    }
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                },
            }
        };
        tokio::select! {
            () = served => {}
            () = evicted => tracing::debug!(%peer, "idle connection closed to make room"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> axum::http::HeaderMap {
        let mut map = axum::http::HeaderMap::new();
        for value in xff {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        // A stranger cannot pick its own address by sending the header.
        assert_eq!(client_addr(stranger, &headers(&["203.0.113.9"]), &[proxy]), stranger);
        // Through the proxy, the nearest untrusted hop counts: a forged first entry does not.
        assert_eq!(
            client_addr(proxy, &headers(&["1.2.3.4, 203.0.113.9"]), &[proxy]),
            client
        );
        assert_eq!(
            client_addr(proxy, &headers(&["1.2.3.4", "203.0.113.9"]), &[proxy]),
            client
        );
        // Garbage or nothing: the proxy itself is the client (so one bad proxy shares one quota).
        assert_eq!(client_addr(proxy, &headers(&["not-an-ip"]), &[proxy]), proxy);
        assert_eq!(client_addr(proxy, &headers(&[]), &[proxy]), proxy);
    }

    #[test]
    fn a_full_address_or_server_closes_its_longest_idle_connection_and_never_a_busy_one() {
        use std::sync::atomic::Ordering::SeqCst;
        let config = ConnectionConfig {
            max_connections: 3,
            per_address: 2,
            ..Default::default()
        };
        let occupancy = Arc::new(Mutex::new(Occupancy::default()));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        let oldest = take_slot(&occupancy, a, &config).unwrap();
        let busy = take_slot(&occupancy, a, &config).unwrap();
        let _request = InFlight::begin(&busy.activity);

        // A third from one address replaces that address's idle connection, not its busy one.
        let again = take_slot(&occupancy, a, &config).unwrap();
        assert!(oldest.activity.closing.load(SeqCst));
        assert!(!busy.activity.closing.load(SeqCst));
        drop(oldest);
        let _again_request = InFlight::begin(&again.activity);
        assert!(
            take_slot(&occupancy, a, &config).is_none(),
            "every connection of that address is busy"
        );

        // Full: the newcomer gets in, and the connection idle the longest (another address's) closes.
        let idle = take_slot(&occupancy, b, &config).unwrap();
        let newcomer = take_slot(&occupancy, c, &config).unwrap();
        assert!(idle.activity.closing.load(SeqCst));
        drop(idle);

        // Full of busy connections: nobody else gets in, until one ends.
        let newcomer_request = InFlight::begin(&newcomer.activity);
        assert!(
            take_slot(&occupancy, b, &config).is_none(),
            "every open connection is busy"
        );
        drop(newcomer_request);
        drop(newcomer);
        assert!(
            take_slot(&occupancy, b, &config).is_some(),
            "a slot comes back when its connection ends"
        );
    }
}
