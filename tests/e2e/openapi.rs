//! The OpenAPI document against the server it describes: every documented operation exists on the live
//! server (no phantom routes), every route in the code goes through the documented router (no hidden ones),
//! every schema it references is defined, and an independent validator (Python's openapi-spec-validator)
//! accepts it as OpenAPI 3.1.

use crate::support;

use std::path::Path;

use crate::support::Server;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(server: &Server) -> Value {
    let response = reqwest::get(format!("{}/api/v1/openapi.json", server.base))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "the document is public");
    response.json().await.unwrap()
}

/// Whether the server routes `method path` to a handler: anything but the router's own "no such route" 404
/// and 405 means a handler (or its middleware) answered.
async fn routed(server: &Server, method: &str, path: &str) -> (bool, u16, String) {
    let response = reqwest::Client::new()
        .request(method.to_uppercase().parse().unwrap(), format!("{}{path}", server.base))
        .bearer_auth(&server.token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let unrouted = status == 405 || text.contains("\"no_such_route\"");
    (!unrouted, status, text.chars().take(200).collect())
}

#[tokio::test]
async fn openapi_names_only_routes_the_server_has_and_describes_each() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let doc = document(&server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        // Unknown ids: a real handler answers 404 with its own code, never the router's.
        let concrete = regex_lite_replace(path);
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            operations += 1;
            let (exists, status, body) = routed(&server, method, &concrete).await;
            assert!(
                exists,
                "the document names {method} {path}, which the server does not route ({status} {body})"
            );
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            let responses = operation["responses"].as_object().unwrap();
            // A success is a 2xx, or the 303 of a page that sends the browser on (single sign-on's start).
            assert!(
                responses.keys().any(|code| code.starts_with('2') || code == "303"),
                "{method} {path} documents no success response"
            );
            let never_refuses = ["/healthz", "/api/v1/openapi.json"].contains(&path.as_str());
            assert!(
                never_refuses || responses.contains_key("default"),
                "{method} {path} documents no error envelope"
            );
        }
    }
    assert!(operations >= 50, "only {operations} operations documented");

    // Every $ref points at a defined schema.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "$ref to undefined schema {name}");
    }

    // The probe itself can tell: routes that do not exist are reported as such.
    for (method, path) in [
        ("put", "/api/v1/clinics"),
        ("get", "/api/v1/nothing-here"),
        ("post", "/healthz"),
    ] {
        let (exists, status, _) = routed(&server, method, path).await;
        assert!(!exists, "{method} {path} looked routed ({status})");
    }
}

/// `{name}` path parameters as a value no store holds.
fn regex_lite_replace(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for ch in path.chars() {
        match ch {
            '{' => {
                inside = true;
                out.push_str("no-such-thing");
            }
            '}' => inside = false,
            _ if inside => {}
            _ => out.push(ch),
        }
    }
    out
}

#[test]
fn openapi_every_route_in_the_code_is_registered_with_its_documentation() {
    // Routes are only registered through utoipa-axum's `routes!`, which documents them; a plain axum
    // `.route(...)` would serve an undocumented route. Only the document's own route is added by hand,
    // and its path is put into the document next to it.
    let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut hand_routes = Vec::new();
    let mut handlers_without_docs = Vec::new();
    for entry in std::fs::read_dir(&api).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        // Unit tests may build their own small routers.
        let source = source.split("#[cfg(test)]").next().unwrap().to_string();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for (n, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            if code.contains(".route(") || code.contains(".route_service(") || code.contains(".nest_service(") {
                hand_routes.push(format!("{file}:{}: {}", n + 1, line.trim()));
            }
            if code.contains("Router::new()") && !code.contains("OpenApiRouter::new()") {
                hand_routes.push(format!("{file}:{}: {}", n + 1, line.trim()));
            }
        }
        // Every handler a router could name carries its documentation.
        let lines: Vec<&str> = source.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            if line.starts_with("pub async fn ") || line.starts_with("async fn ") {
                let name = line.split("fn ").nth(1).unwrap().split('(').next().unwrap();
                let before = lines[..n]
                    .iter()
                    .rev()
                    .take_while(|l| !l.trim().is_empty() && !l.starts_with('}'));
                let documented = before.clone().any(|l| l.contains("#[utoipa::path"));
                let middleware = [
                    "limit",
                    "authenticate",
                    "observe",
                    "envelope",
                    "security_headers",
                    "record",
                ]
                .contains(&name);
                // The connection layer's accept loop serves the router; it is not a route.
                let middleware = middleware || (file == "listener.rs" && name == "serve");
                if !documented && !middleware {
                    handlers_without_docs.push(format!("{file}: {name}"));
                }
            }
        }
    }
    assert!(
        hand_routes.len() == 1 && hand_routes[0].contains(r#".route("/api/v1/openapi.json""#),
        "routes registered outside utoipa-axum's routes! are missing from the OpenAPI document: {hand_routes:#?}"
    );
    assert!(
        handlers_without_docs.is_empty(),
        "handlers without #[utoipa::path]: {handlers_without_docs:?}"
    );
}

