//! One loaded plugin version and its calls. Each call gets a fresh store (so a swap or a trap leaves
//! nothing behind), the sandbox limits and the plugin's network policy; results are converted from the
//! generated types of the plugin's WIT version into the host's `contract` types.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;
use wasmtime::Store;

use super::bindings::v0_1;
use super::bindings::v0_1::repbook::pms::types as wit;
use super::contract::*;
use super::egress::{Egress, origin_of};
use super::sandbox::{CallNet, HostState, InjectedHeader};
use super::{CallError, PluginError, Runtime};

/// The generated pre-instantiated world, by WIT version.
enum Prepared {
    V0_1(v0_1::ConnectorWorldPre<HostState>),
}

pub struct LoadedPlugin {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub wit_version: &'static str,
    pub info: ConnectorInfo,
    /// The hosts this plugin may reach: its declaration narrowed by the operator's policy.
    egress: Arc<Egress>,
    /// `name@version`, for logs; shared by every call's host state.
    label: Arc<str>,
    /// The network of a call without a clinic context (`describe`), built once.
    bare_net: Arc<CallNet>,
    prepared: Prepared,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoadedPlugin({}@{} {})", self.name, self.version, &self.sha256[..12])
    }
}

struct Session {
    store: Store<HostState>,
    instance: v0_1::ConnectorWorld,
    started: Instant,
}

impl LoadedPlugin {
    /// Compiles (or loads from cache), links and asks the component to describe itself.
    pub async fn load(runtime: Arc<Runtime>, bytes: &[u8], sha256: &str) -> Result<LoadedPlugin, PluginError> {
        let component = runtime.engine.component(bytes, sha256).await?;
        let pre = runtime.engine.prepare(&component)?;
        let mut plugin = LoadedPlugin {
            name: String::new(),
            version: String::new(),
            sha256: sha256.to_string(),
            wit_version: "0.1.0",
            info: ConnectorInfo {
                name: String::new(),
                version: String::new(),
                pms: String::new(),
                capabilities: vec![],
                settings: vec![],
                allowed_hosts: vec![],
                credentials: vec![],
            },
            egress: Arc::new(Egress::new(&[], &runtime.operator)),
            label: Arc::from("loading"),
            bare_net: Arc::new(CallNet::closed(runtime.http.clone(), runtime.http_limits.clone())),
            prepared: Prepared::V0_1(pre),
            runtime,
        };
        let info = plugin.describe().await?;
        plugin.name = info.name.clone();
        plugin.version = info.version.clone();
        plugin.egress = Arc::new(Egress::new(&info.allowed_hosts, &plugin.runtime.operator));
        plugin.label = Arc::from(format!("{}@{}", info.name, info.version));
        plugin.info = info;
        plugin.bare_net = Arc::new(plugin.net_for(&CallContext::default()));
        Ok(plugin)
    }

    pub fn label(&self) -> String {
        self.label.to_string()
    }

    pub fn egress(&self) -> &Egress {
        &self.egress
    }

    fn net_for(&self, ctx: &CallContext) -> CallNet {
        let mut injected = Vec::new();
        let mut reserved = vec![
            reqwest::header::HOST,
            reqwest::header::CONTENT_LENGTH,
            reqwest::header::TRANSFER_ENCODING,
            reqwest::header::CONNECTION,
        ];
        for credential in &self.info.credentials {
            let Ok(name) = HeaderName::from_bytes(credential.header.as_bytes()) else {
                continue;
            };
            reserved.push(name.clone());
            let origin_url = ctx.settings.get(&credential.origin_setting).cloned().or_else(|| {
                self.info
                    .settings
                    .iter()
                    .find(|s| s.name == credential.origin_setting)
                    .and_then(|s| s.default_value.clone())
            });
            let origin = origin_url.and_then(|u| Url::parse(&u).ok()).and_then(|u| origin_of(&u));
            let value = ctx
                .secrets
                .get(&credential.secret)
                .and_then(|v| HeaderValue::from_str(v).ok());
            if let (Some(origin), Some(mut value)) = (origin, value) {
                value.set_sensitive(true);
                injected.push(InjectedHeader { origin, name, value });
            }
        }
        CallNet {
            client: self.runtime.http.clone(),
            egress: self.egress.clone(),
            limits: self.runtime.http_limits.clone(),
            injected,
            reserved,
        }
    }

