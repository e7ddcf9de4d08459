//! The OpenAPI document's rules that the handlers' types cannot state by themselves: the time zones a
//! clinic may have (the bundled database's IANA names), the addresses a clinic's `notify_email` list takes,
//! and rules across fields (a role is host-wide exactly when it is owner; signing in takes a token or an
//! address and a password), and which credentials each operation takes. Applied once, to the document
//! `/api/v1/openapi.json` serves.

use serde_json::{Value, json};

/// What `refuse_controls` and `refuse_invisible` refuse in text (C0 and C1 controls, soft hyphen, the
/// zero-width and direction marks, the line and paragraph separators, the BOM), as a class's inside.
const REFUSED: &str =
    r"\u0000-\u001F\u007F-\u009F\u00AD\u200B\u200E\u200F\u2028-\u202E\u2060-\u2064\u2066-\u2069\uFEFF";
/// The same, less tab, line feed and carriage return: free text over several lines.
const REFUSED_IN_TEXT: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u200B\u200E\u200F\u2028-\u202E\u2060-\u2064\u2066-\u2069\uFEFF";
/// What an email address may not hold (`check_email`), and the spaces trimmed around one.
const NOT_IN_EMAIL: &str = r"\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069\u00AD\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u2069\uFEFF";
const SPACES: &str = r" \u00A0\u1680\u2000-\u200A\u202F\u205F\u3000";

/// The patterns request types name as `#[schema(pattern = "@name")]`, spelled out once: each is the
/// domain's check of that kind of field.
fn patterns() -> Vec<(&'static str, String)> {
    let line = format!(r"^[^{REFUSED}]*[^\s{REFUSED}][^{REFUSED}]*$");
    let email = format!(r"^[{SPACES}]*[^\s@{NOT_IN_EMAIL}]+@[^\s{NOT_IN_EMAIL}]*\.[^\s{NOT_IN_EMAIL}]*[{SPACES}]*$");
    vec![
        // `require_text`: one line, not blank.
        ("@line", line.clone()),
        // `refuse_controls` on an optional line.
        ("@line-or-empty", format!(r"^[^{REFUSED}]*$")),
        ("@blank-or-line", format!(r"^\s*$|{line}")),
        ("@text", format!(r"^[^{REFUSED_IN_TEXT}]*$")),
        // `check_email`, or a blank where the address is optional.
        ("@email-or-blank", format!(r"^\s*$|{email}")),
        ("@email", email),
        // Dates and times as `jiff` parses them in the clinic's zone, within the years a clinic books.
        ("@date", r"^2[01][0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$".into()),
        (
            "@local-start",
            r"^\s*2[01][0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]([+-](0[0-9]|1[0-4]):[0-5][0-9])?\s*$".into(),
        ),
        ("@hh-mm", r"^\s*([01][0-9]|2[0-3]):[0-5][0-9]\s*$".into()),
        ("@url", r"^\s*https?://[^\s]+\s*$".into()),
        // `domain::sso::check_issuer`: https, or http to this machine; no query or fragment; a path of plain text.
        (
            "@issuer",
            format!(
                r"^(https://[A-Za-z0-9][A-Za-z0-9.-]*|http://(127\.0\.0\.1|localhost|\[::1\]))(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{{2}}|6[0-4][0-9]{{3}}|[1-5][0-9]{{4}}|[1-9][0-9]{{0,3}}))?(/[^\s?#{REFUSED}]*)?$"
            ),
        ),
        // `AustralianState`, any case.
        ("@state", r"^\s*([Nn][Ss][Ww]|[Vv][Ii][Cc]|[Qq][Ll][Dd]|[Ss][Aa]|[Ww][Aa]|[Tt][Aa][Ss]|[Nn][Tt]|[Aa][Cc][Tt])\s*$".into()),
    ]
}

/// Replaces every `"pattern": "@name"` under `value` by the pattern it names.
fn spell_patterns(value: &mut Value, patterns: &[(&str, String)]) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("pattern")
                && let Some((_, pattern)) = patterns.iter().find(|(n, _)| n == name)
            {
                map.insert("pattern".into(), Value::String(pattern.clone()));
            }
            map.values_mut().for_each(|v| spell_patterns(v, patterns));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| spell_patterns(v, patterns)),
        _ => {}
    }
}

