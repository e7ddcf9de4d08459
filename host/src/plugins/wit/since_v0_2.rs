//! `repbook:pms@0.2.0`: its bindings, the host side of its imports, and conversions between its types and
//! the host's contract. New in 0.2.0: what the host knows of a PMS record travels with each push and
//! cancel, credentials have a scheme, PMS appointments may lack a practitioner or a length, and
//! `unavailability` reads a practitioner's diary.

wasmtime::component::bindgen!({
    path: "../wit/pms-0.2.0",
    world: "connector-world",
    imports: { default: async },
    exports: { default: async },
});

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};

use self::repbook::pms::{http, log, site_cache, types as wit, zone};
use super::{Answer, Call, civil_date, pairs};
use crate::plugins::contract::*;
use crate::plugins::sandbox::{HostState, HttpFailure, HttpRequest, LogLevel};

pub const EXPORT: &str = "repbook:pms/connector@0.2.0";

pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    ConnectorWorld::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

impl wit::Host for HostState {}

impl http::Host for HostState {
    async fn send(&mut self, request: http::Request) -> Result<http::Response, http::HttpError> {
        let request = HttpRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            timeout_ms: request.timeout_ms,
        };
        match self.http_send(request).await {
            Ok(response) => Ok(http::Response {
                status: response.status,
                headers: response.headers,
                body: response.body,
            }),
            Err(HttpFailure::Denied(why)) => Err(http::HttpError::Denied(why)),
            Err(HttpFailure::Timeout) => Err(http::HttpError::Timeout),
            Err(HttpFailure::Transport(why)) => Err(http::HttpError::Transport(why)),
            Err(HttpFailure::TooLarge(limit)) => Err(http::HttpError::TooLarge(limit)),
        }
    }
}

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        self.log_message(level, &message);
    }
}

impl site_cache::Host for HostState {
    async fn remember(&mut self, key: String, value: String) {
        self.cache_remember(key, value);
    }

    async fn forget(&mut self, key: String) {
        self.cache_forget(&key);
    }
}

impl zone::Host for HostState {
    async fn name(&mut self) -> String {
        self.zone.iana_name().unwrap_or("UTC").to_string()
    }

    async fn to_utc(&mut self, date: wit::LocalDate, seconds: u32) -> i64 {
        self.local_to_utc(date.year as i16, date.month as i8, date.day as i8, seconds)
    }

    async fn to_local(&mut self, utc_seconds: i64) -> (wit::LocalDate, u32) {
        let (year, month, day, seconds) = self.utc_to_local(utc_seconds);
        (
            wit::LocalDate {
                year: year as u16,
                month: month as u8,
                day: day as u8,
            },
            seconds,
        )
    }
}

pub async fn describe(world: &ConnectorWorld, store: &mut Store<HostState>) -> wasmtime::Result<ConnectorInfo> {
    let info = world.repbook_pms_connector().call_describe(store).await?;
    Ok(ConnectorInfo {
        name: info.name,
        version: info.version,
        pms: info.pms,
        capabilities: info.capabilities,
        settings: info
            .settings
            .into_iter()
            .map(|s| SettingSpec {
                name: s.name,
                description: s.description,
                secret: s.secret,
                required: s.required,
                default_value: s.default_value,
            })
            .collect(),
        allowed_hosts: info.allowed_hosts,
        credentials: info
            .credentials
            .into_iter()
            .map(|c| Credential {
                secret: c.secret,
                header: c.header,
                origin_setting: c.origin_setting,
                scheme: match c.scheme {
                    wit::CredentialScheme::Verbatim => CredentialScheme::Verbatim,
                    wit::CredentialScheme::Basic(user_setting) => CredentialScheme::Basic { user_setting },
                    wit::CredentialScheme::Bearer => CredentialScheme::Bearer,
                },
            })
            .collect(),
    })
}

pub async fn call(
    world: &ConnectorWorld,
    store: &mut Store<HostState>,
    ctx: &CallContext,
    call: Call<'_>,
) -> wasmtime::Result<Result<Answer, ConnectorFailure>> {
    let connector = world.repbook_pms_connector();
    let ctx = &context(ctx);
    let answer = match call {
        Call::ValidateSite => connector
            .call_validate_site(store, ctx)
            .await?
            .map(|s| Answer::Site(site_info(s))),
        Call::ListLocations => connector
            .call_list_locations(store, ctx)
            .await?
            .map(|list| Answer::Locations(list.into_iter().map(|l| Location { id: l.id, name: l.name }).collect())),
        Call::ListPractitioners => connector
            .call_list_practitioners(store, ctx)
            .await?
            .map(|list| Answer::Practitioners(list.into_iter().map(practitioner).collect())),
        Call::Push(appointment) => connector
            .call_push_appointment(store, ctx, &to_appointment(appointment))
            .await?
            .map(|outcome| Answer::Pushed(push_outcome(outcome))),
        Call::Cancel(appointment) => connector
            .call_cancel_appointment(store, ctx, &to_appointment(appointment))
            .await?
            .map(|()| Answer::Cancelled),
        Call::ListAppointments { first, last } => connector
            .call_list_appointments(store, ctx, to_date(first), to_date(last))
            .await?
            .map(|list| Answer::Appointments(list.into_iter().map(pms_appointment).collect())),
        Call::Health => connector.call_health(store, ctx).await?.map(|h| {
            Answer::Health(SiteHealth {
                availability: h.availability,
                detail: h.detail,
            })
        }),
        Call::Unavailability {
            practitioner_user_id,
            first,
            last,
        } => connector
            .call_unavailability(store, ctx, practitioner_user_id, to_date(first), to_date(last))
            .await?
            .map(|spans| Answer::Busy(spans.into_iter().map(busy_span).collect())),
    };
    Ok(answer.map_err(failure))
}

