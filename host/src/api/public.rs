//! The rep's routes, reached without the admin token: the capability in the path is the only key. A wrong
//! capability and a revoked or expired one get the same 404. Every change is a POST (mail scanners open
//! links); GETs never change anything. Rate limits per client address and per capability apply here.

use std::num::NonZeroU32;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use governor::{DefaultKeyedRateLimiter, Quota};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::audit::AuditNote;
use super::error::ApiError;
use super::extract::{JsonBody, QueryParams};
use super::listener::ClientAddr;
use crate::app::{BookingRequest, Offer, RepVisit, SwapRequest, digest};
use crate::domain::{AppointmentStatus, Clinic, Rep, parse_date, rfc3339_and_abbreviation, rfc3339_in};
use crate::notify::Method;

/// Limits on the public routes: per client address and per capability (link or manage token).
pub struct PublicLimits {
    reads_per_address: DefaultKeyedRateLimiter<std::net::IpAddr>,
    writes_per_address: DefaultKeyedRateLimiter<std::net::IpAddr>,
    per_capability: DefaultKeyedRateLimiter<String>,
    sign_ins_per_address: DefaultKeyedRateLimiter<std::net::IpAddr>,
    /// "Email me my visits", per (normalised) address asked for: a mailbox is not flooded.
    recoveries_per_recipient: DefaultKeyedRateLimiter<String>,
}

/// Requests per minute the public routes allow; a burst of that many, refilled evenly over the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicLimitConfig {
    /// Page and slot reads per client address.
    pub reads_per_address: u32,
    /// Bookings, swaps and cancels per client address.
    pub writes_per_address: u32,
    /// Requests of any kind per link or manage token, whatever the address.
    pub per_capability: u32,
    /// Sign-in steps (password, code, passkey) per client address, right or wrong: bounds the password
    /// hashing one address can ask for. Wrong ones are also throttled per account (`identity::throttle`).
    pub sign_in_attempts_per_address: u32,
}

impl Default for PublicLimitConfig {
    fn default() -> Self {
        PublicLimitConfig {
            reads_per_address: 240,
            writes_per_address: 20,
            per_capability: 300,
            sign_in_attempts_per_address: 30,
        }
    }
}

impl PublicLimits {
    pub fn new(config: PublicLimitConfig) -> PublicLimits {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        PublicLimits {
            reads_per_address: DefaultKeyedRateLimiter::keyed(per_minute(config.reads_per_address)),
            writes_per_address: DefaultKeyedRateLimiter::keyed(per_minute(config.writes_per_address)),
            per_capability: DefaultKeyedRateLimiter::keyed(per_minute(config.per_capability)),
            sign_ins_per_address: DefaultKeyedRateLimiter::keyed(per_minute(config.sign_in_attempts_per_address)),
            recoveries_per_recipient: DefaultKeyedRateLimiter::keyed(Quota::per_hour(
                NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN),
            )),
        }
    }

    /// Counts a request that mails a rep a link (their visits' links, a waitlist confirmation) against the
    /// address it mails, so the form cannot be used to flood someone's inbox.
    pub fn allow_recovery(&self, email: &str) -> bool {
        self.recoveries_per_recipient
            .check_key(&crate::domain::normalize_email(email))
            .is_ok()
    }

    /// Counts a step of signing in against its client address.
    pub fn allow_sign_in(&self, ip: std::net::IpAddr) -> bool {
        self.sign_ins_per_address.check_key(&ip).is_ok()
    }

    /// Forgets keys whose quota has refilled, so memory follows the clients of the last minute.
    pub fn retain_recent(&self) {
        self.reads_per_address.retain_recent();
        self.writes_per_address.retain_recent();
        self.per_capability.retain_recent();
        self.sign_ins_per_address.retain_recent();
        self.recoveries_per_recipient.retain_recent();
    }
}

fn too_many() -> Response {
    too_many_for("too many requests from here; wait a minute and try again").into_response()
}

pub(crate) fn too_many_for(message: &str) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).with_retry_after(60)
}

