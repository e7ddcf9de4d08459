//! Group commit: writers ask for durability, one flusher thread flushes for all who asked meanwhile.
//!
//! sled's own flush ends in `sync_file_range`, which survives a process crash but not a power cut, so the
//! flush is followed by an `fsync` of sled's log file. While other writers are in the middle of a write
//! (`writing`), the flusher waits for them a little (at most `GATHER`), so one flush covers them too:
//! alone, a writer is flushed at once; under load, a flush serves many. The thread holds a handle on the
//! database, so dropping `GroupCommit` stops and joins it: the data dir is unlocked once the store is dropped.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::StoreError;

type Waiter = oneshot::Sender<Result<(), String>>;

/// Longest a flush waits for writers still in the middle of a write. Measured with the store bench on 2
/// cores: 32 writers over 32 clinics went from 0.38 to 0.11 flushes per booking (1.52 -> 1.57 of raw sled
/// with a flush per write), all on one clinic from 0.88 to 0.10 (0.22 -> 1.74 of raw); one writer is
/// never held, since nobody else is writing.
const GATHER: Duration = Duration::from_micros(1500);

pub struct GroupCommit {
    requests: Option<mpsc::Sender<Waiter>>,
    flusher: Option<JoinHandle<()>>,
    flushes: Arc<AtomicU64>,
    writing: Arc<AtomicUsize>,
}

/// Held by a writer from the start of its write until it asks for durability.
pub struct Writing(Arc<AtomicUsize>);

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl GroupCommit {
    /// `generation` is what the store holds now; each flush makes the next one durable and then marks it.
    pub fn start(
        db: sled::Db,
        meta: sled::Tree,
        generation: u64,
        path: PathBuf,
        fault: super::Fault,
    ) -> Result<Self, StoreError> {
        let mut mark = super::integrity::MarkWriter::open(&super::integrity::mark_path(&path))?;
        // The mark follows the store from the first moment (also when an older store was accepted).
        mark.write(generation).map_err(StoreError::Flush)?;
        let mut generation = generation;
        let (requests, incoming) = mpsc::channel::<Waiter>();
        let flushes = Arc::new(AtomicU64::new(0));
        let counter = flushes.clone();
        let writing = Arc::new(AtomicUsize::new(0));
        let in_progress = writing.clone();
        let flusher = std::thread::Builder::new()
            .name("store-flush".into())
            .spawn(move || {
                let log = path.join("db");
                while let Ok(first) = incoming.recv() {
                    // Everyone who asks before this flush starts is covered by it; writers mid-write get a
                    // moment to ask.
                    let mut waiters = vec![first];
                    let gather_until = Instant::now() + GATHER;
                    while in_progress.load(Ordering::SeqCst) > 0 && Instant::now() < gather_until {
                        waiters.extend(incoming.try_iter());
                        std::thread::sleep(Duration::from_micros(50));
                    }
                    waiters.extend(incoming.try_iter());
                    let started = std::time::Instant::now();
                    let next = generation + 1;
                    let result = meta
                        .insert(super::integrity::GENERATION_KEY, &next.to_be_bytes())
                        .and_then(|_| db.flush())
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                        .and_then(|()| {
                            File::open(&log)
                                .and_then(|f| f.sync_data())
                                .map_err(|e| format!("fsync {}: {e}", log.display()))
                        });
                    if let Err(error) = &result {
                        fault.record(error);
                    }
                    if result.is_ok() {
                        generation = next;
                        // A mark that lags is harmless (it only weakens the next start's check).
                        if let Err(error) = mark.write(next) {
                            tracing::warn!(%error, "cannot update the store's high-water mark");
                        }
                    }
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
            writing,
        })
    }

    /// Notes a write in progress until the returned guard drops (before the writer asks for durability).
    pub fn writing(&self) -> Writing {
        self.writing.fetch_add(1, Ordering::SeqCst);
        Writing(self.writing.clone())
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
