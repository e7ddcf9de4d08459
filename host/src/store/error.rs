//! The store's error type.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open the data store at {path}: {source} (is another repbook running on this data dir?)")]
    Open { path: PathBuf, source: sled::Error },
    #[error(
        "the data store at {path} is damaged ({detail}); nothing was changed. Restore the latest backup with \
         `repbook restore FILE` (the damaged store is kept beside it)"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "the data store at {path} is older than what this server acknowledged: it holds generation {held}, but \
         generation {acknowledged} was made durable at {acknowledged_at}. It was damaged (truncated or written \
         over) or replaced by an older copy, and serving it would lose bookings silently; nothing was changed. \
         Restore the latest backup with `repbook restore FILE`, or, to run on this older state knowingly, \
         start once with --accept-older-store"
    )]
    OlderThanAcknowledged {
        path: PathBuf,
        held: u64,
        acknowledged: u64,
        acknowledged_at: String,
    },
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored {what} cannot be read: {message}")]
    Corrupt { what: &'static str, message: String },
    #[error(
        "the data dir was written by a newer repbook (schema {found}, this build knows up to {supported}); \
         run the newer repbook or restore a backup"
    )]
    SchemaTooNew { found: u32, supported: u32 },
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The disk refused the flush a write waits for: the write is not durable.
    #[error("could not make the write durable: {0}")]
    Flush(String),
    #[error("transaction aborted: {0}")]
    Aborted(String),
}
