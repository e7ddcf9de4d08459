//! The HTTP API: routes, auth, error mapping. Handlers stay thin: parse, call one workflow (`app`, or the
//! sync engine for the PMS actions), map its answer. Everything but `/healthz`, the pages and the rep's
//! capability routes needs the bearer token (or the admin page's session). `server` wires and runs it.

pub mod access;
mod appointments;
mod attendance;
pub mod audit;
pub mod auth;
mod backup;
mod clinics;
pub mod cookies;
mod document;
mod error;
mod extract;
mod headers;
pub mod links;
pub mod listener;
pub mod mail;
mod me;
mod metrics;
pub mod model;
pub mod observe;
mod pages;
pub mod people;
mod plugins;
mod pms;
pub mod public;
pub mod session;
pub mod sso;
mod staff;
pub mod times;
pub mod tokens;
pub mod waitlist;
pub mod webhooks;
mod welcome;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{TOKEN_FILE, load_or_create_token};
pub use error::ApiError;

use crate::app::App;
use crate::plugins::Registry;
use crate::store::Store;
use crate::sync::SyncEngine;

const BODY_LIMIT_BYTES: usize = 256 * 1024;
const PUBLIC_BODY_LIMIT_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct AppState {
    /// The workflows every booking and setup route calls.
    pub app: Arc<App>,
    /// The PMS actions (validate, sync staff, sync status, reset...).
    pub sync: Arc<SyncEngine>,
    /// Connector installs and the operations routes (backup, health, metrics) reach these directly.
    pub plugins: Arc<Registry>,
    pub store: Arc<Store>,
    pub public_limits: Arc<public::PublicLimits>,
    /// Wrong bearer tokens per address (`--wrong-tokens-per-minute`).
    pub wrong_tokens: Arc<auth::AuthFailures>,
    /// The mail worker's counters, for `/metrics`.
    pub notifier: Arc<crate::notify::Notifier>,
    /// The webhook worker's counters, for `/metrics`.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    pub token: Arc<str>,
}

/// The API's own description: every route below, with its bodies, generated from the handlers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "repbook",
        description = "Rep-visit bookings for GP clinics, delivered to the clinic's PMS. Admin routes under /api/v1 need \
                       `Authorization: Bearer TOKEN` (the host token, or a person's API token) or the admin page's \
                       session cookie with its X-CSRF-Token; each names the role it needs (front desk, practice \
                       manager or owner), and a clinic where the caller has no role answers 404 as if it did not \
                       exist. The rep's routes under /book and /manage are keyed by the capability in their path."
    ),
    modifiers(&Security),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(cookies::COOKIE))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "the session's CSRF token (answered when signing in and by GET /api/v1/session); every change \
                 made with the session cookie sends it",
            ))),
        );
    }
}

#[utoipa::path(operation_id = "healthz", get, path = "/healthz", tag = "operations", summary = "Liveness", security(()),
    responses((status = 200, description = "Done", body = String, content_type = "text/plain"),
        (status = 503, description = "The store cannot write; the server is about to exit for its supervisor to restart it", body = crate::api::error::ErrorBody)))]
async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.health().map_err(|reason| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "store_failed",
            format!("the store cannot write ({reason}); repbook stops so that its supervisor restarts it once the disk has room"),
        )
    })?;
    Ok("ok\n")
}

#[utoipa::path(operation_id = "openapi", get, path = "/api/v1/openapi.json", tag = "operations", summary = "This document (OpenAPI 3.1)",
    security(()), responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn openapi(State(document): State<Arc<String>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        (*document).clone(),
    )
        .into_response()
}

