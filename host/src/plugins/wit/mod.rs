//! The WIT versions a component may implement, side by side (as Zed's extension host does it): one module
//! per released version holds its generated bindings, the host side of its imports and the conversions to
//! the host's `contract` types; the enums here are the only place that matches on versions. Adding a
//! version is one new module and one arm per enum.

mod shared;
mod since_v0_1;
mod since_v0_2;

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

use super::PluginError;
use super::contract::*;
use super::sandbox::HostState;

/// A released version of `repbook:pms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WitVersion {
    V0_1,
    V0_2,
}

impl WitVersion {
    /// Every version this host loads, oldest first.
    pub const ALL: [WitVersion; 2] = [WitVersion::V0_1, WitVersion::V0_2];

    pub fn as_str(self) -> &'static str {
        match self {
            WitVersion::V0_1 => "0.1.0",
            WitVersion::V0_2 => "0.2.0",
        }
    }

    pub fn package(self) -> String {
        format!("repbook:pms@{}", self.as_str())
    }

    /// The name of the interface a component of this version exports.
    fn export(self) -> &'static str {
        match self {
            WitVersion::V0_1 => since_v0_1::EXPORT,
            WitVersion::V0_2 => since_v0_2::EXPORT,
        }
    }
}

impl std::fmt::Display for WitVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Adds the imports of every version (`http`, `log`, `site-cache` of each package version).
pub fn add_to_linker(linker: &mut Linker<HostState>) -> Result<(), PluginError> {
    since_v0_1::add_to_linker(linker)
        .and_then(|()| since_v0_2::add_to_linker(linker))
        .map_err(|e| PluginError::Engine(format!("{e:#}")))
}

/// A component linked and type-checked against the version whose `connector` it exports.
pub enum Prepared {
    V0_1(since_v0_1::ConnectorWorldPre<HostState>),
    V0_2(since_v0_2::ConnectorWorldPre<HostState>),
}

/// One instance of a prepared component, for one call.
pub enum Instance {
    V0_1(since_v0_1::ConnectorWorld),
    V0_2(since_v0_2::ConnectorWorld),
}

/// One export call, whatever the component's version.
pub enum Call<'a> {
    ValidateSite,
    ListLocations,
    ListPractitioners,
    Push(&'a LocalAppointment),
    Cancel(&'a LocalAppointment),
    ListAppointments {
        first: jiff::civil::Date,
        last: jiff::civil::Date,
    },
    Health,
    Unavailability {
        practitioner_user_id: i64,
        first: jiff::civil::Date,
        last: jiff::civil::Date,
    },
}

impl Call<'_> {
    /// The export's name in the WIT, for metrics and logs.
    pub fn export_name(&self) -> &'static str {
        match self {
            Call::ValidateSite => "validate-site",
            Call::ListLocations => "list-locations",
            Call::ListPractitioners => "list-practitioners",
            Call::Push(_) => "push-appointment",
            Call::Cancel(_) => "cancel-appointment",
            Call::ListAppointments { .. } => "list-appointments",
            Call::Health => "health",
            Call::Unavailability { .. } => "unavailability",
        }
    }
}

/// The answer to a [`Call`], in the host's types.
pub enum Answer {
    Site(SiteInfo),
    Locations(Vec<Location>),
    Practitioners(Vec<PmsPractitioner>),
    Pushed(PushOutcome),
    Cancelled,
    Appointments(Vec<PmsAppointment>),
    Health(SiteHealth),
    Busy(Vec<BusySpan>),
}

/// Picks the newest version whose `connector` interface the component exports, then links it.
pub fn prepare(engine: &Engine, linker: &Linker<HostState>, component: &Component) -> Result<Prepared, PluginError> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let version = WitVersion::ALL
        .into_iter()
        .rev()
        .find(|v| exports.iter().any(|e| e == v.export()))
        .ok_or_else(|| {
            let wanted: Vec<&str> = WitVersion::ALL.iter().rev().map(|v| v.export()).collect();
            PluginError::Incompatible(format!(
                "it exports [{}]; a connector exports one of: {}",
                exports.join(", "),
                wanted.join(", ")
            ))
        })?;
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| PluginError::Incompatible(format!("{e:#}")))?;
    let incompatible = |e: wasmtime::Error| PluginError::Incompatible(format!("{}: {e:#}", version.package()));
    Ok(match version {
        WitVersion::V0_1 => Prepared::V0_1(since_v0_1::ConnectorWorldPre::new(pre).map_err(incompatible)?),
        WitVersion::V0_2 => Prepared::V0_2(since_v0_2::ConnectorWorldPre::new(pre).map_err(incompatible)?),
    })
}

impl Prepared {
    pub fn version(&self) -> WitVersion {
        match self {
            Prepared::V0_1(_) => WitVersion::V0_1,
            Prepared::V0_2(_) => WitVersion::V0_2,
        }
    }

    pub async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Instance> {
        Ok(match self {
            Prepared::V0_1(pre) => Instance::V0_1(pre.instantiate_async(store).await?),
            Prepared::V0_2(pre) => Instance::V0_2(pre.instantiate_async(store).await?),
        })
    }
}

impl Instance {
    pub async fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<ConnectorInfo> {
        match self {
            Instance::V0_1(world) => since_v0_1::describe(world, store).await,
            Instance::V0_2(world) => since_v0_2::describe(world, store).await,
        }
    }

    /// A trap or a runtime failure is the outer error; the connector's own report is the inner one.
    pub async fn call(
        &self,
        store: &mut Store<HostState>,
        ctx: &CallContext,
        call: Call<'_>,
    ) -> wasmtime::Result<Result<Answer, ConnectorFailure>> {
        match self {
            Instance::V0_1(world) => since_v0_1::call(world, store, ctx, call).await,
            Instance::V0_2(world) => since_v0_2::call(world, store, ctx, call).await,
        }
    }
}

fn pairs(map: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A WIT date the PMS sent; an impossible one (month 13) becomes the zero date, which matches nothing.
fn civil_date(year: u16, month: u8, day: u8) -> jiff::civil::Date {
    jiff::civil::Date::new(year as i16, month as i8, day as i8).unwrap_or(jiff::civil::Date::ZERO)
}
