//! Installed plugin versions: the component bytes (by content hash), a record per name and version, and
//! which version of each name is active (with the history that `rollback` walks back through).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sled::Transactional;

use super::codec::{decode, encode};
use super::{Store, StoreError, tx_error};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRecord {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub wit_version: String,
    pub pms: String,
    pub allowed_hosts: Vec<String>,
    pub size_bytes: u64,
    pub installed_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginActivation {
    pub active: Option<String>,
    /// Earlier active versions, most recent last.
    pub history: Vec<String>,
}

fn record_key(name: &str, version: &str) -> Vec<u8> {
    format!("{name}/{version}").into_bytes()
}

impl Store {
    /// Stores the bytes and the record together.
    pub fn save_plugin(&self, record: &PluginRecord, bytes: &[u8]) -> Result<(), StoreError> {
        let encoded = encode(record)?;
        let key = record_key(&record.name, &record.version);
        (&self.plugin_blobs, &self.plugins)
            .transaction(|(blobs, plugins)| {
                blobs.insert(record.sha256.as_bytes(), bytes)?;
                plugins.insert(key.as_slice(), encoded.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)
    }

    pub fn plugin_records(&self) -> Result<Vec<PluginRecord>, StoreError> {
        self.plugins
            .iter()
            .values()
            .map(|v| decode("plugin record", &v?))
            .collect()
    }

    pub fn plugin_record(&self, name: &str, version: &str) -> Result<Option<PluginRecord>, StoreError> {
        self.plugins
            .get(record_key(name, version))?
            .map(|v| decode("plugin record", &v))
            .transpose()
    }

    pub fn plugin_bytes(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        match self.plugin_blobs.get(sha256.as_bytes())? {
            Some(bytes) => Ok(bytes.to_vec()),
            None => Err(StoreError::NotFound {
                entity: "plugin component",
                id: sha256.to_string(),
            }),
        }
    }

    pub fn plugin_activation(&self, name: &str) -> Result<PluginActivation, StoreError> {
        Ok(self
            .plugin_active
            .get(name.as_bytes())?
            .map(|v| decode("plugin activation", &v))
            .transpose()?
            .unwrap_or_default())
    }

    pub fn plugin_activations(&self) -> Result<Vec<(String, PluginActivation)>, StoreError> {
        self.plugin_active
            .iter()
            .map(|item| {
                let (key, value) = item?;
                Ok((
                    String::from_utf8_lossy(&key).into_owned(),
                    decode("plugin activation", &value)?,
                ))
            })
            .collect()
    }

    pub fn set_plugin_activation(&self, name: &str, activation: &PluginActivation) -> Result<(), StoreError> {
        self.plugin_active.insert(name.as_bytes(), encode(activation)?)?;
        Ok(())
    }

    /// Removes one version; its bytes go too unless another record shares them.
    pub fn remove_plugin(&self, record: &PluginRecord) -> Result<(), StoreError> {
        let shared = self
            .plugin_records()?
            .iter()
            .any(|r| r.sha256 == record.sha256 && (&r.name, &r.version) != (&record.name, &record.version));
        let key = record_key(&record.name, &record.version);
        (&self.plugin_blobs, &self.plugins)
            .transaction(|(blobs, plugins)| {
                plugins.remove(key.as_slice())?;
                if !shared {
                    blobs.remove(record.sha256.as_bytes())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)
    }
}
