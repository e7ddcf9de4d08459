//! What every version of `repbook:pms` has in common, written once: the host side of the imports whose WIT
//! has not changed since 0.1.0 (`http`, `log`, `site-cache`) and the conversions of the records that have
//! not changed (context, dates, site info, practitioners, push outcomes, setting specs). Each version's
//! bindings are their own Rust types at their own paths, so one implementation is stamped out per version
//! by these macros; a version module writes by hand only what its WIT changed.
//!
//! (bindgen's `with:` would map an unchanged interface onto the newest module, as Zed's extension host
//! does, but our package carries its version in every import name, and 0.1 and 0.2 are not semver-
//! compatible, so the linker must see each version's names.)

/// `impl http::Host`, `log::Host` and `site_cache::Host` for `HostState`, for the bindings at `$pms`
/// (e.g. `repbook::pms`), all delegating to the sandbox's one implementation.
macro_rules! host_imports {
    ($($pms:ident)::+) => {
        impl $($pms)::+::http::Host for $crate::plugins::sandbox::HostState {
            async fn send(
                &mut self,
                request: $($pms)::+::http::Request,
            ) -> Result<$($pms)::+::http::Response, $($pms)::+::http::HttpError> {
                use $($pms)::+::http::HttpError;
                use $crate::plugins::sandbox::{HttpFailure, HttpRequest};
                let request = HttpRequest {
                    method: request.method,
                    url: request.url,
                    headers: request.headers,
                    body: request.body,
                    timeout_ms: request.timeout_ms,
                };
                match self.http_send(request).await {
                    Ok(response) => Ok($($pms)::+::http::Response {
                        status: response.status,
                        headers: response.headers,
                        body: response.body,
                    }),
                    Err(HttpFailure::Denied(why)) => Err(HttpError::Denied(why)),
                    Err(HttpFailure::Timeout) => Err(HttpError::Timeout),
                    Err(HttpFailure::Transport(why)) => Err(HttpError::Transport(why)),
                    Err(HttpFailure::TooLarge(limit)) => Err(HttpError::TooLarge(limit)),
                }
            }
        }

        impl $($pms)::+::log::Host for $crate::plugins::sandbox::HostState {
            async fn log(&mut self, level: $($pms)::+::log::Level, message: String) {
                use $($pms)::+::log::Level;
                use $crate::plugins::sandbox::LogLevel;
                let level = match level {
                    Level::Trace => LogLevel::Trace,
                    Level::Debug => LogLevel::Debug,
                    Level::Info => LogLevel::Info,
                    Level::Warn => LogLevel::Warn,
                    Level::Error => LogLevel::Error,
                };
                self.log_message(level, &message);
            }
        }

        impl $($pms)::+::site_cache::Host for $crate::plugins::sandbox::HostState {
            async fn remember(&mut self, key: String, value: String) {
                self.cache_remember(key, value);
            }

            async fn forget(&mut self, key: String) {
                self.cache_forget(&key);
            }
        }

        impl $($pms)::+::types::Host for $crate::plugins::sandbox::HostState {}
    };
}

/// Conversions between the host's contract and the records every version shares, for the `types` module
/// at `$types` (e.g. `repbook::pms::types`): `context`, `to_date`, `site_info`, `practitioner`,
/// `push_outcome` and `setting_spec`.
macro_rules! shared_conversions {
    ($($types:ident)::+) => {
        fn context(ctx: &$crate::plugins::contract::CallContext) -> $($types)::+::Context {
            $($types)::+::Context {
                clinic_id: ctx.clinic_id.clone(),
                site_id: ctx.site_id.clone(),
                pairing_code: ctx.pairing_code.clone(),
                location_id: ctx.location_id,
                settings: super::pairs(&ctx.settings),
                secrets_set: ctx.secrets.keys().cloned().collect(),
                site_cache: super::pairs(&ctx.site_cache),
            }
        }

        fn to_date(date: jiff::civil::Date) -> $($types)::+::LocalDate {
            $($types)::+::LocalDate {
                year: date.year() as u16,
                month: date.month() as u8,
                day: date.day() as u8,
            }
        }

        fn site_info(s: $($types)::+::SiteInfo) -> $crate::plugins::contract::SiteInfo {
            $crate::plugins::contract::SiteInfo {
                practice_name: s.practice_name,
                availability: s.availability,
                version: s.version,
                details: s.details.into_iter().collect(),
            }
        }

        fn practitioner(p: $($types)::+::PmsPractitioner) -> $crate::plugins::contract::PmsPractitioner {
            $crate::plugins::contract::PmsPractitioner {
                user_id: p.user_id,
                title: p.title,
                first_name: p.first_name,
                last_name: p.last_name,
                has_appointments: p.has_appointments,
                provider_number: p.provider_number,
                ahpra: p.ahpra,
            }
        }

        fn push_outcome(p: $($types)::+::PushOutcome) -> $crate::plugins::contract::PushOutcome {
            use $($types)::+::PushAction as Wit;
            use $crate::plugins::contract::PushAction;
            $crate::plugins::contract::PushOutcome {
                pms_id: p.pms_id,
                action: match p.action {
                    Wit::Created => PushAction::Created,
                    Wit::Moved => PushAction::Moved,
                    Wit::Updated => PushAction::Updated,
                    Wit::Unchanged => PushAction::Unchanged,
                },
            }
        }

        fn setting_spec(s: $($types)::+::SettingSpec) -> $crate::plugins::contract::SettingSpec {
            $crate::plugins::contract::SettingSpec::from_described(
                s.name,
                s.description,
                s.secret,
                s.required,
                s.default_value,
            )
        }
    };
}

