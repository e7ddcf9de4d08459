//! Extractors that turn malformed requests into the error envelope: a JSON body or query string that
//! does not parse, has wrong types or unknown fields is a 400 naming the problem; too large is a 413.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is too large; send less",
        );
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
    use super::plain;

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
