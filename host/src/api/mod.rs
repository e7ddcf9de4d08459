//! The HTTP API: routes, auth, error mapping. Handlers stay thin: parse, call the store, domain or sync
//! engine, map the error. Everything but `/healthz` needs the bearer token. `server` wires and runs it.

mod appointments;
mod auth;
mod clinics;
mod error;
mod extract;
mod ics;
mod metrics;
pub mod model;
mod pages;
mod plugins;
mod pms;
pub mod public;
pub mod published;
pub mod session;
mod staff;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use tower_http::trace::TraceLayer;

pub use auth::{TOKEN_FILE, load_or_create_token};
pub use error::ApiError;

use crate::plugins::Registry;
use crate::store::Store;
use crate::sync::SyncEngine;

const BODY_LIMIT_BYTES: usize = 256 * 1024;
const PUBLIC_BODY_LIMIT_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub plugins: Arc<Registry>,
    pub sync: Arc<SyncEngine>,
    pub bookings: Arc<crate::booking::Bookings>,
    pub public_limits: Arc<public::PublicLimits>,
    pub sessions: Arc<session::Sessions>,
    pub token: Arc<str>,
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/clinics", get(clinics::list).post(clinics::create))
        .route(
            "/clinics/{clinic}",
            get(clinics::show).patch(clinics::update).delete(clinics::delete),
        )
        .route("/clinics/{clinic}/pms", put(pms::set))
        .route("/clinics/{clinic}/pms/validate", post(pms::validate))
        .route("/clinics/{clinic}/pms/locations", get(pms::locations))
        .route("/clinics/{clinic}/pms/reset", post(pms::reset))
        .route("/clinics/{clinic}/staff", get(staff::list).post(staff::add))
        .route("/clinics/{clinic}/staff/sync", post(staff::sync))
        .route("/clinics/{clinic}/staff/{id}/pms", put(staff::map))
        .route(
            "/clinics/{clinic}/appointments",
            get(appointments::list).post(appointments::book),
        )
        .route("/clinics/{clinic}/sync", get(pms::sync_status).post(pms::sync_all))
        .route("/clinics/{clinic}/sync/reconcile", post(pms::reconcile))
        .route("/clinics/{clinic}/sync/retry-parked", post(pms::retry_parked))
        .route(
            "/appointments/{id}",
            get(appointments::show).patch(appointments::reschedule),
        )
        .route("/appointments/{id}/cancel", post(appointments::cancel))
        .route("/appointments/{id}/resend", post(appointments::resend))
        .route("/appointments/{id}/approve", post(published::approve))
        .route("/appointments/{id}/decline", post(published::decline))
        .route(
            "/clinics/{clinic}/categories",
            get(published::list_categories).post(published::add_category),
        )
        .route("/clinics/{clinic}/categories/{id}", delete(published::remove_category))
        .route(
            "/clinics/{clinic}/times",
            get(published::list_times).post(published::add_time),
        )
        .route("/clinics/{clinic}/times/{id}", delete(published::remove_time))
        .route(
            "/clinics/{clinic}/closed",
            get(published::list_closed).post(published::add_closed),
        )
        .route("/clinics/{clinic}/closed/{date}", delete(published::remove_closed))
        .route(
            "/clinics/{clinic}/links",
            get(published::list_links).post(published::create_link),
        )
        .route("/clinics/{clinic}/links/{id}", delete(published::revoke_link))
        .route("/plugins", get(plugins::list))
        .route(
            "/plugins",
            post(plugins::install).layer(DefaultBodyLimit::max(plugins::MAX_COMPONENT_BODY)),
        )
        .route("/plugins/{name}/activate", post(plugins::activate))
        .route("/plugins/{name}/rollback", post(plugins::rollback))
        .route("/plugins/{name}/versions/{version}", delete(plugins::remove))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token))
        // Signing in needs no token yet; signing out checks it itself.
        .route(
            "/session",
            get(session::current).post(session::sign_in).delete(session::sign_out),
        );
    let metrics = Router::new()
        .route("/metrics", get(metrics::render))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    // The rep's side: no token, the capability in the path is the key; small bodies; rate-limited.
    let rep = Router::new()
        .route("/book/{link}", get(pages::book_page))
        .route("/book/{link}/slots", get(public::slots))
        .route("/book/{link}/bookings", post(public::book))
        .route("/manage/{token}", get(pages::manage_page))
        .route("/manage/{token}/booking", get(public::booking))
        .route("/manage/{token}/booking.ics", get(public::ics))
        .route("/manage/{token}/slots", get(public::swap_slots))
        .route("/manage/{token}/cancel", post(public::cancel))
        .route("/manage/{token}/swap", post(public::swap))
        .layer(DefaultBodyLimit::max(PUBLIC_BODY_LIMIT_BYTES))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), public::limit));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", get(pages::admin_page))
        .route("/assets/{file}", get(pages::asset))
        .merge(metrics)
        .merge(rep)
        .nest("/api/v1", api)
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_such_route",
                "no such route: check the method and the path",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
