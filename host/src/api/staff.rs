//! Medical staff routes: add and list practitioners; staff sync needs a PMS connector.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::JsonBody;
use super::pms::no_connector;
use super::views::PractitionerView;
use crate::domain::{NewPractitioner, Practitioner, new_id};

pub async fn add(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewPractitioner>,
) -> Result<(StatusCode, Json<PractitionerView>), ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let practitioner = Practitioner::create(new_id(), clinic.id.clone(), new)?;
    {
        let _guard = state.store.lock_clinic(&clinic.id).await;
        state.store.add_practitioner(&practitioner)?;
    }
    state.store.durable().await?;
    Ok((StatusCode::CREATED, Json(practitioner)))
}

pub async fn list(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    Ok(Json(json!({ "staff": state.store.staff(&clinic.id)? })))
}

pub async fn sync(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<Value>, ApiError> {
    state.store.clinic(&clinic_id)?;
    Err(no_connector("Sync Staff"))
}
