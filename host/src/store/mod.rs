//! The sled store: trees, key encoding, versioned record codecs, schema migrations and durable commits.
//!
//! Every appointment change writes the record, its start-time index entry and an outbox entry in one sled
//! transaction; [`Store::durable`] then waits for a shared flush (group commit) before a caller may
//! acknowledge the write. Writes that touch several records of one clinic run under that clinic's lock so
//! cross-record rules (no overlapping bookings, one practitioner per AHPRA number) hold.

mod appointments;
mod attendance;
mod audit;
pub mod backup;
pub(crate) mod codec;
mod error;
mod group_commit;
pub mod integrity;
mod keys;
mod links;
mod messages;
mod outbox;
mod people;
mod plugins;
mod pms_records;
mod schema;
mod sso;
mod times;
mod waitlist;
mod webhooks;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sled::Transactional;
use sled::transaction::TransactionError;

pub use appointments::{AppointmentFilter, Change, TokenChange};
pub use audit::AuditPage;
pub use error::StoreError;
pub use messages::{MessageCounts, QueueHead};
pub use outbox::{OutboxEntry, OutboxOp};
pub use people::PeopleWrite;
pub use plugins::{PluginActivation, PluginRecord};
pub use pms_records::PushStart;
pub use schema::SCHEMA_VERSION;
pub use waitlist::{WaitlistRecord, WaitlistWrite};

use crate::domain::{Clinic, Practitioner};
use codec::{decode, encode};
use group_commit::GroupCommit;

pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    clinics: sled::Tree,
    staff: sled::Tree,
    appointments: sled::Tree,
    appointments_by_start: sled::Tree,
    appointments_by_practitioner: sled::Tree,
    /// The sync path's record of each appointment (see `pms_records`).
    pms_records: sled::Tree,
    outbox: sled::Tree,
    manage_tokens: sled::Tree,
    confirm_tokens: sled::Tree,
    /// The notification outbox (see `messages`).
    messages: sled::Tree,
    messages_by_clinic: sled::Tree,
    message_queue: sled::Tree,
    messages_parked: sled::Tree,
    mail_keys: sled::Tree,
    link_days: sled::Tree,
    /// The audit trail, by entry id (a ULID: time order).
    audit: sled::Tree,
    categories: sled::Tree,
    published_times: sled::Tree,
    closed_dates: sled::Tree,
    links: sled::Tree,
    link_capabilities: sled::Tree,
    plugins: sled::Tree,
    plugin_blobs: sled::Tree,
    plugin_active: sled::Tree,
    /// The webhook outbox (see `webhooks`).
    webhook_events: sled::Tree,
    webhook_endpoints: sled::Tree,
    webhook_deliveries: sled::Tree,
    webhook_queue: sled::Tree,
    /// Waitlist entries and offers (see `waitlist`).
    waitlist: sled::Tree,
    /// Staff accounts, their credentials, sessions, invitations and tokens (see `people`).
    people: people::PeopleTrees,
    sso: sso::SsoTrees,
    no_show_lifts: sled::Tree,
    commits: GroupCommit,
    clinic_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Notified after every commit that adds to the outbox, so the sync worker never has to be told.
    outbox_signal: Arc<tokio::sync::Notify>,
    /// The same for the notification outbox and the mail worker.
    message_signal: Arc<tokio::sync::Notify>,
    /// The same for the webhook outbox and its worker.
    webhook_signal: Arc<tokio::sync::Notify>,
    /// Clinics whose free times may have changed since the waitlist last looked (a visit let go, times
    /// published or reopened), and the signal that wakes the offer sweep.
    waitlist_dirty: Mutex<std::collections::HashSet<String>>,
    waitlist_signal: Arc<tokio::sync::Notify>,
    path: PathBuf,
    fault: Fault,
}

/// The first write failure of the disk under the store (no space, an I/O error). sled stops writing for
/// good after one (every later write fails with the same error until the store is opened again), so the
/// server reports it on `/healthz` and stops for its supervisor to restart it, which is what recovers.
#[derive(Clone, Default)]
pub struct Fault(Arc<Mutex<Option<String>>>);

impl Fault {
    pub fn record(&self, error: &dyn std::fmt::Display) {
        let mut fault = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if fault.is_none() {
            tracing::error!(%error, "the store cannot write");
            *fault = Some(error.to_string());
        }
    }

    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// sled's own background flush, a safety net under the durability waits every write does anyway;
    /// `None` leaves persistence to those waits alone (the durability tests use that to prove them).
    pub background_flush: Option<std::time::Duration>,
    /// Open a store older than its high-water mark (`--accept-older-store`): the operator knows writes
    /// after it are gone.
    pub accept_older: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            background_flush: Some(std::time::Duration::from_millis(500)),
            accept_older: false,
        }
    }
}