    async fn session(&self, ctx: Option<&CallContext>) -> Result<Session, PluginError> {
        let engine = &self.runtime.engine;
        let net = match ctx {
            Some(ctx) => Arc::new(self.net_for(ctx)),
            None => self.bare_net.clone(),
        };
        let empty = CallContext::default();
        let ctx = ctx.unwrap_or(&empty);
        let state = HostState::new(
            engine.store_limits(),
            net,
            self.label.clone(),
            ctx.secrets.values().cloned().collect(),
            ctx.site_cache.clone(),
        );
        let mut store = engine.store(state);
        let Prepared::V0_1(pre) = &self.prepared;
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| self.runtime_error(&store, e, Instant::now()))?;
        Ok(Session {
            store,
            instance,
            started: Instant::now(),
        })
    }

    fn runtime_error(&self, store: &Store<HostState>, error: wasmtime::Error, started: Instant) -> PluginError {
        let limits = &self.runtime.engine.limits;
        if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
            if *trap == wasmtime::Trap::Interrupt {
                return PluginError::Deadline {
                    plugin: self.label(),
                    budget_ms: limits.guest_time.as_millis() as u64,
                    elapsed_ms: started.elapsed().as_millis() as u64,
                };
            }
        }
        let text = format!("{error:#}");
        if text.contains("growing memory") || text.contains("memory limit") {
            return PluginError::MemoryLimit {
                plugin: self.label(),
                limit_mib: limits.memory_bytes >> 20,
            };
        }
        let stderr = store.data().stderr_text();
        PluginError::Trapped {
            plugin: self.label(),
            message: if stderr.is_empty() {
                text
            } else {
                format!("{stderr} ({text})")
            },
        }
    }

    /// Runs `call` against a fresh instance under the wall-clock bound, and maps traps to errors.
    async fn finish<T, W>(
        &self,
        mut session: Session,
        ctx: Option<&mut CallContext>,
        outcome: Result<wasmtime::Result<Result<W, wit::ConnectorError>>, tokio::time::error::Elapsed>,
        convert: impl FnOnce(W) -> T,
    ) -> Result<T, CallError> {
        let started = session.started;
        let result = match outcome {
            Err(_) => Err(CallError::Runtime(PluginError::Deadline {
                plugin: self.label(),
                budget_ms: self.runtime.engine.limits.wall_time.as_millis() as u64,
                elapsed_ms: started.elapsed().as_millis() as u64,
            })),
            Ok(Err(error)) => Err(CallError::Runtime(self.runtime_error(&session.store, error, started))),
            Ok(Ok(Err(failure))) => Err(CallError::Connector(failure.into())),
            Ok(Ok(Ok(value))) => Ok(convert(value)),
        };
        if let Some(ctx) = ctx {
            ctx.site_cache = std::mem::take(&mut session.store.data_mut().site_cache);
        }
        result
    }

    pub async fn describe(&self) -> Result<ConnectorInfo, PluginError> {
        let _permit = self.runtime.engine.permit().await?;
        let mut s = self.session(None).await?;
        let wall = self.runtime.engine.limits.wall_time;
        let outcome = tokio::time::timeout(wall, s.instance.repbook_pms_connector().call_describe(&mut s.store)).await;
        let started = s.started;
        match outcome {
            Err(_) => Err(PluginError::Deadline {
                plugin: self.label(),
                budget_ms: wall.as_millis() as u64,
                elapsed_ms: started.elapsed().as_millis() as u64,
            }),
            Ok(Err(error)) => Err(self.runtime_error(&s.store, error, started)),
            Ok(Ok(info)) => Ok(info.into()),
        }
    }
}

