//! Extractors that turn malformed requests into the error envelope: a JSON body or query string that
//! does not parse, has wrong types or unknown fields is a 400 naming the problem; too large is a 413.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            .is_some_and(|mime| {
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::bad_request("invalid_body", plain(&rejection.body_text()))
            }
        })?;
        if !json {
            return Err(json_rejection(
                JsonRejection::MissingJsonContentType(Default::default()),
            ));
        }
        // Every body of this API is a JSON object; serde would also read a struct from an array.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{') {
            return Err(ApiError::bad_request(
                "invalid_body",
                "expected a JSON object ({...}) with the fields this route documents",
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            // A number written as a float where an integer goes: read again with integral floats as integers.
            Err(JsonRejection::JsonDataError(e)) if e.body_text().contains("invalid type: floating point") => {
                serde_json::from_slice::<Value>(&bytes)
                    .and_then(|value| serde_json::from_value(integral(value)))
                    .map(JsonBody)
                    .map_err(|e| ApiError::bad_request("invalid_body", plain(&e.to_string())))
            }
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "the request body is too large; send less",
    )
}

/// JSON Schema counts `398.0` as the integer 398, and so does a client that writes every number as a
/// float: numbers with no fractional part become integers before the body is read into its type (a field
/// that takes fractions still reads them).
fn integral(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (k, integral(v))).collect()),
        other => other,
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::bad_request(
            "missing_content_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::JsonDataError(e) => ApiError::bad_request("invalid_body", plain(&e.body_text())),
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request("malformed_json", plain(&e.body_text())),
        other => ApiError::bad_request("invalid_body", plain(&other.body_text())),
    }
}

/// serde's words for a body that does not fit, without repbook's internals: its type names (`expected
/// struct NewAppointment`) say nothing to a caller, "a JSON object" does; axum's preamble goes too.
fn plain(text: &str) -> String {
    let text = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .or_else(|| text.strip_prefix("Failed to parse the request body as JSON: "))
        .or_else(|| text.strip_prefix("Failed to deserialize query string: "))
        .unwrap_or(text);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("expected struct ") {
        out.push_str(&rest[..at]);
        out.push_str("expected a JSON object");
        rest = &rest[at + "expected struct ".len()..];
        let name_end = rest
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(rest.len());
        rest = &rest[name_end..];
    }
    out.push_str(rest);
    out.replace(
        "expected internally tagged enum",
        "expected a JSON object with its kind",
    )
}

pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e: QueryRejection| ApiError::bad_request("invalid_query", plain(&e.body_text())))
    }
}

#[cfg(test)]
mod tests {
    use super::{integral, plain};

    #[test]
    fn integral_floats_read_as_integers_and_fractions_stay() {
        let body = integral(serde_json::json!({"minutes": 20.0, "list": [1.0, 2.5], "deep": {"n": -3.0}}));
        assert_eq!(
            body,
            serde_json::json!({"minutes": 20, "list": [1, 2.5], "deep": {"n": -3}})
        );
        let minutes: u32 = serde_json::from_value(body["minutes"].clone()).unwrap();
        assert_eq!(minutes, 20);
    }

    #[test]
    fn serde_messages_lose_type_names_and_the_preamble() {
        assert_eq!(
            plain(
                "Failed to deserialize the JSON body into the target type: invalid type: integer `5`, expected struct BookingRequest at line 1 column 1"
            ),
            "invalid type: integer `5`, expected a JSON object at line 1 column 1"
        );
        assert_eq!(
            plain("rep: invalid type: string \"x\", expected struct Rep at line 1 column 30"),
            "rep: invalid type: string \"x\", expected a JSON object at line 1 column 30"
        );
    }
}