fn context(ctx: &CallContext) -> wit::Context {
    wit::Context {
        clinic_id: ctx.clinic_id.clone(),
        site_id: ctx.site_id.clone(),
        pairing_code: ctx.pairing_code.clone(),
        location_id: ctx.location_id,
        settings: pairs(&ctx.settings),
        secrets_set: ctx.secrets.keys().cloned().collect(),
        site_cache: pairs(&ctx.site_cache),
    }
}

fn to_date(date: jiff::civil::Date) -> wit::LocalDate {
    wit::LocalDate {
        year: date.year() as u16,
        month: date.month() as u8,
        day: date.day() as u8,
    }
}

fn from_date(date: wit::LocalDate) -> jiff::civil::Date {
    civil_date(date.year, date.month, date.day)
}

fn to_knowledge(known: &PmsKnowledge) -> wit::PmsKnowledge {
    match known {
        PmsKnowledge::NeverSent => wit::PmsKnowledge::NeverSent,
        PmsKnowledge::Confirmed(p) => wit::PmsKnowledge::Confirmed(wit::PmsPlacement {
            pms_id: p.pms_id.clone(),
            practitioner_user_id: p.practitioner_user_id,
            date: to_date(p.date),
            start_seconds: p.start_seconds,
            duration_seconds: p.duration_seconds,
        }),
        PmsKnowledge::Uncertain { pms_id } => wit::PmsKnowledge::Uncertain(pms_id.clone()),
    }
}

fn to_appointment(a: &LocalAppointment) -> wit::Appointment {
    wit::Appointment {
        reference: a.reference.clone(),
        practitioner_user_id: a.practitioner_user_id,
        date: to_date(a.date),
        start_seconds: a.start_seconds,
        duration_seconds: a.duration_seconds,
        rep_name: a.rep_name.clone(),
        rep_company: a.rep_company.clone(),
        rep_email: a.rep_email.clone(),
        notes: a.notes.clone(),
        known: to_knowledge(&a.known),
    }
}

fn site_info(s: wit::SiteInfo) -> SiteInfo {
    SiteInfo {
        practice_name: s.practice_name,
        availability: s.availability,
        version: s.version,
        details: s.details.into_iter().collect(),
    }
}

fn practitioner(p: wit::PmsPractitioner) -> PmsPractitioner {
    PmsPractitioner {
        user_id: p.user_id,
        title: p.title,
        first_name: p.first_name,
        last_name: p.last_name,
        has_appointments: p.has_appointments,
        provider_number: p.provider_number,
        ahpra: p.ahpra,
    }
}

fn push_outcome(p: wit::PushOutcome) -> PushOutcome {
    PushOutcome {
        pms_id: p.pms_id,
        action: match p.action {
            wit::PushAction::Created => PushAction::Created,
            wit::PushAction::Moved => PushAction::Moved,
            wit::PushAction::Updated => PushAction::Updated,
            wit::PushAction::Unchanged => PushAction::Unchanged,
        },
    }
}

fn pms_appointment(a: wit::PmsAppointment) -> PmsAppointment {
    PmsAppointment {
        pms_id: a.pms_id,
        reference: a.reference,
        practitioner_user_id: a.practitioner_user_id,
        date: from_date(a.date),
        start_seconds: a.start_seconds,
        duration_seconds: a.duration_seconds,
        cancelled: a.cancelled,
        text: a.text,
    }
}

fn busy_span(s: wit::BusySpan) -> BusySpan {
    BusySpan {
        date: from_date(s.date),
        start_seconds: s.start_seconds,
        end_seconds: s.end_seconds,
        reason: match s.reason {
            wit::BusyReason::Away => BusyReason::Away,
            wit::BusyReason::OutsideSessions => BusyReason::OutsideSessions,
            wit::BusyReason::Booked => BusyReason::Booked,
        },
    }
}

fn failure(e: wit::ConnectorError) -> ConnectorFailure {
    use wit::ConnectorError as E;
    match e {
        E::InvalidConfig(m) => ConnectorFailure::InvalidConfig(m),
        E::SiteNotFound(m) => ConnectorFailure::SiteNotFound(m),
        E::NotPaired(m) => ConnectorFailure::NotPaired(m),
        E::NotAuthoritative(m) => ConnectorFailure::NotAuthoritative(m),
        E::SiteOffline(m) => ConnectorFailure::SiteOffline(m),
        E::RateLimited(ms) => ConnectorFailure::RateLimited(ms),
        E::Auth(m) => ConnectorFailure::Auth(m),
        E::Conflict(m) => ConnectorFailure::Conflict(m),
        E::Rejected(m) => ConnectorFailure::Rejected(m),
        E::UnknownOutcome(m) => ConnectorFailure::UnknownOutcome(m),
        E::Transient(m) => ConnectorFailure::Transient(m),
        E::Unsupported(m) => ConnectorFailure::Unsupported(m),
    }
}