/// Middleware: counts the request against its client address and its capability.
pub async fn limit(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    request: Request,
    next: Next,
) -> Response {
    let limits = &state.public_limits;
    let by_address = if request.method() == axum::http::Method::GET {
        &limits.reads_per_address
    } else {
        &limits.writes_per_address
    };
    if by_address.check_key(&ip).is_err() {
        return too_many();
    }
    // Only `/book/{link}/...`, `/manage/{token}/...` and `/confirm/{token}` carry a capability; pages and
    // assets count per address only. Counted as the router sees it (percent-decoded: `%36` and `6` are one
    // link), and by its digest, so the limiter never holds a capability.
    let mut segments = request.uri().path().split('/').skip(1);
    if let (Some("book" | "manage" | "confirm" | "waitlist" | "offer" | "invite" | "reset"), Some(raw)) =
        (segments.next(), segments.next())
        && !raw.is_empty()
    {
        let capability = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
        if limits.per_capability.check_key(&digest(&capability)).is_err() {
            return too_many();
        }
    }
    next.run(request).await
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClinicSummary {
    pub name: String,
    pub timezone: String,
    pub visiting_instructions: String,
}

impl From<&Clinic> for ClinicSummary {
    fn from(clinic: &Clinic) -> Self {
        ClinicSummary {
            name: clinic.name.clone(),
            timezone: clinic.timezone.clone(),
            visiting_instructions: clinic.booking.visiting_instructions.clone(),
        }
    }
}

/// A slot as reps see it: free or not (only free ones are listed), never who else booked.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlotView {
    /// RFC 3339 with the clinic's offset.
    pub start: String,
    /// Clinic-local `YYYY-MM-DDTHH:MM`: send it back to book this slot.
    pub local_start: String,
    /// The zone's abbreviation at that time, e.g. AEDT.
    pub zone: String,
    pub minutes: u32,
    /// "Dr Ana Ng", or "the clinic".
    pub with: String,
    pub practitioner_id: Option<String>,
    pub approval_required: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlotList {
    pub clinic: ClinicSummary,
    pub slots: Vec<SlotView>,
    /// How far the slots were checked against the doctors' diaries in the PMS; `null` when the clinic's
    /// connector does not read diaries.
    pub pms_check: Option<PmsCheck>,
}

/// Whether the offered slots follow the doctors' real diaries.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PmsCheck {
    /// Every day shown was read from the PMS recently.
    pub fresh: bool,
    /// The oldest diary read these slots rely on (RFC 3339), `null` when some day was never read.
    pub checked_since: Option<String>,
    /// For people, when not fresh: "not checked against the PMS since 10:42 (AEDT)".
    pub note: Option<String>,
}

fn slot_list(clinic: &Clinic, offer: &Offer) -> SlotList {
    let pms_check = offer.pms_checked.then(|| {
        let tz = clinic.tz();
        let note = (!offer.fresh).then(|| match offer.checked_since {
            Some(since) => format!(
                "not checked against the PMS since {}; a time may turn out to be taken",
                since.to_zoned_datetime(tz.clone()).strftime("%-d %b %H:%M %Z")
            ),
            None => "not checked against the PMS yet; a time may turn out to be taken".to_string(),
        });
        PmsCheck {
            fresh: offer.fresh,
            checked_since: offer.checked_since.map(|t| rfc3339_in(t, &tz)),
            note,
        }
    });
    SlotList {
        slots: slot_views(clinic, offer),
        clinic: clinic.into(),
        pms_check,
    }
}

fn slot_views(clinic: &Clinic, offer: &Offer) -> Vec<SlotView> {
    let tz = clinic.tz();
    offer
        .slots
        .iter()
        .map(|slot| {
            let (start, zone) = rfc3339_and_abbreviation(slot.start, &tz);
            SlotView {
                start,
                local_start: slot.local_start(),
                zone,
                minutes: slot.minutes,
                with: slot
                    .practitioner_id
                    .as_ref()
                    .map(|id| offer.names.get(id).cloned().unwrap_or_default())
                    .unwrap_or_else(|| "the clinic".into()),
                practitioner_id: slot.practitioner_id.clone(),
                approval_required: slot.approval_required,
            }
        })
        .collect()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// First clinic-local date (YYYY-MM-DD); default today.
    #[serde(default)]
    #[param(format = Date, pattern = "@date")]
    pub from: Option<String>,
    /// Last clinic-local date; default four weeks on.
    #[serde(default)]
    #[param(format = Date, pattern = "@date")]
    pub to: Option<String>,
}

/// The query's dates, as given (the workflow bounds them in the clinic's zone).
type Range = (Option<jiff::civil::Date>, Option<jiff::civil::Date>);

fn range(query: &RangeQuery) -> Result<Range, ApiError> {
    let from = query.from.as_deref().map(|d| parse_date("from", d)).transpose()?;
    let to = query.to.as_deref().map(|d| parse_date("to", d)).transpose()?;
    Ok((from, to))
}

/// A booking as the rep sees it through the manage link.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepBooking {
    pub reference: String,
    pub status: AppointmentStatus,
    pub clinic: ClinicSummary,
    pub with: String,
    pub practitioner_id: Option<String>,
    pub start: String,
    pub local_start: String,
    pub zone: String,
    pub minutes: u32,
    pub rep: Rep,
    /// Until when the rep may cancel or swap (RFC 3339); `null` when it is too late or nothing is held.
    pub cancel_until: Option<String>,
    pub swap_until: Option<String>,
    /// For a request waiting for approval: when it lets its slot go.
    pub request_expires_at: Option<String>,
    pub ics_url: String,
}