pub fn described(document: &utoipa::openapi::OpenApi) -> Value {
    let mut document = serde_json::to_value(document).unwrap_or_default();
    credentials(&mut document);
    let mut zones: Vec<Value> = jiff::tz::db()
        .available()
        .map(|name| Value::from(name.as_str()))
        .collect();
    zones.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    for (schema, nullable) in [("NewClinic", false), ("ClinicUpdate", true)] {
        let mut values = zones.clone();
        if nullable {
            values.push(Value::Null);
        }
        set(
            &mut document,
            &format!("{schema}/properties/timezone/enum"),
            Value::Array(values),
        );
    }
    set(
        &mut document,
        "ClinicUpdate/properties/notify_email/items",
        json!({"type": "string", "maxLength": 254, "pattern": "@email"}),
    );
    let clinic = json!({"type": "string", "minLength": 1, "pattern": r"\S"});
    let owner = json!({"type": "object", "required": ["role"], "additionalProperties": false,
        "properties": {"role": {"type": "string", "enum": ["owner"]}, "clinic": {"type": "null"}}});
    let at_clinic = json!({"type": "object", "required": ["role", "clinic"], "additionalProperties": false,
        "properties": {"role": {"type": "string", "enum": ["manager", "front_desk"]}, "clinic": clinic}});
    set(
        &mut document,
        "Grant",
        json!({"description": "A role: host-wide for owner (no clinic), else at one clinic.", "oneOf": [owner, at_clinic]}),
    );
    // An invitation and an API token: the same rule, beside their other fields.
    for name in ["InviteRequest", "NewToken"] {
        if let Some(request) = schema(&mut document, name).cloned() {
            let owner = role_variant(&request, json!(["owner"]), None);
            let at_clinic = role_variant(&request, json!(["manager", "front_desk"]), Some(&clinic));
            set(&mut document, name, json!({"oneOf": [owner, at_clinic]}));
        }
    }
    // A component is bytes, not a JSON array of them, and never none.
    if let Some(body) =
        document.pointer_mut("/paths/~1api~1v1~1plugins/post/requestBody/content/application~1wasm/schema")
    {
        *body = json!({"type": "string", "format": "binary", "contentMediaType": "application/wasm", "minLength": 1});
    }
    // Signing in: the host token alone, or an address and a password.
    let text = json!({"type": "string", "minLength": 1});
    set(
        &mut document,
        "SignIn",
        json!({"oneOf": [
            {"type": "object", "required": ["token"], "additionalProperties": false,
             "properties": {"token": text, "email": {"type": "null"}, "password": {"type": "null"}}},
            {"type": "object", "required": ["email", "password"], "additionalProperties": false,
             "properties": {"email": text, "password": text, "token": {"type": "null"}}},
        ]}),
    );
    spell_patterns(&mut document, &patterns());
    document
}

/// `request` with its role one of `roles`: at a clinic (then required) or host-wide (then null).
fn role_variant(request: &Value, roles: Value, clinic: Option<&Value>) -> Value {
    let mut variant = request.clone();
    variant["properties"]["role"] = json!({"type": "string", "enum": roles});
    match clinic {
        Some(clinic) => {
            variant["properties"]["clinic"] = clinic.clone();
            let mut required = variant["required"].as_array().cloned().unwrap_or_default();
            required.push(json!("clinic"));
            variant["required"] = Value::Array(required);
        }
        None => variant["properties"]["clinic"] = json!({"type": "null"}),
    }
    variant
}

/// Who may call each operation, as `auth::authenticate` decides it: a bearer token (the host's or a
/// person's) or the admin page's session cookie, which changes things only with its CSRF token
/// (`auth::check_csrf`); a person's own routes (`/api/v1/me…`, the session itself) take the session only
/// (`access::AsSession`). Public operations already say `security: [{}]`.
fn credentials(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let own = ["/api/v1/me", "/api/v1/session", "/api/v1/session/skip-enrolment"].contains(&path.as_str())
            || path.starts_with("/api/v1/me/");
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str())
                || operation.get("security").is_some()
            {
                continue;
            }
            let session = match method.as_str() {
                "get" => json!({"session": []}),
                _ => json!({"session": [], "csrf": []}),
            };
            operation["security"] = match own {
                true => json!([session]),
                false => json!([{"bearer": []}, session]),
            };
        }
    }
}

fn schema<'a>(document: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    document.pointer_mut(&format!("/components/schemas/{name}"))
}

/// Sets `path` (under `components/schemas`) when its schema exists; a renamed type is caught by the
/// `openapi_` tests, which read what this wrote.
fn set(document: &mut Value, path: &str, value: Value) {
    let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
    let target = if parent.is_empty() {
        document.pointer_mut("/components/schemas")
    } else {
        schema(document, parent)
    };
    if let Some(Value::Object(object)) = target {
        object.insert(key.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_patterns_are_spelled_out_and_an_unknown_name_stays_as_written() {
        let mut document =
            json!({"a": {"pattern": "@line"}, "b": [{"items": {"pattern": "@email"}}, {"pattern": "@nope"}]});
        spell_patterns(&mut document, &patterns());
        assert!(
            document["a"]["pattern"].as_str().unwrap().starts_with("^[^\\u0000"),
            "{document}"
        );
        assert!(
            document["b"][0]["items"]["pattern"].as_str().unwrap().contains('@'),
            "{document}"
        );
        assert_eq!(document["b"][1]["pattern"], "@nope", "the e2e suite's check finds it");
    }
}
