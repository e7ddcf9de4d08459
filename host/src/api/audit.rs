//! The audit trail at the HTTP edge: a middleware that records every change answered with success (and
//! every sign-in, right or wrong) with who, from where and which route — the route's template, never the
//! path, so no capability reaches the trail — plus what a handler adds (`AuditNote`: the clinic and the
//! visit a rep's request was about). `GET /api/v1/audit` pages it; `POST /api/v1/reps/forget` removes a
//! rep's details on request.

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, QueryParams};
use super::listener::ClientAddr;
pub use crate::app::Forgotten;
use crate::app::{RepVisit, rep_digest};
use crate::domain::{AuditEntry, new_id};

/// What a handler knows that the middleware cannot: set as a response extension.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub clinic_id: Option<String>,
    pub subject: Option<String>,
    pub detail: String,
    pub rep: Option<String>,
}

impl AuditNote {
    /// A rep's visit: which clinic, which visit, and who in words (their address only as a digest).
    pub fn visit(visit: &RepVisit, what: &str) -> AuditNote {
        let a = &visit.appointment;
        AuditNote {
            clinic_id: Some(visit.clinic.id.clone()),
            subject: Some(a.id.clone()),
            detail: format!(
                "{what}: {} ({}) with {} at {}",
                a.rep.name,
                a.rep.company,
                visit.with,
                crate::notify::when(a.start, &visit.clinic)
            ),
            rep: rep_digest(&a.rep.email),
        }
    }
}

const REP_ROUTES: [&str; 5] = ["/book/", "/manage/", "/confirm/", "/waitlist/", "/offer/"];
const SIGN_IN: &str = "/api/v1/session";

/// The value of the parameter `name` (e.g. `{clinic}`) in `path`, read against the route's template.
fn param_in(template: &str, path: &str, name: &str) -> Option<String> {
    template
        .split('/')
        .zip(path.split('/'))
        .find(|(t, _)| *t == name)
        .map(|(_, value)| value.to_string())
}

/// The clinic a request was about: named in its path, or the clinic of the appointment it names.
fn clinic_of(state: &AppState, template: &str, path: &str) -> Option<String> {
    param_in(template, path, "{clinic}").or_else(|| {
        template
            .starts_with("/api/v1/appointments/{id}")
            .then(|| param_in(template, path, "{id}"))
            .flatten()
            .and_then(|id| state.app.clinic_of_appointment(&id).ok())
    })
}

pub async fn record(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = matched.map(|m| m.as_str().to_string());
    let path = request.uri().path().to_string();
    let headers = request.headers();
    let by_token = headers.contains_key(header::AUTHORIZATION);
    let by_page = headers.contains_key(header::COOKIE);
    let response = next.run(request).await;
    let Some(route) = route else { return response };
    if matches!(method, Method::GET | Method::HEAD) {
        return response;
    }
    let status = response.status();
    if !status.is_success() && route != SIGN_IN {
        return response;
    }
    let note = response.extensions().get::<AuditNote>().cloned().unwrap_or_default();
    let actor = if REP_ROUTES.iter().any(|prefix| route.starts_with(prefix)) {
        "rep"
    } else if route == SIGN_IN {
        "admin (sign-in)"
    } else if by_token {
        "admin (API token)"
    } else if by_page {
        "admin (admin page)"
    } else {
        "anyone"
    };
    state.app.audit(AuditEntry {
        id: new_id(),
        at: state.app.now(),
        clinic_id: note.clinic_id.or_else(|| clinic_of(&state, &route, &path)),
        actor: actor.into(),
        client: Some(client.to_string()),
        action: format!("{method} {route}"),
        outcome: status.as_u16().to_string(),
        detail: note.detail,
        subject: note.subject,
        rep: note.rep,
    });
    response
}

#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// One clinic's entries (default: every clinic's and the server's).
    pub clinic: Option<String>,
    /// Only this action, e.g. `booking refused`.
    pub action: Option<String>,
    /// Continue after the page that ended with this entry id.
    pub cursor: Option<String>,
    /// At most this many (default 100, at most 500).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

/// The audit trail, newest first.
#[utoipa::path(operation_id = "audit_list",
    get,
    path = "/api/v1/audit",
    tag = "operations",
    summary = "The audit trail: who did what, when and from where, newest first",
    params(AuditQuery),
    responses((status = 200, description = "Done", body = AuditList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let page = state.app.audit_page(
        query.clinic.as_deref(),
        query.action.as_deref(),
        query.cursor.as_deref(),
        query.limit.unwrap_or(100),
    )?;
    Ok(Json(AuditList {
        entries: page.entries,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgetRep {
    pub email: String,
}

/// Removes a rep's name, address and phone from all their visits at every clinic, and their words from the
/// audit trail (a rep's request under APP 12/13). The visits, their times and doctors stay.
#[utoipa::path(operation_id = "reps_forget",
    post,
    path = "/api/v1/reps/forget",
    tag = "operations",
    summary = "Forget a rep on request: their details leave every visit and the audit trail",
    request_body = ForgetRep,
    responses((status = 200, description = "Done", body = Forgotten), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn forget(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ForgetRep>,
) -> Result<Json<Forgotten>, ApiError> {
    Ok(Json(state.app.forget_rep(&body.email).await?))
}