fn rep_booking(visit: RepVisit, token: &str, now: Timestamp) -> RepBooking {
    let RepVisit {
        appointment,
        clinic,
        with,
    } = visit;
    let tz = clinic.tz();
    let holds = matches!(
        appointment.status,
        AppointmentStatus::Booked | AppointmentStatus::Requested
    );
    let until = |hours: u32| {
        let until = appointment.start - jiff::SignedDuration::from_hours(hours as i64);
        (holds && until > now).then(|| rfc3339_in(until, &tz))
    };
    let (start, zone) = rfc3339_and_abbreviation(appointment.start, &tz);
    RepBooking {
        reference: appointment.reference.clone(),
        status: appointment.status,
        clinic: (&clinic).into(),
        with,
        practitioner_id: appointment.practitioner_id.clone(),
        start,
        local_start: format!(
            "{}T{:02}:{:02}",
            appointment.local_date,
            appointment.local_seconds / 3600,
            appointment.local_seconds % 3600 / 60
        ),
        zone,
        minutes: appointment.duration_minutes,
        rep: appointment.rep.clone(),
        cancel_until: until(clinic.booking.cancel_cutoff_hours),
        swap_until: until(clinic.booking.swap_cutoff_hours),
        request_expires_at: appointment
            .request_expires_at
            .filter(|_| appointment.status == AppointmentStatus::Requested)
            .map(|t| rfc3339_in(t, &tz)),
        ics_url: format!("/manage/{token}/booking.ics"),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Booked {
    /// held (waiting for the rep to confirm their address by email), booked, or requested (waiting for the
    /// clinic's approval).
    pub status: AppointmentStatus,
    /// The rep's page for this booking: keep it to change, cancel or download it. Shown only now (and in
    /// the mail that books it); `null` while the address is to be confirmed.
    pub manage_url: Option<String>,
    /// While held: until when the time is kept for the rep to confirm (RFC 3339).
    pub hold_until: Option<String>,
    pub appointment: RepBooking,
}

impl Booked {
    pub(crate) fn of(booked: crate::app::Booked, now: Timestamp) -> Booked {
        let token = booked.manage_token.unwrap_or_default();
        let hold_until = booked
            .visit
            .appointment
            .hold
            .as_ref()
            .filter(|_| booked.visit.appointment.status == AppointmentStatus::Held)
            .map(|h| rfc3339_in(h.expires_at, &booked.visit.clinic.tz()));
        Booked {
            status: booked.visit.appointment.status,
            manage_url: (!token.is_empty()).then(|| format!("/manage/{token}")),
            hold_until,
            appointment: rep_booking(booked.visit, &token, now),
        }
    }
}

/// "Email me my visits".
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverRequest {
    #[schema(min_length = 3, max_length = 254, pattern = "@email")]
    pub email: String,
}

/// The same answer whether or not there are visits for the address.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    pub message: String,
}

#[utoipa::path(operation_id = "public_slots", 
    get,
    path = "/book/{link}/slots",
    tag = "rep",
    summary = "Open slots a booking link sees (free/busy only)",
    params(("link" = String, Path, description = "The link's capability"), RangeQuery),
    responses((status = 200, description = "Done", body = SlotList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn slots(
    State(state): State<AppState>,
    Path(link): Path<String>,
    QueryParams(query): QueryParams<RangeQuery>,
) -> Result<Json<SlotList>, ApiError> {
    let (from, to) = range(&query)?;
    let (clinic, offer) = state.app.slots(&link, from, to)?;
    Ok(Json(slot_list(&clinic, &offer)))
}

#[utoipa::path(operation_id = "public_book", 
    post,
    path = "/book/{link}/bookings",
    tag = "rep",
    summary = "Book a slot through a link",
    params(("link" = String, Path, description = "The link's capability")),
    request_body = BookingRequest,
    responses((status = 201, description = "Created", body = Booked), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn book(
    State(state): State<AppState>,
    Path(link): Path<String>,
    JsonBody(request): JsonBody<BookingRequest>,
) -> Result<(StatusCode, Extension<AuditNote>, Json<Booked>), ApiError> {
    let booked = state.app.book_through_link(&link, request).await?;
    let note = AuditNote::visit(&booked.visit, "booked through a link");
    Ok((
        StatusCode::CREATED,
        Extension(note),
        Json(Booked::of(booked, state.app.now())),
    ))
}

#[utoipa::path(operation_id = "public_booking", 
    get,
    path = "/manage/{token}/booking",
    tag = "rep",
    summary = "The booking a manage link opens",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = RepBooking), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn booking(State(state): State<AppState>, Path(token): Path<String>) -> Result<Json<RepBooking>, ApiError> {
    let visit = state.app.managed(&token)?;
    Ok(Json(rep_booking(visit, &token, state.app.now())))
}

#[utoipa::path(operation_id = "public_swap_slots", 
    get,
    path = "/manage/{token}/slots",
    tag = "rep",
    summary = "Open slots the booking could move to",
    params(("token" = String, Path), RangeQuery),
    responses((status = 200, description = "Done", body = SlotList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn swap_slots(
    State(state): State<AppState>,
    Path(token): Path<String>,
    QueryParams(query): QueryParams<RangeQuery>,
) -> Result<Json<SlotList>, ApiError> {
    let (from, to) = range(&query)?;
    let (clinic, offer) = state.app.swap_slots(&token, from, to)?;
    Ok(Json(slot_list(&clinic, &offer)))
}

#[utoipa::path(operation_id = "public_cancel", 
    post,
    path = "/manage/{token}/cancel",
    tag = "rep",
    summary = "Cancel the booking (up to the clinic's cut-off)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = RepBooking), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn cancel(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<(Extension<AuditNote>, Json<RepBooking>), ApiError> {
    let cancelled = state.app.cancel_through_link(&token).await?;
    let note = AuditNote::visit(&cancelled, "cancelled by the rep");
    Ok((Extension(note), Json(rep_booking(cancelled, &token, state.app.now()))))
}

#[utoipa::path(operation_id = "public_swap", 
    post,
    path = "/manage/{token}/swap",
    tag = "rep",
    summary = "Move the booking to another open slot in one step",
    params(("token" = String, Path)),
    request_body = SwapRequest,
    responses((status = 200, description = "Done", body = RepBooking), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn swap(
    State(state): State<AppState>,
    Path(token): Path<String>,
    JsonBody(request): JsonBody<SwapRequest>,
) -> Result<(Extension<AuditNote>, Json<RepBooking>), ApiError> {
    let swapped = state.app.swap(&token, request).await?;
    let note = AuditNote::visit(&swapped, "moved by the rep");
    Ok((Extension(note), Json(rep_booking(swapped, &token, state.app.now()))))
}

#[utoipa::path(operation_id = "public_ics", 
    get,
    path = "/manage/{token}/booking.ics",
    tag = "rep",
    summary = "The booking as an iCalendar file",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = String, content_type = "text/calendar"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn ics(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let visit = state.app.managed(&token)?;
    let body = crate::notify::calendar(&visit.clinic, &visit.appointment, &visit.with, Method::Publish, None);
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"rep-visit.ics\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(operation_id = "public_to_confirm",
    get,
    path = "/confirm/{token}/visit",
    tag = "rep",
    summary = "The visit an address confirmation link names, as it stands (changes nothing)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = RepBooking), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn to_confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<RepBooking>, ApiError> {
    let visit = state.app.to_confirm(&token)?;
    // Not the manage page: the confirmation link gives no way to change the visit.
    let mut booking = rep_booking(visit, "", state.app.now());
    booking.ics_url = String::new();
    booking.cancel_until = None;
    booking.swap_until = None;
    Ok(Json(booking))
}

#[utoipa::path(operation_id = "public_confirm",
    post,
    path = "/confirm/{token}",
    tag = "rep",
    summary = "Confirm the address a booking was made with: it is booked (or requested) and its manage link given",
    params(("token" = String, Path)),
    responses((status = 200, description = "Confirmed", body = Booked), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<(Extension<AuditNote>, Json<Booked>), ApiError> {
    let confirmed = state.app.confirm(&token).await?;
    let note = AuditNote::visit(&confirmed.visit, "address confirmed");
    Ok((Extension(note), Json(Booked::of(confirmed, state.app.now()))))
}

#[utoipa::path(operation_id = "public_recover",
    post,
    path = "/book/{link}/recover",
    tag = "rep",
    summary = "Email me my visits: fresh manage links to the address, for its future visits at this clinic",
    params(("link" = String, Path, description = "The link's capability")),
    request_body = RecoverRequest,
    responses((status = 202, description = "Accepted (the same answer whether or not there are visits)", body = Accepted), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn recover(
    State(state): State<AppState>,
    Path(link): Path<String>,
    JsonBody(request): JsonBody<RecoverRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    if !state.public_limits.allow_recovery(&request.email) {
        return Err(too_many_for(
            "links were sent to this address a short while ago; check its inbox (and spam folder), or wait an hour",
        ));
    }
    state.app.recover(&link, &request.email).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: format!(
                "If {} has future visits at this clinic, an email with a link to each is on its way; the links you had before no longer work.",
                request.email.trim()
            ),
        }),
    ))
}
