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
            assert!(
                responses.keys().any(|code| code.starts_with('2')),
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

#[tokio::test]
async fn openapi_document_is_valid_openapi_3_1_to_an_independent_validator() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let doc = document(&server).await;
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let output = std::process::Command::new(support::booking::python())
        .args(["-c", "import sys, json\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\nprint('valid')"])
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
