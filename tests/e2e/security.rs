//! Security, second round: what an attacker holding a plain-HTTP page on the clinic's host, one booking
//! link, or a stream of guesses can still do, each through the real binary. The session cookie over
//! HTTPS (in Chromium, with a plain-HTTP page on the same host trying to read and toss it), HSTS, wrong
//! bearer tokens throttled per address, one address's stalled connections never keeping out its own
//! health probe, and answers that carry reps' details kept out of caches and content sniffing.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::hostile_connections::stall;
use crate::support::booking::{book, clinic, link, publish, publish_noons, rep, weekday};
use crate::support::browser::{Admin, Browser};
use crate::support::{HTTPS_HOST, Listener, Server, local_date_in};

/// Alice of Acme books `day` at 12:00 with `doctor` through `link`; the 201's body.
async fn book_alice_at_noon(server: &Server, link: &str, day: &str, doctor: &str) -> Value {
    let who = rep("Alice Tan", "Acme Pharma", "alice@acme.test");
    let (status, booked) = book(server, link, &format!("{day}T12:00"), Some(doctor), who).await;
    assert_eq!(status, 201, "{booked}");
    booked
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// The value of cookie `name` in a `Set-Cookie` line.
fn cookie_value(set_cookie: &str, name: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {set_cookie}"))
        .to_string()
}

async fn sign_in(http: &reqwest::Client, base: &str, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = http
        .post(format!("{base}/api/v1/session"))
        .json(&json!({ "token": token }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "a new host's token opens the session that makes its owner"
    );
    response
}

/// Over HTTPS the session cookie is `__Host-…; Secure` and answers carry HSTS, so a page served over plain
/// HTTP on the same host (cookies are per host, not per port) never receives it and cannot toss one that
/// signs the manager out. Checked in Chromium, as the manager's browser would behave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_session_cookie_over_https_never_reaches_a_plain_http_page_and_cannot_be_tossed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let server = Server::start_https(&data, &[], None).await;
    clinic(&server, "Australia/Sydney", "NSW").await;

    // What the server says, read plainly.
    let signed = sign_in(server.client(), &server.base, &server.token, &[]).await;
    let cookies = set_cookies(&signed);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("__Host-repbook_session="), "{cookie}");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} missing: {cookie}"
        );
    }
    assert!(!cookie.contains("Domain="), "a __Host- cookie is host-only: {cookie}");
    assert_eq!(
        signed
            .headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap()),
        Some("max-age=31536000")
    );

    // A page over plain HTTP on the same host: it records what the browser sends it, and tries to toss
    // session cookies of both names.
    let plain = Listener::start_with_headers(
        "set-cookie: repbook_session=tossed; Path=/api\r\nset-cookie: __Host-repbook_session=tossed; Path=/\r\n",
        "<!doctype html><title>another service on the clinic's server</title><p>hello",
    )
    .await;
    let resolve = format!("--host-resolver-rules=MAP {HTTPS_HOST} 127.0.0.1");
    let browser = Browser::start_with_args(1280, 900, &["--ignore-certificate-errors", &resolve]).await;
    let admin = Admin { browser: &browser };
    admin.sign_in(&server.base, &server.token).await;
    let jar = browser.client.get_all_cookies().await.unwrap();
    let session: Vec<String> = jar
        .iter()
        .filter(|c| c.name().ends_with("repbook_session"))
        .map(|c| c.value().to_string())
        .collect();
    assert_eq!(session.len(), 1, "{jar:?}");
    let plain_url = format!("http://{HTTPS_HOST}:{}", plain.addr.port());
    browser.goto(&format!("{plain_url}/")).await;
    browser.goto(&format!("{plain_url}/api/v1/session")).await;
    let seen = plain.requests.lock().unwrap().clone();
    assert!(seen.len() >= 2, "{seen:?}");
    for request in &seen {
        assert!(
            !request.contains(&session[0]),
            "the session cookie went to a plain-HTTP page:\n{request}"
        );
    }
    // The tossed cookie is in the browser now (the page under /api carried it back), yet the manager stays
    // signed in.
    assert!(
        seen.iter()
            .any(|r| r.starts_with("GET /api/v1/session") && r.contains("repbook_session=tossed")),
        "{seen:?}"
    );
    browser.goto(&format!("{}/", server.base)).await;
    browser
        .until(
            "the clinic's workspace, still signed in after the toss",
            "!document.getElementById('workspace').hidden",
        )
        .await;
    browser.close().await;
}