/// A clinic's write lock; dropping it ends the write.
pub struct ClinicLock {
    _lock: tokio::sync::OwnedMutexGuard<()>,
    _writing: group_commit::Writing,
}

impl Store {
    /// Opens (or creates) the store in `dir`, migrating older data. Must run inside a tokio runtime.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, &StoreOptions::default())
    }

    pub fn open_with(dir: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let path = dir.join("store");
        let db = sled::Config::new()
            .path(&path)
            // sled's cache is a target, not a cap; a clinic's data is small.
            .cache_capacity(64 << 20)
            .flush_every_ms(options.background_flush.map(|d| d.as_millis().max(1) as u64))
            .open()
            .map_err(|source| match source {
                sled::Error::Corruption { .. } | sled::Error::Unsupported(_) | sled::Error::ReportableBug(_) => {
                    StoreError::Damaged {
                        path: path.clone(),
                        detail: source.to_string(),
                    }
                }
                source => StoreError::Open {
                    path: path.clone(),
                    source,
                },
            })?;
        let meta = db.open_tree("meta")?;
        let fault = Fault::default();
        let generation = integrity::check(&path, &meta, options.accept_older)?;
        schema::migrate(&db, &meta)?;
        let store = Store {
            clinics: db.open_tree("clinics")?,
            staff: db.open_tree("staff")?,
            appointments: db.open_tree("appointments")?,
            appointments_by_start: db.open_tree("appointments_by_start")?,
            appointments_by_practitioner: db.open_tree("appointments_by_practitioner")?,
            pms_records: db.open_tree("pms_records")?,
            manage_tokens: db.open_tree("manage_tokens")?,
            confirm_tokens: db.open_tree("confirm_tokens")?,
            messages: db.open_tree("messages")?,
            messages_by_clinic: db.open_tree("messages_by_clinic")?,
            message_queue: db.open_tree("message_queue")?,
            messages_parked: db.open_tree("messages_parked")?,
            mail_keys: db.open_tree("mail_keys")?,
            link_days: db.open_tree("link_days")?,
            audit: db.open_tree("audit")?,
            categories: db.open_tree("categories")?,
            published_times: db.open_tree("published_times")?,
            closed_dates: db.open_tree("closed_dates")?,
            links: db.open_tree("links")?,
            link_capabilities: db.open_tree("link_capabilities")?,
            outbox: db.open_tree("outbox")?,
            plugins: db.open_tree("plugins")?,
            plugin_blobs: db.open_tree("plugin_blobs")?,
            plugin_active: db.open_tree("plugin_active")?,
            webhook_events: db.open_tree("webhook_events")?,
            webhook_endpoints: db.open_tree("webhook_endpoints")?,
            webhook_deliveries: db.open_tree("webhook_deliveries")?,
            webhook_queue: db.open_tree("webhook_queue")?,
            waitlist: db.open_tree("waitlist")?,
            people: people::PeopleTrees::open(&db)?,
            sso: sso::SsoTrees::open(&db)?,
            no_show_lifts: db.open_tree("no_show_lifts")?,
            commits: GroupCommit::start(db.clone(), meta.clone(), generation, path.clone(), fault.clone())?,
            clinic_locks: Mutex::new(HashMap::new()),
            outbox_signal: Arc::new(tokio::sync::Notify::new()),
            message_signal: Arc::new(tokio::sync::Notify::new()),
            webhook_signal: Arc::new(tokio::sync::Notify::new()),
            waitlist_dirty: Mutex::new(Default::default()),
            waitlist_signal: Arc::new(tokio::sync::Notify::new()),
            meta,
            db,
            path,
            fault,
        };
        tracing::info!(path = %store.path.display(), recovered = store.db.was_recovered(), generation, "store open");
        Ok(store)
    }

    /// Waits until everything written before this call is on disk. Concurrent callers share one flush.
    pub async fn durable(&self) -> Result<(), StoreError> {
        self.commits.wait().await
    }

    /// `Err(reason)` once the disk under the store failed a write. Also asks sled, which keeps the first
    /// I/O error of its background writes and refuses every write after it: a write can fail there without
    /// ever reaching a group flush. (A flush with nothing dirty costs no I/O.)
    pub fn health(&self) -> Result<(), String> {
        if let Some(reason) = self.fault.get() {
            return Err(reason);
        }
        if let Err(error) = self.db.flush() {
            self.fault.record(&error);
            return Err(error.to_string());
        }
        Ok(())
    }

    /// Woken after each commit that queued something for the PMS.
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_signal.clone()
    }

    /// Notes that a clinic's free times may have changed: the waitlist's sweep looks at it next.
    pub fn waitlist_changed(&self, clinic_id: &str) {
        self.waitlist_dirty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(clinic_id.to_string());
        self.waitlist_signal.notify_one();
    }

    /// The clinics noted since the last call (and forgets them).
    pub fn take_waitlist_changes(&self) -> Vec<String> {
        std::mem::take(&mut *self.waitlist_dirty.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .collect()
    }

    pub fn waitlist_signal(&self) -> Arc<tokio::sync::Notify> {
        self.waitlist_signal.clone()
    }

    /// How many flushes have run; with `durable_writes`, shows how well group commit batches.
    pub fn flush_count(&self) -> u64 {
        self.commits.flushes()
    }

    /// Serialises multi-record writes of one clinic. Held only around reads and the sled transaction,
    /// never across the durability flush, so writers of one clinic still share flushes; while it is held
    /// (or awaited) the group commit knows a write is coming and waits for it a moment.
    pub async fn lock_clinic(&self, clinic_id: &str) -> ClinicLock {
        let writing = self.commits.writing();
        let lock = {
            let mut locks = self
                .clinic_locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.entry(clinic_id.to_string()).or_default().clone()
        };
        ClinicLock {
            _lock: lock.lock_owned().await,
            _writing: writing,
        }
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        schema::read_version(&self.meta)
    }

    // ---- clinics ----

    pub fn put_clinic(&self, clinic: &Clinic) -> Result<(), StoreError> {
        self.clinics.insert(clinic.id.as_bytes(), encode(clinic)?)?;
        Ok(())
    }

    pub fn clinic(&self, id: &str) -> Result<Clinic, StoreError> {
        match self.clinics.get(id.as_bytes())? {
            Some(bytes) => decode("clinic", &bytes),
            None => Err(StoreError::NotFound {
                entity: "clinic",
                id: id.to_string(),
            }),
        }
    }

    pub fn clinics(&self) -> Result<Vec<Clinic>, StoreError> {
        self.clinics.iter().values().map(|v| decode("clinic", &v?)).collect()
    }

    /// Reads a clinic under its lock, lets `change` change it, writes it and waits until it is durable.
    pub async fn update_clinic<T, E: From<StoreError>>(
        &self,
        clinic_id: &str,
        change: impl FnOnce(&mut Clinic) -> Result<T, E>,
    ) -> Result<(Clinic, T), E> {
        let updated = {
            let _guard = self.lock_clinic(clinic_id).await;
            let mut clinic = self.clinic(clinic_id)?;
            let value = change(&mut clinic)?;
            self.put_clinic(&clinic)?;
            (clinic, value)
        };
        self.durable().await?;
        Ok(updated)
    }

    /// Deletes a clinic and its staff (the caller has checked it has no appointments).
    pub fn delete_clinic(&self, id: &str) -> Result<(), StoreError> {
        self.clinic(id)?;
        let staff_keys: Vec<_> = self
            .staff
            .scan_prefix(keys::clinic_prefix(id))
            .keys()
            .collect::<Result<_, _>>()?;
        (&self.clinics, &self.staff)
            .transaction(|(clinics, staff)| {
                clinics.remove(id.as_bytes())?;
                for key in &staff_keys {
                    staff.remove(key.clone())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)?;
        Ok(())
    }

    // ---- staff ----

    pub fn put_practitioner(&self, practitioner: &Practitioner) -> Result<(), StoreError> {
        let key = keys::staff(&practitioner.clinic_id, &practitioner.id);
        self.staff.insert(key, encode(practitioner)?)?;
        Ok(())
    }

    pub fn practitioner(&self, clinic_id: &str, id: &str) -> Result<Practitioner, StoreError> {
        match self.staff.get(keys::staff(clinic_id, id))? {
            Some(bytes) => decode("practitioner", &bytes),
            None => Err(StoreError::NotFound {
                entity: "practitioner",
                id: id.to_string(),
            }),
        }
    }

    pub fn staff(&self, clinic_id: &str) -> Result<Vec<Practitioner>, StoreError> {
        self.staff
            .scan_prefix(keys::clinic_prefix(clinic_id))
            .values()
            .map(|v| decode("practitioner", &v?))
            .collect()
    }
}

fn tx_error<E: std::fmt::Debug>(error: TransactionError<E>) -> StoreError {
    match error {
        TransactionError::Storage(e) => StoreError::Sled(e),
        TransactionError::Abort(e) => StoreError::Aborted(format!("{e:?}")),
    }
}

/// For transactions that abort with a `StoreError` of their own.
fn tx_abort_error(error: TransactionError<StoreError>) -> StoreError {
    match error {
        TransactionError::Storage(e) => StoreError::Sled(e),
        TransactionError::Abort(e) => e,
    }
}