/// One method per export that takes a context: open a session, call, convert.
macro_rules! exports {
    ($( $(#[$doc:meta])* $method:ident => $call:ident ( $($arg:ident : $ty:ty => $to_wit:expr),* ) -> $out:ty, $convert:expr; )*) => {
        impl LoadedPlugin {
            $(
                $(#[$doc])*
                pub async fn $method(&self, ctx: &mut CallContext $(, $arg: $ty)*) -> Result<$out, CallError> {
                    let _permit = self.runtime.engine.permit().await.map_err(CallError::Runtime)?;
                    let mut s = self.session(Some(ctx)).await.map_err(CallError::Runtime)?;
                    let wit_ctx = to_wit_context(ctx);
                    $( let $arg = $to_wit; )*
                    let outcome = tokio::time::timeout(
                        self.runtime.engine.limits.wall_time,
                        s.instance.repbook_pms_connector().$call(&mut s.store, &wit_ctx $(, $arg)*),
                    ).await;
                    self.finish(s, Some(ctx), outcome, $convert).await
                }
            )*
        }
    };
}

exports! {
    validate_site => call_validate_site() -> SiteInfo, SiteInfo::from;
    list_locations => call_list_locations() -> Vec<Location>, |v: Vec<wit::Location>| v.into_iter().map(Location::from).collect();
    list_practitioners => call_list_practitioners() -> Vec<PmsPractitioner>, |v: Vec<wit::PmsPractitioner>| v.into_iter().map(PmsPractitioner::from).collect();
    push_appointment => call_push_appointment(appointment: &LocalAppointment => &to_wit_appointment(appointment)) -> PushOutcome, PushOutcome::from;
    cancel_appointment => call_cancel_appointment(reference: &str => reference, pms_id: Option<&str> => pms_id) -> (), |()| ();
    list_appointments => call_list_appointments(from: jiff::civil::Date => to_wit_date(from), to: jiff::civil::Date => to_wit_date(to)) -> Vec<PmsAppointment>, |v: Vec<wit::PmsAppointment>| v.into_iter().map(PmsAppointment::from).collect();
    health => call_health() -> SiteHealth, SiteHealth::from;
}

fn pairs(map: &BTreeMap<String, String>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn to_wit_context(ctx: &CallContext) -> wit::Context {
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

fn to_wit_date(date: jiff::civil::Date) -> wit::LocalDate {
    wit::LocalDate {
        year: date.year() as u16,
        month: date.month() as u8,
        day: date.day() as u8,
    }
}

fn from_wit_date(date: wit::LocalDate) -> jiff::civil::Date {
    jiff::civil::Date::new(date.year as i16, date.month as i8, date.day as i8).unwrap_or(jiff::civil::Date::ZERO)
}

fn to_wit_appointment(a: &LocalAppointment) -> wit::Appointment {
    wit::Appointment {
        reference: a.reference.clone(),
        pms_id: a.pms_id.clone(),
        practitioner_user_id: a.practitioner_user_id,
        date: to_wit_date(a.date),
        start_seconds: a.start_seconds,
        duration_seconds: a.duration_seconds,
        rep_name: a.rep_name.clone(),
        rep_company: a.rep_company.clone(),
        rep_email: a.rep_email.clone(),
        notes: a.notes.clone(),
    }
}

impl From<wit::ConnectorInfo> for ConnectorInfo {
    fn from(i: wit::ConnectorInfo) -> Self {
        ConnectorInfo {
            name: i.name,
            version: i.version,
            pms: i.pms,
            capabilities: i.capabilities,
            settings: i
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
            allowed_hosts: i.allowed_hosts,
            credentials: i
                .credentials
                .into_iter()
                .map(|c| Credential {
                    secret: c.secret,
                    header: c.header,
                    origin_setting: c.origin_setting,
                })
                .collect(),
        }
    }
}

impl From<wit::SiteInfo> for SiteInfo {
    fn from(s: wit::SiteInfo) -> Self {
        SiteInfo {
            practice_name: s.practice_name,
            availability: s.availability,
            version: s.version,
            details: s.details.into_iter().collect(),
        }
    }
}

impl From<wit::Location> for Location {
    fn from(l: wit::Location) -> Self {
        Location { id: l.id, name: l.name }
    }
}

impl From<wit::PmsPractitioner> for PmsPractitioner {
    fn from(p: wit::PmsPractitioner) -> Self {
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
}

impl From<wit::PushOutcome> for PushOutcome {
    fn from(p: wit::PushOutcome) -> Self {
        let action = match p.action {
            wit::PushAction::Created => PushAction::Created,
            wit::PushAction::Moved => PushAction::Moved,
            wit::PushAction::Updated => PushAction::Updated,
            wit::PushAction::Unchanged => PushAction::Unchanged,
        };
        PushOutcome {
            pms_id: p.pms_id,
            action,
        }
    }
}

impl From<wit::PmsAppointment> for PmsAppointment {
    fn from(a: wit::PmsAppointment) -> Self {
        PmsAppointment {
            pms_id: a.pms_id,
            reference: a.reference,
            practitioner_user_id: a.practitioner_user_id,
            date: from_wit_date(a.date),
            start_seconds: a.start_seconds,
            duration_seconds: a.duration_seconds,
            cancelled: a.cancelled,
            text: a.text,
        }
    }
}

impl From<wit::SiteHealth> for SiteHealth {
    fn from(h: wit::SiteHealth) -> Self {
        SiteHealth {
            availability: h.availability,
            detail: h.detail,
        }
    }
}

impl From<wit::ConnectorError> for ConnectorFailure {
    fn from(e: wit::ConnectorError) -> Self {
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
        }
    }
}