/// openapi-spec-validator on the document, and every `pattern` in it a regular expression Python compiles
/// (none left as the `@name` a request type wrote: api/document.rs spells those out).
const CHECK_DOCUMENT: &str = r#"
import json, re, sys
from openapi_spec_validator import validate
document = json.load(open(sys.argv[1]))
validate(document)
def patterns(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "pattern" and isinstance(item, str):
                yield item
            else:
                yield from patterns(item)
    elif isinstance(value, list):
        for item in value:
            yield from patterns(item)
found = list(patterns(document))
assert found, "the document states no patterns"
for pattern in found:
    assert not pattern.startswith("@"), f"a pattern name was not spelled out: {pattern}"
    re.compile(pattern)
print("valid", len(found))
"#;

#[tokio::test]
async fn openapi_document_is_valid_openapi_3_1_to_an_independent_validator() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let doc = document(&server).await;
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let output = std::process::Command::new(support::booking::python())
        .args(["-c", CHECK_DOCUMENT])
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The schemathesis CLI, from the venv `make test-deps` makes for it (override: REPBOOK_SCHEMATHESIS).
fn schemathesis() -> std::path::PathBuf {
    if let Ok(cli) = std::env::var("REPBOOK_SCHEMATHESIS") {
        return cli.into();
    }
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/schemathesis-venv/bin/schemathesis");
    assert!(
        cli.exists(),
        "{} is missing: run `make test-deps` (it makes a venv with schemathesis)",
        cli.display()
    );
    cli
}

/// What one schemathesis run found (its report, when it failed) and every request it made.
struct Fuzzed {
    failed: Option<String>,
    /// (method, path, status) of each request, from its HAR report.
    calls: Vec<(String, String, u16)>,
}

/// One schemathesis run, every check on, a fixed seed, over the operations `args` select, with the
/// checked-in configuration plus `auth` (credentials by the document's security scheme names) and `env`
/// (the seeded ids; the hooks' session).
fn fuzz(server: &Server, env: &[(&str, String)], args: &[&str], auth: &str) -> Fuzzed {
    let checkers = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/checkers");
    let shared = std::fs::read_to_string(checkers.join("schemathesis.toml")).expect("tests/checkers/schemathesis.toml");
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), format!("{shared}\n{auth}\n")).unwrap();
    let mut command = std::process::Command::new(schemathesis());
    command
        .arg("--no-color")
        .arg("--config-file")
        .arg(config.path())
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.base))
        .args([
            "--checks",
            "all",
            "--seed",
            "1",
            "--max-examples",
            "25",
            "--workers",
            "2",
        ])
        // Later options win: a pass may ask for fewer workers.
        .args(args);
    // Every request and answer, kept for reading one that failed when REPBOOK_SCHEMATHESIS_REPORTS=DIR.
    let reports = tempfile::tempdir().unwrap();
    let report_dir = std::env::var("REPBOOK_SCHEMATHESIS_REPORTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| reports.path().to_path_buf());
    let har = report_dir.join(format!("{}.har", config.path().file_name().unwrap().to_string_lossy()));
    command.args(["--report", "har", "--report-har-path"]).arg(&har);
    let output = command
        .env("SCHEMATHESIS_HOOKS", checkers.join("schemathesis_hooks.py"))
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    let entries: Value = std::fs::read(&har)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let calls = entries["log"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            let url = entry["request"]["url"].as_str().unwrap_or_default();
            let path = url
                .splitn(4, '/')
                .nth(3)
                .unwrap_or_default()
                .split('?')
                .next()
                .unwrap_or_default();
            (
                entry["request"]["method"].as_str().unwrap_or_default().to_string(),
                format!("/{path}"),
                entry["response"]["status"].as_u64().unwrap_or_default() as u16,
            )
        })
        .collect();
    Fuzzed {
        failed: (!output.status.success()).then_some(report),
        calls,
    }
}