/// `failure`: a connector's error as the host's [`ConnectorFailure`](crate::plugins::ConnectorFailure), for
/// the `types` module at `$types`; the variants after `;` are the ones this version added (same names on
/// both sides).
macro_rules! connector_failure {
    ($($types:ident)::+ ; $($added:ident),*) => {
        fn failure(e: $($types)::+::ConnectorError) -> $crate::plugins::ConnectorFailure {
            use $($types)::+::ConnectorError as E;
            use $crate::plugins::ConnectorFailure as F;
            match e {
                E::InvalidConfig(m) => F::InvalidConfig(m),
                E::SiteNotFound(m) => F::SiteNotFound(m),
                E::NotPaired(m) => F::NotPaired(m),
                E::NotAuthoritative(m) => F::NotAuthoritative(m),
                E::SiteOffline(m) => F::SiteOffline(m),
                E::RateLimited(ms) => F::RateLimited(ms),
                E::Auth(m) => F::Auth(m),
                E::Conflict(m) => F::Conflict(m),
                E::Rejected(m) => F::Rejected(m),
                E::UnknownOutcome(m) => F::UnknownOutcome(m),
                E::Transient(m) => F::Transient(m),
                $(E::$added(m) => F::$added(m),)*
            }
        }
    };
}

/// `describe` and `call` for a version's `ConnectorWorld`: the exports every version shares are dispatched
/// here; the version gives what differs as expressions over the names it binds: how a credential's scheme
/// is read (`scheme(c) => ...`), how a cancel is made (`cancel(appointment) => ...`) and how a diary is read
/// (`unavailability(user, first, last) => ...`), each in terms of `connector`, `store` and `ctx` as it
/// names them in `bindings(...)`.
macro_rules! connector_exports {
    (
        bindings($connector:ident, $store:ident, $ctx:ident);
        scheme($credential:ident) => $scheme:expr;
        cancel($appointment:ident) => $cancel:expr;
        unavailability($user:ident, $first:ident, $last:ident) => $unavailability:expr;
    ) => {
        pub async fn describe(
            world: &ConnectorWorld,
            store: &mut wasmtime::Store<$crate::plugins::sandbox::HostState>,
        ) -> wasmtime::Result<$crate::plugins::contract::ConnectorInfo> {
            use $crate::plugins::contract::{ConnectorInfo, Credential};
            let info = world.repbook_pms_connector().call_describe(store).await?;
            Ok(ConnectorInfo {
                name: info.name,
                version: info.version,
                pms: info.pms,
                capabilities: info.capabilities,
                settings: info.settings.into_iter().map(setting_spec).collect(),
                allowed_hosts: info.allowed_hosts,
                credentials: info
                    .credentials
                    .into_iter()
                    .map(|$credential| Credential {
                        scheme: $scheme,
                        secret: $credential.secret,
                        header: $credential.header,
                        origin_setting: $credential.origin_setting,
                    })
                    .collect(),
            })
        }

        /// A trap or a runtime failure is the outer error; the connector's own report is the inner one.
        pub async fn call(
            world: &ConnectorWorld,
            $store: &mut wasmtime::Store<$crate::plugins::sandbox::HostState>,
            ctx: &$crate::plugins::contract::CallContext,
            call: super::Call<'_>,
        ) -> wasmtime::Result<Result<super::Answer, $crate::plugins::ConnectorFailure>> {
            use super::{Answer, Call};
            use $crate::plugins::contract::{Location, SiteHealth};
            let $connector = world.repbook_pms_connector();
            let $ctx = &context(ctx);
            let answer = match call {
                Call::ValidateSite => $connector
                    .call_validate_site(&mut *$store, $ctx)
                    .await?
                    .map(|s| Answer::Site(site_info(s))),
                Call::ListLocations => $connector
                    .call_list_locations(&mut *$store, $ctx)
                    .await?
                    .map(|list| {
                        Answer::Locations(
                            list.into_iter()
                                .map(|l| Location {
                                    id: l.id,
                                    name: l.name,
                                })
                                .collect(),
                        )
                    }),
                Call::ListPractitioners => $connector
                    .call_list_practitioners(&mut *$store, $ctx)
                    .await?
                    .map(|list| Answer::Practitioners(list.into_iter().map(practitioner).collect())),
                Call::Push(appointment) => $connector
                    .call_push_appointment(&mut *$store, $ctx, &to_appointment(appointment))
                    .await?
                    .map(|outcome| Answer::Pushed(push_outcome(outcome))),
                Call::Cancel($appointment) => $cancel,
                Call::ListAppointments { first, last } => $connector
                    .call_list_appointments(&mut *$store, $ctx, to_date(first), to_date(last))
                    .await?
                    .map(|list| Answer::Appointments(list.into_iter().map(pms_appointment).collect())),
                Call::Health => $connector.call_health(&mut *$store, $ctx).await?.map(|h| {
                    Answer::Health(SiteHealth {
                        availability: h.availability,
                        detail: h.detail,
                    })
                }),
                Call::Unavailability {
                    practitioner_user_id: $user,
                    first: $first,
                    last: $last,
                } => $unavailability,
            };
            Ok(answer.map_err(failure))
        }
    };
}

pub(super) use {connector_exports, connector_failure, host_imports, shared_conversions};
