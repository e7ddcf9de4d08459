//! One loaded plugin version and its calls. Each call gets a fresh store (so a swap or a trap leaves
//! nothing behind), the sandbox limits and the plugin's network policy; `wit` converts between the
//! component's WIT version and the host's `contract` types.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;
use wasmtime::Store;

use super::contract::*;
use super::egress::{Egress, origin_of, resolve_declared};
use super::sandbox::{CallNet, HostState, InjectedHeader};
use super::wit::{Answer, Call, Instance, Prepared, WitVersion};
use super::{CallError, DeadlineKind, PluginError, Runtime};

pub struct LoadedPlugin {
    pub name: String,
    pub version: String,
    pub sha256: String,
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
    instance: Instance,
    started: Instant,
}

impl LoadedPlugin {
    /// Compiles (or loads from cache), links and asks the component to describe itself.
    pub async fn load(runtime: Arc<Runtime>, bytes: &[u8], sha256: &str) -> Result<LoadedPlugin, PluginError> {
        let component = runtime.engine.component(bytes, sha256).await?;
        let prepared = runtime.engine.prepare(&component)?;
        let mut plugin = LoadedPlugin {
            name: String::new(),
            version: String::new(),
            sha256: sha256.to_string(),
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
            prepared,
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

    pub fn wit_version(&self) -> WitVersion {
        self.prepared.version()
    }

    pub fn has_capability(&self, capability: &str) -> bool {
        self.info.capabilities.iter().any(|c| c == capability)
    }

    /// The credential headers the host adds for this clinic, each bound to the origin it belongs to.
    fn net_for(&self, ctx: &CallContext) -> CallNet {
        let mut injected = Vec::new();
        let mut reserved = vec![
            reqwest::header::HOST,
            reqwest::header::CONTENT_LENGTH,
            reqwest::header::TRANSFER_ENCODING,
            reqwest::header::CONNECTION,
        ];
        let setting = |name: &str| {
            ctx.settings.get(name).cloned().or_else(|| {
                self.info
                    .settings
                    .iter()
                    .find(|s| s.name == name)
                    .and_then(|s| s.default_value.clone())
            })
        };
        for credential in &self.info.credentials {
            let Ok(name) = HeaderName::from_bytes(credential.header.as_bytes()) else {
                continue;
            };
            reserved.push(name.clone());
            let origin = setting(&credential.origin_setting)
                .and_then(|u| Url::parse(&u).ok())
                .and_then(|u| origin_of(&u));
            let value = ctx.secrets.get(&credential.secret).and_then(|secret| {
                let text = match &credential.scheme {
                    CredentialScheme::Verbatim => secret.clone(),
                    CredentialScheme::Bearer => format!("Bearer {secret}"),
                    CredentialScheme::Basic { user_setting } => {
                        let user = setting(user_setting).unwrap_or_default();
                        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
                        format!("Basic {pair}")
                    }
                };
                HeaderValue::from_str(&text).ok()
            });
            if let (Some(origin), Some(mut value)) = (origin, value) {
                value.set_sensitive(true);
                injected.push(InjectedHeader { origin, name, value });
            }
        }
        // Hosts named by a setting (`{server_url}`) are this clinic's: resolved for this call.
        let egress = if self.info.allowed_hosts.iter().any(|h| h.starts_with('{')) {
            Arc::new(Egress::new(
                &resolve_declared(&self.info.allowed_hosts, setting),
                &self.runtime.operator,
            ))
        } else {
            self.egress.clone()
        };
        CallNet {
            client: self.runtime.http.clone(),
            egress,
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
        let mut state = HostState::new(
            engine.store_limits(),
            net,
            self.label.clone(),
            ctx.secrets.values().cloned().collect(),
            ctx.site_cache.clone(),
        );
        if let Ok(zone) = jiff::tz::TimeZone::get(&ctx.timezone) {
            state.zone = zone;
        }
        let mut store = engine.store(state);
        let instance = self
            .prepared
            .instantiate(&mut store)
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
        if let Some(trap) = error.downcast_ref::<wasmtime::Trap>()
            && *trap == wasmtime::Trap::Interrupt
        {
            return PluginError::Deadline {
                plugin: self.label(),
                bound: DeadlineKind::GuestTime,
                budget_ms: limits.guest_time.as_millis() as u64,
                elapsed_ms: started.elapsed().as_millis() as u64,
            };
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

    fn wall_clock_error(&self, started: Instant) -> PluginError {
        PluginError::Deadline {
            plugin: self.label(),
            bound: DeadlineKind::WallClock,
            budget_ms: self.runtime.engine.limits.wall_time.as_millis() as u64,
            elapsed_ms: started.elapsed().as_millis() as u64,
        }
    }

    pub async fn describe(&self) -> Result<ConnectorInfo, PluginError> {
        let _permit = self.runtime.engine.permit().await?;
        let mut s = self.session(None).await?;
        let wall = self.runtime.engine.limits.wall_time;
        let outcome = tokio::time::timeout(wall, s.instance.describe(&mut s.store)).await;
        match outcome {
            Err(_) => Err(self.wall_clock_error(s.started)),
            Ok(Err(error)) => Err(self.runtime_error(&s.store, error, s.started)),
            Ok(Ok(info)) => Ok(info),
        }
    }

    /// Runs one export against a fresh instance under the wall-clock bound; traps become errors, and what
    /// the connector remembered about the site goes back into `ctx`.
    async fn call(&self, ctx: &mut CallContext, call: Call<'_>) -> Result<Answer, CallError> {
        let export = call.export_name();
        let started = std::time::Instant::now();
        let result = self.call_inner(ctx, call).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(CallError::Connector(_)) => "refused",
            Err(CallError::Runtime(_)) => "failed",
        };
        crate::metrics::global().observe_plugin_call(&self.info.name, export, outcome, started.elapsed());
        result
    }

    async fn call_inner(&self, ctx: &mut CallContext, call: Call<'_>) -> Result<Answer, CallError> {
        let _permit = self.runtime.engine.permit().await?;
        let mut s = self.session(Some(ctx)).await?;
        let outcome = tokio::time::timeout(
            self.runtime.engine.limits.wall_time,
            s.instance.call(&mut s.store, ctx, call),
        )
        .await;
        let result = match outcome {
            Err(_) => Err(CallError::Runtime(self.wall_clock_error(s.started))),
            Ok(Err(error)) => Err(CallError::Runtime(self.runtime_error(&s.store, error, s.started))),
            Ok(Ok(Err(failure))) => Err(CallError::Connector(failure)),
            Ok(Ok(Ok(answer))) => Ok(answer),
        };
        ctx.site_cache = std::mem::take(&mut s.store.data_mut().site_cache);
        if let Some(offset) = s.store.data().peer_clock_offset {
            ctx.peer_clock_offset = Some(offset);
        }
        result
    }

    fn unexpected(&self, export: &str) -> CallError {
        CallError::Runtime(PluginError::Engine(format!(
            "{} answered {export} with another export's result",
            self.label
        )))
    }
}

/// One typed method per export: build the call, run it, take the matching answer.
macro_rules! exports {
    ($( $(#[$doc:meta])* $method:ident ( $($arg:ident : $ty:ty),* ) -> $out:ty = $call:expr => $answer:pat => $value:expr; )*) => {
        impl LoadedPlugin {
            $(
                $(#[$doc])*
                pub async fn $method(&self, ctx: &mut CallContext $(, $arg: $ty)*) -> Result<$out, CallError> {
                    match self.call(ctx, $call).await? {
                        $answer => Ok($value),
                        _ => Err(self.unexpected(stringify!($method))),
                    }
                }
            )*
        }
    };
}

exports! {
    validate_site() -> SiteInfo = Call::ValidateSite => Answer::Site(site) => site;
    list_locations() -> Vec<Location> = Call::ListLocations => Answer::Locations(list) => list;
    list_practitioners() -> Vec<PmsPractitioner> = Call::ListPractitioners => Answer::Practitioners(list) => list;
    push_appointment(appointment: &LocalAppointment) -> PushOutcome = Call::Push(appointment) => Answer::Pushed(outcome) => outcome;
    /// Cancels the PMS record(s) of an appointment, given as repbook last had it booked.
    cancel_appointment(appointment: &LocalAppointment) -> () = Call::Cancel(appointment) => Answer::Cancelled => ();
    list_appointments(first: jiff::civil::Date, last: jiff::civil::Date) -> Vec<PmsAppointment> = Call::ListAppointments { first, last } => Answer::Appointments(list) => list;
    health() -> SiteHealth = Call::Health => Answer::Health(health) => health;
    /// When a practitioner cannot be booked, from the PMS's diary (0.2.0 connectors with "availability").
    unavailability(practitioner_user_id: i64, first: jiff::civil::Date, last: jiff::civil::Date) -> Vec<BusySpan> = Call::Unavailability { practitioner_user_id, first, last } => Answer::Busy(spans) => spans;
}
