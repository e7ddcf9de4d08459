//! The audit trail at the HTTP edge: a middleware that records every change answered with success (and
//! every sign-in, right or wrong) with who, from where and which route — the route's template, never the
//! path, so no capability reaches the trail — plus what a handler adds (`AuditNote`: the clinic and the
//! visit a rep's request was about). `GET /api/v1/audit` pages it; `POST /api/v1/reps/forget` removes a
//! rep's details on request.

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::{AsAnyManager, AsOwner};
use super::auth::AuditWho;
use super::error::ApiError;
use super::extract::{JsonBody, QueryParams};
use super::listener::ClientAddr;
pub use crate::app::Forgotten;
use crate::app::{RepVisit, rep_digest};
use crate::domain::{AuditActor, AuditEntry, new_id};

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

/// The value of the parameter `name` (e.g. `{clinic}`) in `path`, read against the route's template.
fn param_in(template: &str, path: &str, name: &str) -> Option<String> {
    template
        .split('/')
        .zip(path.split('/'))
        .find(|(t, _)| *t == name)
        .map(|(_, value)| value.to_string())
}

/// Set on the answer of a route whose workflow writes its own, more telling entries (sign-ins, people,
/// factors, tokens): the middleware then adds none.
#[derive(Debug, Clone, Copy)]
pub struct SelfAudited;

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
    let response = next.run(request).await;
    let Some(route) = route else { return response };
    if matches!(method, Method::GET | Method::HEAD)
        || !response.status().is_success()
        || response.extensions().get::<SelfAudited>().is_some()
    {
        return response;
    }
    let note = response.extensions().get::<AuditNote>().cloned().unwrap_or_default();
    let who = response.extensions().get::<AuditWho>().cloned();
    let actor = match &who {
        _ if REP_ROUTES.iter().any(|prefix| route.starts_with(prefix)) => AuditActor::rep(),
        Some(who) => who.actor.clone(),
        None => AuditActor::anyone(),
    };
    let clinic = note
        .clinic_id
        .or_else(|| who.as_ref().and_then(|w| w.clinic.clone()))
        .or_else(|| param_in(&route, &path, "{clinic}"));
    state.app.audit(AuditEntry {
        id: new_id(),
        at: state.app.now(),
        clinic_id: clinic,
        actor,
        role: who.and_then(|w| w.role),
        client: Some(client.to_string()),
        action: format!("{method} {route}"),
        outcome: response.status().as_u16().to_string(),
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
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

/// The audit trail, newest first: an owner's is the whole host's, a manager's their clinics' and their people's.
#[utoipa::path(operation_id = "audit_list",
    get,
    path = "/api/v1/audit",
    tag = "operations",
    summary = "The audit trail: who did what, when and from where, newest first",
    params(AuditQuery),
    responses((status = 200, description = "Done", body = AuditList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list(
    AsAnyManager(caller): AsAnyManager,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let page = state.app.audit_page(
        &caller.actor,
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
    #[schema(min_length = 3, max_length = 254, pattern = "@email")]
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
    _role: AsOwner,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ForgetRep>,
) -> Result<Json<Forgotten>, ApiError> {
    Ok(Json(state.app.forget_rep(&body.email).await?))
}