/// Over plain HTTP any page of the host can set `repbook_session`: a live one among several counts. Behind
/// a trusted proxy that says `X-Forwarded-Proto: https`, the cookie is Secure with HSTS; the same header
/// from anyone else changes nothing.
#[tokio::test]
async fn security_a_tossed_cookie_is_outvoted_and_a_trusted_proxys_https_is_believed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &[("REPBOOK_TRUSTED_PROXIES", "127.0.0.2")]).await;
    let http = reqwest::Client::new();
    let signed = sign_in(&http, &server.base, &server.token, &[]).await;
    let cookie = &set_cookies(&signed)[0];
    assert!(
        cookie.starts_with("repbook_session=") && !cookie.contains("Secure"),
        "{cookie}"
    );
    assert!(signed.headers().get("strict-transport-security").is_none());
    let value = cookie_value(cookie, "repbook_session");
    let session = http
        .get(format!("{}/api/v1/session", server.base))
        .header("cookie", format!("repbook_session=tossed; repbook_session={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        session.status(),
        200,
        "a tossed cookie before the live one signed the manager out"
    );

    // The same X-Forwarded-Proto from a client that is not the proxy: still plain.
    let pretending = sign_in(&http, &server.base, &server.token, &[("x-forwarded-proto", "https")]).await;
    assert!(set_cookies(&pretending)[0].starts_with("repbook_session="));
    assert!(pretending.headers().get("strict-transport-security").is_none());

    // From the trusted proxy's address.
    let port = server.base.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let proxy = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let proxied = sign_in(&proxy, &base, &server.token, &[("x-forwarded-proto", "https")]).await;
    let cookie = &set_cookies(&proxied)[0];
    assert!(
        cookie.starts_with("__Host-repbook_session=") && cookie.contains("; Secure"),
        "{cookie}"
    );
    assert!(proxied.headers().get("strict-transport-security").is_some());
    // Under HTTPS only the __Host- name is read: a plain-named cookie (which anyone can set) is not.
    let value = cookie_value(cookie, "__Host-repbook_session");
    let answer = |cookie: String| {
        let proxy = proxy.clone();
        let base = base.clone();
        async move {
            proxy
                .get(format!("{base}/api/v1/session"))
                .header("x-forwarded-proto", "https")
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(answer(format!("__Host-repbook_session={value}")).await, 200);
    assert_eq!(answer(format!("repbook_session={value}")).await, 401);
}

/// Wrong bearer tokens count per client address on every route: past the limit (20 a minute) the address
/// is answered 429, even with the right token, while another address is served; each wrong one is logged
/// with the address and never the token's text.
#[tokio::test]
async fn security_wrong_bearer_tokens_are_throttled_per_address_and_logged_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let log = dir.path().join("server.log");
    let server = Server::start_logged(&data, &[("REPBOOK_TRUSTED_PROXIES", "127.0.0.1")], Some(&log)).await;
    let http = reqwest::Client::new();
    let call = |from: &'static str, token: String, path: &'static str| {
        let http = http.clone();
        let url = format!("{}{path}", server.base);
        async move {
            http.get(url)
                .header("x-forwarded-for", from)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let guesser = "203.0.113.5";
    let mut answers = Vec::new();
    for n in 0..30 {
        let path = if n % 2 == 0 { "/api/v1/clinics" } else { "/metrics" };
        answers.push(call(guesser, format!("guess-{n:04}-not-the-token"), path).await);
    }
    assert_eq!(&answers[..20], &[401; 20], "{answers:?}");
    assert_eq!(&answers[20..], &[429; 10], "{answers:?}");
    assert_eq!(call(guesser, server.token.clone(), "/api/v1/clinics").await, 429);
    assert_eq!(call("203.0.113.6", server.token.clone(), "/api/v1/clinics").await, 200);

    let logged = std::fs::read_to_string(&log).unwrap();
    let wrong = logged
        .lines()
        .filter(|l| l.contains("a request with a wrong API token"))
        .count();
    assert_eq!(wrong, 20, "{logged}");
    assert!(
        logged.contains(guesser) && logged.contains("too many wrong tokens"),
        "{logged}"
    );
    assert!(!logged.contains("not-the-token"), "a guessed token reached the log");
}

/// An address at its connection share (here 40) with every connection stalled mid-headers still gets its
/// health probe answered: the newcomer replaces that address's longest idle connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_stalled_connections_do_not_keep_out_their_own_addresss_probe() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &[("REPBOOK_CONNECTIONS_PER_ADDRESS", "40")]).await;
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let shared = Ipv4Addr::new(127, 0, 0, 3);
    let mut stalled = Vec::new();
    for _ in 0..1500 {
        if let Some(stream) = stall(shared, addr).await {
            stalled.push(stream);
        }
    }
    assert_eq!(stalled.len(), 1500);
    let probe = reqwest::Client::builder()
        .local_address(IpAddr::V4(shared))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut took = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let health = probe.get(format!("{}/healthz", server.base)).send().await;
        assert!(
            health.as_ref().is_ok_and(|r| r.status() == 200),
            "the probe from the stalled address was kept out: {health:?}"
        );
        took.push(started.elapsed());
    }
    took.sort();
    println!(
        "healthz from an address holding 1500 stalled connections: p50 {:?}, max {:?}",
        took[5], took[9]
    );
}

/// JSON that carries a rep's details (the manage link's booking, the admin's lists) is never cached and
/// never sniffed as something else.
#[tokio::test]
async fn security_answers_with_reps_details_are_no_store_and_nosniff() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 3);
    publish_noons(&server, &c.id, &c.ana, &[&day], None).await;
    let capability = link(&server, &c.id, "Reps", &[]).await;
    let booked = book_alice_at_noon(&server, &capability, &day, &c.ana).await;
    let manage = booked["manage_url"].as_str().unwrap();
    let http = reqwest::Client::new();
    let headers_of = |response: &reqwest::Response| -> Value {
        json!({
            "nosniff": response.headers().get("x-content-type-options").map(|v| v.to_str().unwrap()),
            "cache": response.headers().get("cache-control").map(|v| v.to_str().unwrap()),
        })
    };
    let expected = json!({"nosniff": "nosniff", "cache": "no-store"});
    let visit = http
        .get(format!("{}{manage}/booking", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(visit.status(), 200);
    assert_eq!(headers_of(&visit), expected, "{manage}/booking");
    let list = http
        .get(format!("{}/api/v1/clinics/{}/appointments", server.base, c.id))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    assert_eq!(headers_of(&list), expected, "the admin's list");
    let refused = http
        .get(format!("{}{manage}x/booking", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(headers_of(&refused), expected, "an error answer");
}

/// `%36…` routes to the same link as `6…`: the per-link limit counts what the router sees, so one
/// address cannot exhaust a link for everyone and still reach it under another spelling. Likewise for a
/// manage token.
#[tokio::test]
async fn security_per_link_limits_count_the_decoded_capability() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        dir.path(),
        &[
            ("REPBOOK_PUBLIC_READS_PER_MINUTE", "100000"),
            ("REPBOOK_PUBLIC_WRITES_PER_MINUTE", "100000"),
            ("REPBOOK_PUBLIC_PER_LINK_PER_MINUTE", "6"),
        ],
    )
    .await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 3);
    publish_noons(&server, &c.id, &c.ana, &[&day], None).await;
    let book_path = link(&server, &c.id, "Reps", &[]).await;
    let booked = book_alice_at_noon(&server, &book_path, &day, &c.ana).await;
    let manage_path = booked["manage_url"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    // The capability with its first character percent-encoded: the same link to the router.
    let encoded = |path: &str| {
        let (prefix, capability) = path.rsplit_once('/').unwrap();
        let first = capability.as_bytes()[0];
        format!("{prefix}/%{first:02X}{}", &capability[1..])
    };
    for (path, tail) in [(book_path.clone(), "/slots"), (manage_path.clone(), "/booking")] {
        let mut answers = Vec::new();
        for n in 0..10 {
            let spelled = if n < 5 { path.clone() } else { encoded(&path) };
            let response = http
                .get(format!("{}{spelled}{tail}", server.base))
                .send()
                .await
                .unwrap();
            answers.push(response.status().as_u16());
        }
        // The booking above used one request of the link's minute.
        let used = if path == book_path { 1 } else { 0 };
        let allowed = 6 - used;
        assert!(
            answers[..allowed].iter().all(|s| *s == 200) && answers[allowed..].iter().all(|s| *s == 429),
            "{path}{tail}: {answers:?}"
        );
    }
}

/// Text that reaches other programs: a bare CR in the visiting instructions never reaches the `.ics` raw;
/// invisible characters in names are refused with what to fix (the zero-width non-joiner, which Persian
/// names need, is kept and the CLI prints it escaped); error messages name no internals.
#[tokio::test]
async fn security_text_reaching_other_programs_is_clean_and_errors_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    crate::support::booking::set_rules(
        &server,
        &c.id,
        json!({"visiting_instructions": "Sign in at reception\rthen wait in room 2"}),
    )
    .await;
    let day = local_date_in("Australia/Sydney", 3);
    publish_noons(&server, &c.id, &c.ana, &[&day], None).await;
    let book_path = link(&server, &c.id, "Reps", &[]).await;
    for (name, code) in [
        ("Al\u{200B}ice", "U+200B"),
        ("Alice\u{2028}Tan", "U+2028"),
        ("\u{FEFF}Alice", "U+FEFF"),
    ] {
        let (status, body) = book(
            &server,
            &book_path,
            &format!("{day}T12:00"),
            Some(&c.ana),
            rep(name, "Acme", "alice@acme.test"),
        )
        .await;
        assert_eq!(status, 422, "{name:?}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("rep.name") && message.contains(code) && message.contains("remove it"),
            "{message}"
        );
    }
    let (status, booked) = book(
        &server,
        &book_path,
        &format!("{day}T12:00"),
        Some(&c.ana),
        rep("Ali\u{200C}reza Karimi", "Acme", "alireza@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{booked}");

    let manage = booked["manage_url"].as_str().unwrap();
    let ics = reqwest::get(format!("{}{manage}/booking.ics", server.base))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let bare_cr = ics.windows(2).filter(|w| w[0] == b'\r' && w[1] != b'\n').count();
    assert_eq!(bare_cr, 0, "a bare CR in the .ics:\n{}", String::from_utf8_lossy(&ics));
    let unfolded = String::from_utf8_lossy(&ics).replace("\r\n ", "");
    assert!(
        unfolded.contains("Sign in at reception\\nthen wait in room 2"),
        "{unfolded}"
    );

    let listed = crate::support::cli(
        &server.data_dir,
        &["appt", "list", "--clinic", &c.id, "--server", &server.base],
    );
    let printed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{printed}");
    assert!(printed.contains("Ali\\u{200c}reza"), "{printed}");
    assert!(!printed.contains('\u{200C}'), "printed raw: {printed:?}");

    // Errors that used to name internals.
    let post = |body: &'static str| {
        let url = format!("{}{book_path}/bookings", server.base);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post("5").await;
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("expected a JSON object") && !message.contains("struct") && !message.contains("Booking"),
        "{message}"
    );
    for start in ["9999-12-31T23:59+14:00", "-009999-01-01T00:00"] {
        let body = format!(r#"{{"start": "{start}", "rep": {{"name": "A", "company": "B", "email": "a@b.test"}}}}"#);
        let (status, answer) = post(Box::leak(body.into_boxed_str())).await;
        let message = answer["error"]["message"].as_str().unwrap_or_default().to_string();
        assert!((400..500).contains(&status), "{start}: {status} {answer}");
        assert!(
            !message.contains("overflow") && !message.contains("converting") && !message.contains("jiff"),
            "{start}: {message}"
        );
    }
}

async fn install_caldav(server: &Server) {
    let component = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release/caldav.wasm"),
    )
    .expect("caldav.wasm: run `make plugins` first");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/plugins", server.base))
        .bearer_auth(&server.token)
        .header("content-type", "application/wasm")
        .body(component)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
}

