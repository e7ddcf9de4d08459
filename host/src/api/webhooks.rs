//! Admin routes for a clinic's webhook endpoints: list, add (the secret in the answer, once), change,
//! remove, rotate the secret, send a test event, the deliveries with their outcomes, and retry a parked one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::AsManager;
use super::error::ApiError;
use super::extract::{JsonBody, QueryParams};
use crate::domain::{Delivery, DeliveryReply, DeliveryState, Endpoint, EndpointPatch, EndpointRequest, EventKind};

/// An endpoint as the API shows it: never a secret, only when each one retires.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub clinic_id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<EventKind>,
    pub disabled: bool,
    /// RFC 3339.
    pub created_at: String,
    /// How many secrets sign now (2 during a rotation's overlap).
    pub signing_secrets: usize,
    /// While a rotation overlaps: when the previous secret stops signing (RFC 3339).
    pub previous_secret_retires_at: Option<String>,
}

impl EndpointView {
    fn of(endpoint: &Endpoint, now: jiff::Timestamp) -> EndpointView {
        EndpointView {
            id: endpoint.id.clone(),
            clinic_id: endpoint.clinic_id.clone(),
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            events: endpoint.events.clone(),
            disabled: endpoint.disabled,
            created_at: endpoint.created_at.to_string(),
            signing_secrets: endpoint.signing_secrets(now).count(),
            previous_secret_retires_at: endpoint
                .signing_secrets(now)
                .filter_map(|s| s.retires_at)
                .max()
                .map(|t| t.to_string()),
        }
    }
}

/// An endpoint just added or rotated, with the secret that signs its deliveries: shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EndpointWithSecret {
    pub endpoint: EndpointView,
    /// `whsec_...`: give it to the receiver's Standard Webhooks library. It is not shown again.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EndpointList {
    pub endpoints: Vec<EndpointView>,
    /// Every event an endpoint can subscribe to.
    pub events: Vec<EventKind>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Hours the current secret keeps signing beside the new one (default 24, 0 to stop it now, at most 168).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 168)]
    pub overlap_hours: Option<u32>,
}

/// One delivery, as the admin page and `repbook webhook deliveries` show it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id` header: the same on every attempt.
    pub id: String,
    pub endpoint_id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub state: DeliveryState,
    pub attempts: u32,
    /// RFC 3339.
    pub created_at: String,
    /// While pending: when the next attempt goes.
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    /// What the endpoint (or the network) said to the last attempt.
    pub last_reply: Option<DeliveryReply>,
    /// The JSON body sent.
    pub payload: serde_json::Value,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        DeliveryView {
            id: d.event_id.clone(),
            endpoint_id: d.endpoint_id.clone(),
            kind: d.kind,
            state: d.state,
            attempts: d.attempts,
            created_at: d.created_at.to_string(),
            next_attempt_at: (d.state == DeliveryState::Pending).then(|| d.next_at.to_string()),
            delivered_at: d.delivered_at.map(|t| t.to_string()),
            last_reply: d.last.clone(),
            payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// At most this many, newest first (default 100, at most 500).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
}

#[utoipa::path(operation_id = "webhooks_list", get, path = "/api/v1/clinics/{clinic}/webhooks", tag = "webhooks",
    summary = "A clinic's webhook endpoints",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = EndpointList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn list(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<EndpointList>, ApiError> {
    let now = state.app.now();
    let endpoints = state.app.endpoints(&clinic_id)?;
    Ok(Json(EndpointList {
        endpoints: endpoints.iter().map(|e| EndpointView::of(e, now)).collect(),
        events: EventKind::SUBSCRIBABLE.to_vec(),
    }))
}

#[utoipa::path(operation_id = "webhooks_add", post, path = "/api/v1/clinics/{clinic}/webhooks", tag = "webhooks",
    summary = "Add an endpoint; the answer holds its signing secret, shown this once",
    params(("clinic" = String, Path, description = "Clinic id")), request_body = EndpointRequest,
    responses((status = 201, description = "Added", body = EndpointWithSecret), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn add(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(body): JsonBody<EndpointRequest>,
) -> Result<(StatusCode, Json<EndpointWithSecret>), ApiError> {
    let added = state.app.add_endpoint(&clinic_id, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret {
            endpoint: EndpointView::of(&added.endpoint, state.app.now()),
            secret: added.secret,
        }),
    ))
}

