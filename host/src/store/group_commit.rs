//! Group commit: writers ask for durability, one background task flushes for all who asked meanwhile.
//!
//! sled's own flush ends in `sync_file_range`, which survives a process crash but not a power cut, so the
//! flush is followed by an `fsync` of sled's log file.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::StoreError;

type Waiter = oneshot::Sender<Result<(), String>>;

pub struct GroupCommit {
    requests: mpsc::UnboundedSender<Waiter>,
    flushes: Arc<AtomicU64>,
}

impl GroupCommit {
    pub fn start(db: sled::Db, path: PathBuf) -> Self {
        let (requests, mut incoming) = mpsc::unbounded_channel::<Waiter>();
        let flushes = Arc::new(AtomicU64::new(0));
        let counter = flushes.clone();
        tokio::spawn(async move {
            while let Some(first) = incoming.recv().await {
                // Everyone who asked before this flush starts is covered by it.
                let mut waiters = vec![first];
                while let Ok(next) = incoming.try_recv() {
                    waiters.push(next);
                }
                let db = db.clone();
                let log = path.join("db");
                let started = std::time::Instant::now();
                let result = tokio::task::spawn_blocking(move || -> Result<(), String> {
                    db.flush().map_err(|e| e.to_string())?;
                    File::open(&log)
                        .and_then(|f| f.sync_data())
                        .map_err(|e| format!("fsync {}: {e}", log.display()))
                })
                .await
                .unwrap_or_else(|e| Err(format!("flush task failed: {e}")));
                counter.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    writers = waiters.len(),
                    micros = started.elapsed().as_micros() as u64,
                    "group flush"
                );
                for waiter in waiters {
                    let _ = waiter.send(result.clone());
                }
            }
        });
        GroupCommit { requests, flushes }
    }

    pub async fn wait(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(tx)
            .map_err(|_| StoreError::Flush("flush task stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Flush("flush task stopped".into()))?
            .map_err(StoreError::Flush)
    }

    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}