/// Validates `clinic` against a CalDAV `server_url`; the answer's status and message.
async fn validate_caldav(server: &Server, clinic: &str, server_url: &str) -> (u16, String) {
    let settings = json!({"connector": "caldav", "enabled": true, "site_id": "rep-visits",
        "settings": {"server_url": server_url, "username": crate::support::radicale::USER,
                     "password": crate::support::radicale::PASSWORD, "practitioners": "1|Dr Ana Ng|MED0001234567"}});
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/clinics/{clinic}/pms"),
            Some(settings),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{clinic}/pms/validate"), json!({}))
        .await;
    let message = body["error"]["message"].as_str().unwrap_or_default().to_string();
    (status, message)
}

/// A clinic's CalDAV `server_url` is the one egress an admin sets: every spelling of this machine
/// (`0.0.0.0`, `0`, `127.1`, `[::ffff:7f00:1]`, a name that resolves to 127.0.0.1) and the private and
/// link-local ranges are refused before any packet leaves, unless the operator allows them; an IPv6
/// server the operator allows is reachable (its literal matches the declaration).
#[tokio::test]
async fn security_egress_refuses_every_spelling_of_this_machine_and_private_ranges_and_takes_ipv6() {
    let listener = Listener::start("must never be reached").await;
    let port = listener.addr.port();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &[("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "false")]).await;
    install_caldav(&server).await;
    let clinic = server.create_clinic("Egress GP", "Australia/Sydney", "NSW").await;
    let mut spellings: Vec<(String, &str)> = vec![
        (format!("https://0.0.0.0:{port}/dav/"), "loopback"),
        (format!("https://0:{port}/dav/"), "loopback"),
        (format!("https://127.1:{port}/dav/"), "loopback"),
        (format!("https://[::ffff:7f00:1]:{port}/dav/"), "loopback"),
        (format!("https://localhost.:{port}/dav/"), "loopback"),
        (format!("https://169.254.169.254:{port}/latest/"), "link-local"),
        (format!("https://10.0.0.8:{port}/dav/"), "private"),
        (format!("https://[fd12::8]:{port}/dav/"), "private"),
    ];
    // A name (not a literal) that resolves to this machine: checked on the resolved address.
    let name = String::from_utf8(std::process::Command::new("hostname").output().unwrap().stdout).unwrap();
    let name = name.trim().to_string();
    let resolves_here = tokio::net::lookup_host((name.as_str(), 0))
        .await
        .map(|mut addrs| addrs.all(|a| a.ip().is_loopback()))
        .unwrap_or(false);
    if resolves_here && !name.is_empty() {
        spellings.push((format!("https://{name}:{port}/dav/"), "loopback"));
    } else {
        println!("note: this machine's name ({name:?}) does not resolve to loopback; that case is not run");
    }
    for (url, reach) in &spellings {
        let (status, message) = validate_caldav(&server, &clinic, url).await;
        assert!(status >= 400, "{url} was accepted");
        assert!(message.contains(reach), "{url}: {status} {message}");
    }
    assert_eq!(
        listener.connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a packet reached this machine"
    );
    println!(
        "{} server URLs refused before connecting, resolved-name case {}",
        spellings.len(),
        if resolves_here { "run" } else { "skipped" }
    );

    // With loopback allowed, a CalDAV server reached by an IPv6 literal works.
    let radicale = crate::support::radicale::Radicale::start().await;
    radicale.make_collection("rep-visits", true).await;
    let dir = tempfile::tempdir().unwrap();
    let open = Server::start_with_env(dir.path(), &[("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true")]).await;
    install_caldav(&open).await;
    let clinic = open.create_clinic("IPv6 GP", "Australia/Sydney", "NSW").await;
    let home = radicale.home().replace("127.0.0.1", "[::ffff:7f00:1]");
    assert!(home.contains("[::ffff:7f00:1]"), "{home}");
    let (status, message) = validate_caldav(&open, &clinic, &home).await;
    assert_eq!(status, 200, "{home}: {message}");
}

/// Booking links are kept as digests: the URL is in the answer that makes (or renews) a link and nowhere
/// else — not in the list, the store's files or a backup. Renewing gives a new URL and stops the old one;
/// bookings made through it stay.
#[tokio::test]
async fn security_booking_links_are_kept_only_as_digests_and_renewing_stops_the_old_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path()).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 3);
    publish_noons(&server, &c.id, &c.ana, &[&day], None).await;
    let (status, made) = server
        .post(
            &format!("/api/v1/clinics/{}/links", c.id),
            json!({"label": "Acme reps"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let old_path = made["url"].as_str().unwrap().to_string();
    let capability = old_path.trim_start_matches("/book/").to_string();
    assert!(capability.len() >= 43, "{capability}");
    let booked = book_alice_at_noon(&server, &old_path, &day, &c.ana).await;

    let (_, listed) = server.get(&format!("/api/v1/clinics/{}/links", c.id)).await;
    assert_eq!(listed["links"][0]["url"], Value::Null, "{listed}");
    let printed = crate::support::cli(
        &server.data_dir,
        &["link", "list", "--clinic", &c.id, "--server", &server.base],
    );
    assert!(!String::from_utf8_lossy(&printed.stdout).contains(&capability));

    let backup = server
        .client()
        .get(format!("{}/api/v1/backup", server.base))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(backup.status(), 200);
    let backup = backup.bytes().await.unwrap();
    assert!(backup.len() > 1000, "a backup of {} bytes", backup.len());
    let holds = |bytes: &[u8]| bytes.windows(capability.len()).any(|w| w == capability.as_bytes());
    assert!(!holds(&backup), "the backup holds the link's capability");

    let link_id = made["id"].as_str().unwrap();
    let (status, renewed) = server
        .post(&format!("/api/v1/clinics/{}/links/{link_id}/renew", c.id), json!({}))
        .await;
    assert_eq!(status, 200, "{renewed}");
    let new_path = renewed["url"].as_str().unwrap().to_string();
    assert_ne!(new_path, old_path);
    let (old_status, _) = crate::support::booking::public_get(&server, &format!("{old_path}/slots")).await;
    assert_eq!(old_status, 404, "the old URL still works");
    let (new_status, _) =
        crate::support::booking::public_get(&server, &format!("{new_path}/slots?from={day}&to={day}")).await;
    assert_eq!(new_status, 200);
    let manage = booked["manage_url"].as_str().unwrap();
    let (status, _) = crate::support::booking::public_get(&server, &format!("{manage}/booking")).await;
    assert_eq!(status, 200, "a booking made through the old URL stays");

    // After a clean stop, every file of the store: neither URL is in any of them.
    server.terminate(Duration::from_secs(20));
    let renewed_capability = new_path.trim_start_matches("/book/").to_string();
    let mut files = 0;
    for entry in walk(&server.data_dir) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        assert!(!holds(&bytes), "{} holds the first capability", entry.display());
        assert!(
            !bytes
                .windows(renewed_capability.len())
                .any(|w| w == renewed_capability.as_bytes()),
            "{} holds the renewed capability",
            entry.display()
        );
    }
    assert!(files >= 3, "only {files} files in the data dir");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Commands that wrote into the site's Bp so far.
async fn bp_writes(sim_url: &str) -> usize {
    crate::support::pms::sim_log(sim_url, "20001")
        .await
        .iter()
        .filter(|c| c["outcome"] == "ok" && c["wrote"] == true)
        .count()
}

/// Swap churn no longer writes into the PMS at will: a booking takes `swaps_per_day` swaps (3) in 24
/// hours, then the rep is told to call the clinic; and a swap undone before it was sent (the site was
/// offline meanwhile) writes nothing when the site comes back, since the PMS already holds that time.
#[tokio::test]
async fn security_swap_churn_is_limited_per_booking_and_an_undone_swap_never_reaches_the_pms() {
    use crate::support::booking::{ROOMY_LIMITS, public_post};
    use crate::support::pms;
    let pms::Setup { sim, server, dir: _dir } = pms::start(
        pms::seed(1),
        &[ROOMY_LIMITS.as_slice(), &[("REPBOOK_RECONCILE_EVERY_SECS", "0")]].concat(),
    )
    .await;
    let setup = pms::ready_clinic(&server, &sim.url(), "20001", "Australia/Brisbane", "QLD").await;
    let ana = &setup.doctors[0].0;
    let day = local_date_in("Australia/Brisbane", 6);
    publish(
        &server,
        &setup.id,
        json!({"weekday": weekday(&day), "start": "13:00", "end": "15:00", "slot_minutes": 30, "practitioner_id": ana}),
    )
    .await;
    let url = link(&server, &setup.id, "All reps", &[]).await;
    let (status, first) = book(
        &server,
        &url,
        &format!("{day}T13:00"),
        Some(ana),
        rep("Ria", "Acme", "ria@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    pms::wait_drained(&server, &setup.id, Duration::from_secs(30)).await;
    let manage = first["manage_url"].as_str().unwrap().to_string();

    // Ten alternating swaps: three are taken, the rest refused with what to do.
    let mut answers = Vec::new();
    for n in 0..10 {
        let start = if n % 2 == 0 { "13:30" } else { "13:00" };
        let (status, body) = public_post(
            &server,
            &format!("{manage}/swap"),
            json!({"start": format!("{day}T{start}"), "practitioner_id": ana}),
        )
        .await;
        if status != 200 {
            assert_eq!(body["error"]["code"], "swap_limit", "{body}");
            assert!(
                body["error"]["message"].as_str().unwrap().contains("call the clinic"),
                "{body}"
            );
        }
        answers.push(status);
    }
    assert_eq!(answers.iter().filter(|s| **s == 200).count(), 3, "{answers:?}");
    assert!(answers[3..].iter().all(|s| *s != 200), "{answers:?}");
    pms::wait_drained(&server, &setup.id, Duration::from_secs(30)).await;
    let after_churn = bp_writes(&sim.url()).await;

    // Another visit, in Bp at 14:00; the site goes offline; the rep moves to 14:30 and back; the site
    // returns: nothing more is written.
    let (status, second) = book(
        &server,
        &url,
        &format!("{day}T14:00"),
        Some(ana),
        rep("Lou", "Beta", "lou@beta.test"),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    pms::wait_drained(&server, &setup.id, Duration::from_secs(30)).await;
    let before_undo = bp_writes(&sim.url()).await;
    assert!(before_undo > after_churn, "the new booking was written");
    pms::set_faults(&sim.url(), "20001", json!({"offline": true})).await;
    let manage = second["manage_url"].as_str().unwrap().to_string();
    for start in ["14:30", "14:00"] {
        let (status, body) = public_post(
            &server,
            &format!("{manage}/swap"),
            json!({"start": format!("{day}T{start}"), "practitioner_id": ana}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    // The site comes back only once no push is in flight: one that had already read the 14:30 version
    // before the swap back (and waited for its durable mark under CPU load) would go out the moment the
    // site answers, which is a push in progress, not an undone swap (this failed once, 1 run in 60 under
    // load). Any push claimed after this reads the visit as it is now, at 14:00.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, sync) = server.get(&format!("/api/v1/clinics/{}/sync", setup.id)).await;
        if sync["in_flight"] == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "a push stayed in flight: {sync}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pms::set_faults(&sim.url(), "20001", json!({"offline": false})).await;
    let requests_back = pms::site_requests(&sim.url(), "20001").await;
    let status = pms::wait_drained(&server, &setup.id, Duration::from_secs(60)).await;
    // Not even a look: nothing reaches Halo for a change that leaves Bp as it is.
    let reads = pms::site_requests(&sim.url(), "20001").await - requests_back;
    let log = crate::support::pms::sim_log(&sim.url(), "20001").await;
    let writes: Vec<String> = log
        .iter()
        .filter(|c| c["outcome"] == "ok" && c["wrote"] == true)
        .map(|c| c.to_string().chars().take(600).collect())
        .collect();
    assert_eq!(
        bp_writes(&sim.url()).await,
        before_undo,
        "an undone swap reached Bp: {status}\nWRITES:\n{}",
        writes.join("\n")
    );
    assert_eq!(reads, 0, "Halo was reached for an undone swap");
    let held = pms::assert_bp_matches(&server, &sim.url(), &setup).await;
    println!(
        "swap churn: 10 swaps asked, 3 taken, {} writes into Bp for them; a swap undone while offline: 0 writes; Bp matches repbook ({held} visits)",
        after_churn
    );
}

/// The company rule, with mail on, keys on the domain of the rep's confirmed address: a rival who books
/// under "Acme Pharma" from their own mailbox does not block Acme's real rep, and a second rep of the real
/// company is refused in words that name no one else — while the clinic sees on its Requests tab who was
/// refused and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_the_company_rule_keys_on_the_confirmed_domain_and_names_nobody() {
    use crate::notify_holds::confirmation_link;
    use crate::support::booking::{ROOMY_LIMITS, public_post, set_rules};
    use crate::support::smtp::{Smtp, Tls};
    let smtp = Smtp::start(Tls::Plain).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = smtp.env(100);
    env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    let server = Server::start_with_env(dir.path(), &crate::support::env_refs(&env)).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    set_rules(
        &server,
        &c.id,
        json!({"company_visit_interval_weeks": 4, "max_open_bookings_per_rep": 5, "booking_lead_hours": 0}),
    )
    .await;
    let day = local_date_in("Australia/Sydney", 3);
    let next = local_date_in("Australia/Sydney", 4);
    publish_noons(&server, &c.id, &c.ana, &[&day, &next], Some(30)).await;
    let url = link(&server, &c.id, "Reps", &[]).await;
    let book_and_confirm = |start: String, who: Value, email: &'static str| {
        let (server, smtp, url, ana) = (&server, &smtp, url.clone(), c.ana.clone());
        async move {
            let (status, body) = book(server, &url, &start, Some(&ana), who).await;
            if status != 201 {
                return (status, body);
            }
            let confirm = confirmation_link(smtp, email).await;
            public_post(server, &confirm, json!({})).await
        }
    };
    // The rival, from their own mailbox, says "Acme Pharma".
    let (status, body) = book_and_confirm(
        format!("{day}T12:00"),
        rep("Rival", "Acme Pharma", "rival@globex.test"),
        "rival@globex.test",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Acme's real rep books the same doctor the next day: not blocked.
    let (status, body) = book_and_confirm(
        format!("{next}T12:00"),
        rep("Ria Tan", "Acme Pharma", "ria@acme.test"),
        "ria@acme.test",
    )
    .await;
    assert_eq!(status, 200, "a rival's typed company blocked the real rep: {body}");
    // A colleague from acme.test, whatever company they type: refused, naming nobody.
    let (status, body) = book(
        &server,
        &url,
        &format!("{day}T12:30"),
        Some(&c.ana),
        rep("Sam Lee", "Acme (Oncology)", "sam@acme.test"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "company_visited_recently");
    let words = body["error"]["message"].as_str().unwrap();
    for leak in ["Ria", "Tan", "acme.test", "Acme Pharma", next.as_str(), "12:00"] {
        assert!(!words.contains(leak), "the refusal says {leak}: {words}");
    }
    let (_, refused) = server
        .get(&format!("/api/v1/audit?clinic={}&action=booking%20refused", c.id))
        .await;
    let detail = refused["entries"][0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("Sam Lee (Acme (Oncology))"), "{refused}");
}