#[utoipa::path(operation_id = "webhooks_show", get, path = "/api/v1/clinics/{clinic}/webhooks/{id}", tag = "webhooks",
    summary = "One endpoint",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "Done", body = EndpointView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn show(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
) -> Result<Json<EndpointView>, ApiError> {
    let endpoint = state.app.endpoint(&clinic_id, &id)?;
    Ok(Json(EndpointView::of(&endpoint, state.app.now())))
}

#[utoipa::path(operation_id = "webhooks_update", patch, path = "/api/v1/clinics/{clinic}/webhooks/{id}", tag = "webhooks",
    summary = "Change an endpoint's URL, events, description, or switch it off (only the fields given; the secret stays)",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Endpoint id")),
    request_body = EndpointPatch,
    responses((status = 200, description = "Changed", body = EndpointView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn update(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<EndpointPatch>,
) -> Result<Json<EndpointView>, ApiError> {
    let endpoint = state.app.update_endpoint(&clinic_id, &id, body).await?;
    Ok(Json(EndpointView::of(&endpoint, state.app.now())))
}

#[utoipa::path(operation_id = "webhooks_remove", delete, path = "/api/v1/clinics/{clinic}/webhooks/{id}", tag = "webhooks",
    summary = "Remove an endpoint; its waiting deliveries are dropped",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 204, description = "Removed"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn remove(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.remove_endpoint(&clinic_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "webhooks_rotate", post, path = "/api/v1/clinics/{clinic}/webhooks/{id}/rotate", tag = "webhooks",
    summary = "A new signing secret (shown once); the current one keeps signing beside it for the overlap",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Endpoint id")),
    request_body = Rotation,
    responses((status = 200, description = "Rotated", body = EndpointWithSecret), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn rotate(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Rotation>,
) -> Result<Json<EndpointWithSecret>, ApiError> {
    let rotated = state
        .app
        .rotate_secret(&clinic_id, &id, body.overlap_hours.unwrap_or(24))
        .await?;
    Ok(Json(EndpointWithSecret {
        endpoint: EndpointView::of(&rotated.endpoint, state.app.now()),
        secret: rotated.secret,
    }))
}

#[utoipa::path(operation_id = "webhooks_test", post, path = "/api/v1/clinics/{clinic}/webhooks/{id}/test", tag = "webhooks",
    summary = "Queue a webhook.test delivery to the endpoint; its outcome shows in the deliveries",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 202, description = "Queued", body = DeliveryView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn test(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let delivery = state.app.test_endpoint(&clinic_id, &id).await?;
    Ok((StatusCode::ACCEPTED, Json((&delivery).into())))
}

#[utoipa::path(operation_id = "webhooks_deliveries", get, path = "/api/v1/clinics/{clinic}/webhooks/{id}/deliveries", tag = "webhooks",
    summary = "An endpoint's deliveries, newest first, with what the endpoint answered",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Endpoint id"), DeliveryQuery),
    responses((status = 200, description = "Done", body = DeliveryList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn deliveries(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
    QueryParams(query): QueryParams<DeliveryQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let found = state.app.deliveries(&clinic_id, &id, query.limit.unwrap_or(100))?;
    Ok(Json(DeliveryList {
        deliveries: found.iter().map(DeliveryView::from).collect(),
    }))
}

#[utoipa::path(operation_id = "webhooks_retry", post, path = "/api/v1/clinics/{clinic}/webhooks/{id}/deliveries/{delivery}/retry", tag = "webhooks",
    summary = "Send a parked delivery again (the same webhook-id and body)",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Endpoint id"), ("delivery" = String, Path, description = "The delivery's webhook-id")),
    responses((status = 200, description = "Queued again", body = DeliveryView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn retry(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id, delivery)): Path<(String, String, String)>,
) -> Result<Json<DeliveryView>, ApiError> {
    let delivery = state.app.retry_delivery(&clinic_id, &id, &delivery).await?;
    Ok(Json((&delivery).into()))
}
