//! Group commit: writers ask for durability, one flusher thread flushes for all who asked meanwhile.
//!
//! sled's own flush ends in `sync_file_range`, which survives a process crash but not a power cut, so the
//! flush is followed by an `fsync` of sled's log file. The thread holds a handle on the database, so
//! dropping `GroupCommit` stops and joins it: the data dir is unlocked once the store is dropped.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::StoreError;

type Waiter = oneshot::Sender<Result<(), String>>;

pub struct GroupCommit {
    requests: Option<mpsc::Sender<Waiter>>,
    flusher: Option<JoinHandle<()>>,
    flushes: Arc<AtomicU64>,
}

impl GroupCommit {
    pub fn start(db: sled::Db, path: PathBuf) -> Result<Self, StoreError> {
        let (requests, incoming) = mpsc::channel::<Waiter>();
        let flushes = Arc::new(AtomicU64::new(0));
        let counter = flushes.clone();
        let flusher = std::thread::Builder::new()
            .name("store-flush".into())
            .spawn(move || {
                let log = path.join("db");
                while let Ok(first) = incoming.recv() {
                    // Everyone who asked before this flush starts is covered by it.
                    let mut waiters = vec![first];
                    waiters.extend(incoming.try_iter());
                    let started = std::time::Instant::now();
                    let result = db.flush().map(|_| ()).map_err(|e| e.to_string()).and_then(|()| {
                        File::open(&log)
                            .and_then(|f| f.sync_data())
                            .map_err(|e| format!("fsync {}: {e}", log.display()))
                    });
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
            })
            .map_err(|e| StoreError::Flush(format!("cannot start the flush thread: {e}")))?;
        Ok(GroupCommit {
            requests: Some(requests),
            flusher: Some(flusher),
            flushes,
        })
    }

    pub async fn wait(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        let stopped = || StoreError::Flush("flush thread stopped".into());
        self.requests
            .as_ref()
            .ok_or_else(stopped)?
            .send(tx)
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?.map_err(StoreError::Flush)
    }

    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}
