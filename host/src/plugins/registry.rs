//! The plugin registry: install a component from bytes, keep every version in the store, and switch the
//! version a name resolves to (activate, rollback) atomically and without a restart.
//!
//! Calls resolve a name to an `Arc<LoadedPlugin>` once, at their start: a call in flight finishes on the
//! version it started on, the next call sees the new one. Stores are per call, so nothing of the old
//! version lingers after its last call.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{LoadedPlugin, PluginError, Runtime};
use crate::store::{PluginActivation, PluginRecord, Store};

const MAX_COMPONENT_BYTES: usize = 32 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionSummary {
    pub version: String,
    pub sha256: String,
    pub wit_version: String,
    pub size_bytes: u64,
    pub installed_at: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginSummary {
    pub name: String,
    pub pms: String,
    pub active_version: Option<String>,
    /// Hosts the active version may reach after the operator's policy is applied.
    pub allowed_hosts: Vec<String>,
    pub declared_hosts: Vec<String>,
    /// The active version's settings (secrets flagged) and capabilities, so a page can ask for them.
    #[serde(default)]
    pub settings: Vec<super::contract::SettingSpec>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub versions: Vec<VersionSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstallOutcome {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub activated: bool,
    pub already_installed: bool,
}

pub struct Registry {
    runtime: Arc<Runtime>,
    store: Arc<Store>,
    active: RwLock<HashMap<String, Arc<LoadedPlugin>>>,
    loaded: RwLock<HashMap<(String, String), Arc<LoadedPlugin>>>,
    /// Active versions that failed to load at start, and why: the clinics using them say so.
    unloadable: RwLock<HashMap<String, String>>,
    /// One install/activate/rollback at a time, so the stored activation and the in-memory one agree.
    changes: tokio::sync::Mutex<()>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 64
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

impl Registry {
    /// Loads the active version of every installed plugin. A plugin that no longer loads is logged and
    /// skipped, so one bad component never keeps the server from starting.
    pub async fn open(runtime: Arc<Runtime>, store: Arc<Store>) -> Result<Arc<Registry>, PluginError> {
        let registry = Registry {
            runtime,
            store,
            active: RwLock::new(HashMap::new()),
            loaded: RwLock::new(HashMap::new()),
            unloadable: RwLock::new(HashMap::new()),
            changes: tokio::sync::Mutex::new(()),
        };
        for (name, activation) in registry.store.plugin_activations()? {
            let Some(version) = activation.active else { continue };
            match registry.load_version(&name, &version).await {
                Ok(plugin) => {
                    registry
                        .active
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name, plugin);
                }
                Err(error) => {
                    tracing::error!(plugin = %name, %version, %error, "cannot load plugin; it stays inactive");
                    registry
                        .unloadable
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name, format!("version {version}: {error}"));
                }
            }
        }
        Ok(Arc::new(registry))
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    fn make_active(&self, name: &str, plugin: Arc<LoadedPlugin>) {
        self.unloadable.write().unwrap_or_else(|p| p.into_inner()).remove(name);
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), plugin);
    }

    /// The active version of `name`, for one call.
    pub fn get(&self, name: &str) -> Result<Arc<LoadedPlugin>, PluginError> {
        self.active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(
                || match self.unloadable.read().unwrap_or_else(|p| p.into_inner()).get(name) {
                    Some(reason) => PluginError::Unloadable {
                        name: name.to_string(),
                        reason: reason.clone(),
                    },
                    None => PluginError::NotInstalled(name.to_string()),
                },
            )
    }

    async fn load_version(&self, name: &str, version: &str) -> Result<Arc<LoadedPlugin>, PluginError> {
        let key = (name.to_string(), version.to_string());
        if let Some(plugin) = self.loaded.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(plugin.clone());
        }
        let record = self.record(name, version)?;
        let bytes = self.store.plugin_bytes(&record.sha256)?;
        let found = format!("{:x}", Sha256::digest(&bytes));
        if found != record.sha256 {
            return Err(PluginError::Invalid(format!(
                "the stored component is damaged: its SHA-256 is {found}, it was installed as {}",
                record.sha256
            )));
        }
        let plugin = Arc::new(LoadedPlugin::load(self.runtime.clone(), &bytes, &record.sha256).await?);
        if plugin.name != name || plugin.version != version {
            return Err(PluginError::Invalid(format!(
                "stored component for {name}@{version} now describes itself as {}",
                plugin.label()
            )));
        }
        self.loaded
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, plugin.clone());
        Ok(plugin)
    }

    fn record(&self, name: &str, version: &str) -> Result<PluginRecord, PluginError> {
        self.store
            .plugin_record(name, version)?
            .ok_or_else(|| PluginError::UnknownVersion {
                name: name.into(),
                version: version.into(),
            })
    }

    /// Validates and stores a component. The first version of a name becomes active; later ones wait for
    /// `activate`. Re-installing identical bytes is a no-op; other bytes under an existing version are refused.
    pub async fn install(&self, bytes: &[u8]) -> Result<InstallOutcome, PluginError> {
        if bytes.len() > MAX_COMPONENT_BYTES {
            return Err(PluginError::Invalid(format!(
                "component is {} bytes; the limit is {MAX_COMPONENT_BYTES}",
                bytes.len()
            )));
        }
        if !bytes.starts_with(b"\0asm") {
            return Err(PluginError::Compile(
                "not a WebAssembly file (no \\0asm header); build it with `cargo build --target wasm32-wasip2`".into(),
            ));
        }
        let sha256 = format!("{:x}", Sha256::digest(bytes));
        // Compiles, links against the world and calls `describe` in a fresh sandbox: a component that
        // cannot do all three is never stored.
        let plugin = LoadedPlugin::load(self.runtime.clone(), bytes, &sha256).await?;
        let (name, version) = (plugin.name.clone(), plugin.version.clone());
        if !valid_name(&name) {
            return Err(PluginError::Invalid(format!(
                "plugin name '{name}' must be lower-case letters, digits and '-'"
            )));
        }
        if !valid_version(&version) {
            return Err(PluginError::Invalid(format!(
                "plugin version '{version}' must be letters, digits, '.', '-' or '+'"
            )));
        }
        let _change = self.changes.lock().await;
        if let Some(existing) = self.store.plugin_record(&name, &version)? {
            if existing.sha256 != sha256 {
                return Err(PluginError::Conflict(format!(
                    "{name}@{version} is already installed with different content; give the new build a new version"
                )));
            }
            let active = self.store.plugin_activation(&name)?.active.as_deref() == Some(version.as_str());
            // The same build again is how a damaged stored copy is repaired.
            let intact = self
                .store
                .plugin_bytes(&sha256)
                .is_ok_and(|stored| format!("{:x}", Sha256::digest(&stored)) == sha256);
            if !intact {
                self.store.save_plugin(&existing, bytes)?;
                self.store.durable().await?;
                tracing::warn!(plugin = %name, %version, "the stored component was damaged; stored again from this install");
                if active {
                    self.make_active(&name, Arc::new(plugin));
                }
            }
            return Ok(InstallOutcome {
                name,
                version,
                sha256,
                activated: active,
                already_installed: true,
            });
        }
        let record = PluginRecord {
            name: name.clone(),
            version: version.clone(),
            sha256: sha256.clone(),
            wit_version: plugin.wit_version().to_string(),
            pms: plugin.info.pms.clone(),
            allowed_hosts: plugin.info.allowed_hosts.clone(),
            size_bytes: bytes.len() as u64,
            installed_at: jiff::Timestamp::now(),
        };
        self.store.save_plugin(&record, bytes)?;
        let plugin = Arc::new(plugin);
        self.loaded
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((name.clone(), version.clone()), plugin.clone());
        let mut activation = self.store.plugin_activation(&name)?;
        let activated = activation.active.is_none();
        if activated {
            activation.active = Some(version.clone());
            self.store.set_plugin_activation(&name, &activation)?;
            self.make_active(&name, plugin);
        }
        self.store.durable().await?;
        tracing::info!(plugin = %name, %version, %sha256, activated, "plugin installed");
        Ok(InstallOutcome {
            name,
            version,
            sha256,
            activated,
            already_installed: false,
        })
    }

    /// Makes `version` the one every clinic using `name` gets from its next call on.
    pub async fn activate(&self, name: &str, version: &str) -> Result<(), PluginError> {
        let _change = self.changes.lock().await;
        let plugin = self.load_version(name, version).await?;
        let mut activation = self.store.plugin_activation(name)?;
        if activation.active.as_deref() == Some(version) {
            return Ok(());
        }
        if let Some(previous) = activation.active.take() {
            activation.history.push(previous);
        }
        activation.active = Some(version.to_string());
        self.commit(name, activation, plugin).await
    }

    /// Goes back to the version that was active before the current one.
    pub async fn rollback(&self, name: &str) -> Result<String, PluginError> {
        let _change = self.changes.lock().await;
        let mut activation = self.store.plugin_activation(name)?;
        if activation.active.is_none() {
            return Err(PluginError::NotInstalled(name.to_string()));
        }
        while let Some(previous) = activation.history.pop() {
            if self.store.plugin_record(name, &previous)?.is_some() {
                let plugin = self.load_version(name, &previous).await?;
                activation.active = Some(previous.clone());
                self.commit(name, activation, plugin).await?;
                return Ok(previous);
            }
        }
        Err(PluginError::Conflict(format!(
            "{name} has no earlier version to roll back to"
        )))
    }

    async fn commit(
        &self,
        name: &str,
        activation: PluginActivation,
        plugin: Arc<LoadedPlugin>,
    ) -> Result<(), PluginError> {
        self.store.set_plugin_activation(name, &activation)?;
        self.store.durable().await?;
        let label = plugin.label();
        self.make_active(name, plugin);
        tracing::info!(plugin = %label, "plugin version active");
        Ok(())
    }

    /// Removes an inactive version.
    pub async fn remove(&self, name: &str, version: &str) -> Result<(), PluginError> {
        let _change = self.changes.lock().await;
        let record = self.record(name, version)?;
        let mut activation = self.store.plugin_activation(name)?;
        if activation.active.as_deref() == Some(version) {
            return Err(PluginError::Conflict(format!(
                "{name}@{version} is the active version; activate another version before removing it"
            )));
        }
        activation.history.retain(|v| v != version);
        self.store.set_plugin_activation(name, &activation)?;
        self.store.remove_plugin(&record)?;
        self.store.durable().await?;
        self.loaded
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(name.to_string(), version.to_string()));
        Ok(())
    }

    pub fn list(&self) -> Result<Vec<PluginSummary>, PluginError> {
        let mut by_name: HashMap<String, Vec<PluginRecord>> = HashMap::new();
        for record in self.store.plugin_records()? {
            by_name.entry(record.name.clone()).or_default().push(record);
        }
        let mut summaries = Vec::new();
        for (name, records) in by_name {
            let active_version = self.store.plugin_activation(&name)?.active;
            let active = self.get(&name).ok();
            summaries.push(PluginSummary {
                pms: records.first().map(|r| r.pms.clone()).unwrap_or_default(),
                allowed_hosts: active.as_ref().map(|p| p.egress().rules()).unwrap_or_default(),
                declared_hosts: active
                    .as_ref()
                    .map(|p| p.info.allowed_hosts.clone())
                    .unwrap_or_default(),
                settings: active.as_ref().map(|p| p.info.settings.clone()).unwrap_or_default(),
                capabilities: active.as_ref().map(|p| p.info.capabilities.clone()).unwrap_or_default(),
                versions: records
                    .into_iter()
                    .map(|r| VersionSummary {
                        active: active_version.as_deref() == Some(r.version.as_str()),
                        version: r.version,
                        sha256: r.sha256,
                        wit_version: r.wit_version,
                        size_bytes: r.size_bytes,
                        installed_at: r.installed_at.to_string(),
                    })
                    .collect(),
                active_version,
                name,
            });
        }
        summaries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(summaries)
    }
}