/// Whether a request's path is an instance of a documented path (`{name}` is one whole segment).
fn instance_of(path: &str, template: &str) -> bool {
    let (mut path, mut template) = (path.split('/'), template.split('/'));
    loop {
        match (path.next(), template.next()) {
            (None, None) => return true,
            (Some(segment), Some(pattern)) if pattern.starts_with('{') => {
                if segment.is_empty() {
                    return false;
                }
            }
            (Some(segment), Some(pattern)) if segment == pattern => {}
            _ => return false,
        }
    }
}

/// The documented operations `selected` picks that no request of `calls` got past authentication on
/// (every answer 401 or 403): operations the run did not really test.
fn unreached(document: &Value, calls: &[(String, String, u16)], selected: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let mut missed = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS.into_iter().filter(|m| item.get(*m).is_some()) {
            let method = method.to_uppercase();
            if !selected(&method, path) {
                continue;
            }
            let reached = calls
                .iter()
                .any(|(m, p, status)| *m == method && instance_of(p, path) && ![401, 403].contains(status));
            if !reached {
                missed.push(format!("{method} {path}"));
            }
        }
    }
    missed
}

/// schemathesis (PyPI, not repbook's code) generates requests from the served document and checks every
/// answer against it: a request the document allows is not refused (422 only where tests/checkers/
/// schemathesis.toml names a rule a schema cannot say), a request it forbids is refused with a 4xx, no 5xx,
/// statuses, content types, headers and bodies as documented, no route that ignores its credentials. One
/// pass as the host token over everything but the signed-in person's own routes, one as a signed-in owner
/// over those; both reach seeded data, not only 404s.
#[tokio::test]
async fn openapi_schemathesis_finds_no_difference_between_the_document_and_the_server() {
    use crate::support::accounts;
    use crate::support::booking::{ROOMY_LIMITS, category, clinic, link, publish, rep};
    use serde_json::json;

    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, &str)> = ROOMY_LIMITS.to_vec();
    env.extend([
        ("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "100000"),
        ("REPBOOK_SIGN_IN_FAILURES_PER_ADDRESS", "100000"),
        ("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true"),
    ]);
    let server = Server::start_with_env(dir.path(), &env).await;

    let seeded_clinic = clinic(&server, "Australia/Sydney", "NSW").await;
    let spare = server.create_clinic("Spare", "Australia/Perth", "WA").await;
    let visitors = category(&server, &seeded_clinic.id, "Pharmaceutical").await;
    let day = support::local_date_in("Australia/Sydney", 9);
    publish(
        &server,
        &seeded_clinic.id,
        json!({"weekday": support::booking::weekday(&day), "start": "12:00", "end": "13:00",
               "practitioner_id": seeded_clinic.ana}),
    )
    .await;
    let link_path = link(&server, &seeded_clinic.id, "Reps", &[&visitors]).await;
    let (status, booked) = support::booking::book(
        &server,
        &link_path,
        &format!("{day}T12:00"),
        Some(&seeded_clinic.ana),
        rep("Rita Rep", "Acme Pharma", "rita@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{booked}");
    let manage = booked["manage_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("/manage/")
        .to_string();
    let (status, listed) = server
        .get(&format!("/api/v1/clinics/{}/appointments", seeded_clinic.id))
        .await;
    assert_eq!(status, 200, "{listed}");
    let appointment = listed["appointments"][0]["id"].as_str().unwrap().to_string();
    let (status, hook) = server
        .post(
            &format!("/api/v1/clinics/{}/webhooks", seeded_clinic.id),
            json!({"url": "http://127.0.0.1:9/hook", "events": []}),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let (_, mut owner_session) = accounts::first_owner(&server, "olive@clinic.test").await;
    let (desk, _) = accounts::invited(
        &server,
        Some(&mut owner_session),
        "fay@clinic.test",
        "front_desk",
        Some(&seeded_clinic.id),
    )
    .await;
    let seeded = [
        ("REPBOOK_FUZZ_CLINIC", seeded_clinic.id.clone()),
        ("REPBOOK_FUZZ_SPARE_CLINIC", spare),
        ("REPBOOK_FUZZ_LINK", link_path.trim_start_matches("/book/").to_string()),
        ("REPBOOK_FUZZ_APPOINTMENT", appointment),
        ("REPBOOK_FUZZ_MANAGE", manage),
        ("REPBOOK_FUZZ_PERSON", desk.id.clone()),
        (
            "REPBOOK_FUZZ_WEBHOOK",
            hook["endpoint"]["id"].as_str().unwrap().to_string(),
        ),
    ];
    // A person's own: their account, their session, their API tokens (the host token has none).
    let own_routes = "^/api/v1/(me|session|tokens)(/|$)";

    let as_host = fuzz(
        &server,
        &seeded,
        &["--exclude-path-regex", own_routes],
        &format!("[auth.openapi.bearer]\nbearer = \"{}\"", server.token),
    );
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/me", server.base))
        .header("cookie", owner_session.cookie().expect("signed in"))
        .send()
        .await
        .unwrap();
    let status = me.status().as_u16();
    assert_eq!(
        status,
        200,
        "the owner's session outlives the host token's pass: {}",
        me.text().await.unwrap()
    );
    let cookie = owner_session
        .cookie()
        .expect("signed in")
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let csrf = owner_session.csrf.clone().expect("a session has a CSRF token");
    let signed_in = [
        &seeded[..],
        &[("REPBOOK_FUZZ_SESSION", cookie), ("REPBOOK_FUZZ_CSRF", csrf)],
    ]
    .concat();
    // One worker: the session's cookie changes as its factors do, and the hooks follow it in order.
    let as_owner = fuzz(
        &server,
        &signed_in,
        &["--include-path-regex", own_routes, "--workers", "1"],
        "",
    );
    let failed: Vec<String> = [("the host token", &as_host), ("a signed-in owner", &as_owner)]
        .into_iter()
        .filter_map(|(who, run)| {
            run.failed
                .as_ref()
                .map(|report| format!("schemathesis as {who}:\n{report}"))
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));

    // Each pass reached every operation it selected as a caller allowed to call it. The exceptions: signing
    // out (not fuzzed: it would end the pass's session), putting enrolment off, which only an owner still
    // enrolling on a demo host may do (tests/e2e/mfa.rs), and the document itself (schemathesis reads it
    // before its run; every other openapi_ test reads it too).
    let document = document(&server).await;
    let own = |path: &str| {
        ["/api/v1/me", "/api/v1/session", "/api/v1/tokens"]
            .iter()
            .any(|r| path == *r || path.starts_with(&format!("{r}/")))
    };
    let exempt = |method: &str, path: &str| {
        (method == "DELETE" && path == "/api/v1/session")
            || ["/api/v1/session/skip-enrolment", "/api/v1/openapi.json"].contains(&path)
    };
    let host_missed = unreached(&document, &as_host.calls, |m, p| !own(p) && !exempt(m, p));
    let owner_missed = unreached(&document, &as_owner.calls, |m, p| own(p) && !exempt(m, p));
    assert!(
        host_missed.is_empty() && owner_missed.is_empty(),
        "only 401 or 403, never past authentication: as the host token {host_missed:?}; as the owner {owner_missed:?}"
    );
    assert!(
        as_host.calls.len() > 5000 && as_owner.calls.len() > 500,
        "{} and {} requests",
        as_host.calls.len(),
        as_owner.calls.len()
    );
}