/// Every route and its documentation, from the same `routes!` calls: a route cannot be served without being
/// documented (`openapi_` tests also check the document against the live server).
pub fn documented_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let admin = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(clinics::list, clinics::create))
        .routes(routes!(clinics::show, clinics::update, clinics::delete))
        .routes(routes!(pms::set))
        .routes(routes!(pms::validate))
        .routes(routes!(pms::locations))
        .routes(routes!(pms::reset))
        .routes(routes!(staff::list, staff::add))
        .routes(routes!(staff::sync))
        .routes(routes!(staff::map))
        .routes(routes!(appointments::list, appointments::book))
        .routes(routes!(pms::sync_status, pms::sync_all))
        .routes(routes!(pms::reconcile))
        .routes(routes!(pms::retry_parked))
        .routes(routes!(pms::doctor))
        .routes(routes!(pms::switch_preview, pms::switch))
        .routes(routes!(pms::availability))
        .routes(routes!(pms::refresh_availability))
        .routes(routes!(appointments::show, appointments::reschedule))
        .routes(routes!(appointments::cancel))
        .routes(routes!(appointments::resend))
        .routes(routes!(appointments::approve))
        .routes(routes!(appointments::decline))
        .routes(routes!(attendance::mark, attendance::unmark))
        .routes(routes!(attendance::today))
        .routes(routes!(attendance::blocks))
        .routes(routes!(attendance::lift))
        .routes(routes!(times::list_categories, times::add_category))
        .routes(routes!(times::remove_category))
        .routes(routes!(times::list_times, times::add_time))
        .routes(routes!(times::remove_time))
        .routes(routes!(times::list_closed, times::add_closed))
        .routes(routes!(times::remove_closed))
        .routes(routes!(links::list_links, links::create_link))
        .routes(routes!(links::revoke_link))
        .routes(routes!(links::renew_link))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::activate))
        .routes(routes!(plugins::rollback))
        .routes(routes!(plugins::remove))
        .routes(routes!(mail::status))
        .routes(routes!(mail::test))
        .routes(routes!(mail::list))
        .routes(routes!(mail::retry))
        .routes(routes!(mail::cancel))
        .routes(routes!(metrics::render))
        .routes(routes!(backup::backup))
        .routes(routes!(audit::list))
        .routes(routes!(audit::forget))
        .routes(routes!(webhooks::list, webhooks::add))
        .routes(routes!(webhooks::show, webhooks::update, webhooks::remove))
        .routes(routes!(webhooks::rotate))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::retry))
        .routes(routes!(waitlist::list))
        .routes(routes!(waitlist::remove))
        .routes(routes!(people::list, people::invite))
        .routes(routes!(people::show, people::update))
        .routes(routes!(people::reset_factors))
        .routes(routes!(people::resend))
        .routes(routes!(people::withdraw))
        .routes(routes!(session::create_owner))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(me::show, me::update))
        .routes(routes!(me::totp_status, me::totp_start, me::totp_remove))
        .routes(routes!(me::totp_confirm))
        .routes(routes!(me::passkeys, me::passkey_add))
        .routes(routes!(me::passkey_options))
        .routes(routes!(me::passkey_remove))
        .routes(routes!(me::recovery_codes))
        .routes(routes!(me::sessions))
        .routes(routes!(me::end_session))
        .routes(routes!(sso::list, sso::add))
        .routes(routes!(sso::remove))
        .routes(routes!(sso::test))
        .routes(routes!(sso::policy, sso::set_policy))
        .routes(routes!(sso::links))
        .routes(routes!(sso::unlink))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate));
    // Components are large: their route has its own body limit (and the token check).
    let install = OpenApiRouter::new()
        .routes(routes!(plugins::install))
        .layer(DefaultBodyLimit::max(plugins::MAX_COMPONENT_BODY))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate));
    // Signing in needs no token yet; each step finds its session itself.
    let session = OpenApiRouter::new()
        .routes(routes!(session::current, session::sign_in, session::sign_out))
        .routes(routes!(session::totp))
        .routes(routes!(session::recovery))
        .routes(routes!(session::passkey_options))
        .routes(routes!(session::passkey))
        .routes(routes!(session::skip_enrolment))
        .routes(routes!(session::forgot))
        .routes(routes!(sso::options))
        .layer(DefaultBodyLimit::max(PUBLIC_BODY_LIMIT_BYTES));
    // The rep's side: no token, the capability in the path is the key; small bodies; rate-limited.
    let rep = OpenApiRouter::new()
        .routes(routes!(pages::book_page))
        .routes(routes!(public::slots))
        .routes(routes!(public::book))
        .routes(routes!(pages::manage_page))
        .routes(routes!(public::booking))
        .routes(routes!(public::ics))
        .routes(routes!(public::swap_slots))
        .routes(routes!(public::cancel))
        .routes(routes!(public::swap))
        .routes(routes!(public::recover))
        .routes(routes!(pages::confirm_page, public::confirm))
        .routes(routes!(public::to_confirm))
        .routes(routes!(waitlist::form, waitlist::join))
        .routes(routes!(pages::waitlist_page, waitlist::leave))
        .routes(routes!(waitlist::entry))
        .routes(routes!(waitlist::confirm))
        .routes(routes!(pages::offer_page))
        .routes(routes!(waitlist::offer))
        .routes(routes!(waitlist::claim))
        .routes(routes!(pages::invite_page, welcome::accept))
        .routes(routes!(welcome::invitation))
        .routes(routes!(pages::reset_page, welcome::apply_reset))
        .routes(routes!(welcome::reset))
        .routes(routes!(sso::start))
        .routes(routes!(sso::callback))
        .layer(DefaultBodyLimit::max(PUBLIC_BODY_LIMIT_BYTES))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), public::limit));
    // The admin page's shell and the static assets need no token; they count against the per-address read
    // quota like the rep's pages. Health checks are never limited.
    let static_pages = OpenApiRouter::new()
        .routes(routes!(pages::admin_page))
        .routes(routes!(pages::asset))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), public::limit));
    let open = OpenApiRouter::new().routes(routes!(healthz));
    admin
        .merge(install)
        .merge(session)
        .merge(rep)
        .merge(static_pages)
        .merge(open)
}

pub fn router(state: AppState) -> Router {
    let (routes, mut document) = documented_routes(&state).split_for_parts();
    document.paths.paths.insert(
        "/api/v1/openapi.json".into(),
        OpenApiDocRoute::openapi()
            .paths
            .paths
            .into_values()
            .next()
            .unwrap_or_default(),
    );
    // Written once: the document is the same for the server's whole life.
    let document = Arc::new(document::described(&document).to_string());
    routes
        .route("/api/v1/openapi.json", get(openapi).with_state(document))
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_such_route",
                "no such route: check the method and the path",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn(error::envelope))
        .layer(axum::middleware::from_fn(headers::security_headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit::record))
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(state)
}

/// The document's own route, described apart because its handler serves the finished document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi))]
struct OpenApiDocRoute;
