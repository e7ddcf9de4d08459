//! Backups of a running store, and restoring one into a stopped data dir.
//!
//! sled has no snapshots, and writers of different clinics run at once, so a backup is taken between two
//! of sled's checksums (each computed under sled's global write lock): the copy is accepted only when both
//! checksums and the checksum of the copy itself agree, which means no write landed while it was taken. A
//! busy store is retried a few times. The file carries its own SHA-256; a restore checks it and the
//! checksum again, builds the new store beside the old one, keeps the old one (renamed, never deleted) and
//! moves the high-water mark to the backup's generation.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::integrity::{MarkWriter, mark_path, stored_generation};
use super::{Store, StoreError};

const MAGIC: &[u8] = b"REPBOOK-BACKUP 1\n";
const ATTEMPTS: usize = 20;

/// What a backup holds, as its header says.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct BackupHeader {
    pub schema: u32,
    pub generation: u64,
    /// RFC 3339.
    pub created: String,
    /// sled's CRC32 of every tree name, key and value.
    pub checksum: u32,
    pub trees: usize,
    pub records: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store kept changing while it was copied ({ATTEMPTS} attempts); try again in a quieter moment")]
    Busy,
    #[error("{0} is not a repbook backup (or it is damaged): {1}")]
    NotABackup(PathBuf, String),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "a repbook server is running on {0}; stop it first (a restore replaces the store under it), then run \
         restore again"
    )]
    ServerRunning(PathBuf),
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Every tree's records in name order, and the CRC32 sled's `checksum` gives for that content.
fn copy_trees(db: &sled::Db) -> Result<(Vec<u8>, u32, usize, u64), StoreError> {
    let mut names = db.tree_names();
    names.sort();
    let mut body = Vec::new();
    let mut hasher = crc32fast::Hasher::new();
    let mut records = 0;
    for name in &names {
        hasher.update(name);
        let tree = db.open_tree(name)?;
        put_bytes(&mut body, name);
        let mut entries = Vec::new();
        let mut count: u64 = 0;
        for item in tree.iter() {
            let (key, value) = item?;
            hasher.update(&key);
            hasher.update(&value);
            put_bytes(&mut entries, &key);
            put_bytes(&mut entries, &value);
            count += 1;
        }
        records += count;
        body.extend_from_slice(&count.to_be_bytes());
        body.extend_from_slice(&entries);
    }
    Ok((body, hasher.finalize(), names.len(), records))
}

impl Store {
    /// A consistent copy of the whole store, as the bytes of a backup file.
    pub fn backup(&self) -> Result<(BackupHeader, Vec<u8>), BackupError> {
        for _ in 0..ATTEMPTS {
            let before = self.db.checksum().map_err(StoreError::from)?;
            let generation = stored_generation(&self.meta)?;
            let (body, copied, trees, records) = copy_trees(&self.db)?;
            let after = self.db.checksum().map_err(StoreError::from)?;
            if before != copied || copied != after {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            }
            let header = BackupHeader {
                schema: self.schema_version()?,
                generation,
                created: jiff::Timestamp::now().to_string(),
                checksum: copied,
                trees,
                records,
            };
            let mut file = MAGIC.to_vec();
            let header_json = serde_json::to_vec(&header).map_err(|e| StoreError::Flush(e.to_string()))?;
            put_bytes(&mut file, &header_json);
            file.extend_from_slice(&body);
            let digest = Sha256::digest(&file);
            file.extend_from_slice(&digest);
            return Ok((header, file));
        }
        Err(BackupError::Busy)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn chunk(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize;
        self.take(len)
    }

    fn count(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

type Trees<'a> = Vec<(&'a [u8], Vec<(&'a [u8], &'a [u8])>)>;

/// Checks a backup file's digest and shape and returns its header and trees.
pub fn read_backup<'a>(path: &Path, file: &'a [u8]) -> Result<(BackupHeader, Trees<'a>), BackupError> {
    let bad = |why: &str| BackupError::NotABackup(path.to_path_buf(), why.to_string());
    if file.len() < MAGIC.len() + 32 || !file.starts_with(MAGIC) {
        return Err(bad("it does not start like one"));
    }
    let (content, digest) = file.split_at(file.len() - 32);
    if Sha256::digest(content).as_slice() != digest {
        return Err(bad("its SHA-256 does not match its content"));
    }
    let mut reader = Reader {
        bytes: &content[MAGIC.len()..],
    };
    let header: BackupHeader = reader
        .chunk()
        .and_then(|h| serde_json::from_slice(h).ok())
        .ok_or_else(|| bad("its header cannot be read"))?;
    let mut trees = Vec::new();
    while !reader.bytes.is_empty() {
        let name = reader.chunk().ok_or_else(|| bad("a tree name is cut short"))?;
        let count = reader.count().ok_or_else(|| bad("a tree is cut short"))?;
        let mut entries = Vec::new();
        for _ in 0..count {
            let key = reader.chunk().ok_or_else(|| bad("a record is cut short"))?;
            let value = reader.chunk().ok_or_else(|| bad("a record is cut short"))?;
            entries.push((key, value));
        }
        trees.push((name, entries));
    }
    Ok((header, trees))
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub header: BackupHeader,
    /// Where the store that was replaced now is (kept, never deleted).
    pub kept: Option<PathBuf>,
}

/// Fails when a server holds the data dir's store (sled keeps an exclusive lock on its `db` file).
#[cfg(unix)]
fn ensure_not_running(store: &Path) -> Result<(), BackupError> {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(store.join("db"))
    else {
        return Ok(());
    };
    // SAFETY: flock on a descriptor this function owns; released when `file` closes.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked != 0 {
        return Err(BackupError::ServerRunning(store.to_path_buf()));
    }
    Ok(())
}

#[cfg(not(unix))]
fn ensure_not_running(_store: &Path) -> Result<(), BackupError> {
    Ok(())
}

/// Replaces the data dir's store with a backup. The server must be stopped.
pub fn restore(data_dir: &Path, backup: &Path) -> Result<Restored, BackupError> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| BackupError::Io { action, path, source }
    };
    let file = std::fs::read(backup).map_err(io("read", backup))?;
    let (header, trees) = read_backup(backup, &file)?;
    let store = data_dir.join("store");
    ensure_not_running(&store)?;
    let building = data_dir.join("store.restoring");
    if building.exists() {
        std::fs::remove_dir_all(&building).map_err(io("clear", &building))?;
    }
    {
        let db = sled::Config::new()
            .path(&building)
            .open()
            .map_err(|e| StoreError::Open {
                path: building.clone(),
                source: e,
            })?;
        for (name, entries) in &trees {
            let tree = db.open_tree(name).map_err(StoreError::from)?;
            for (key, value) in entries {
                tree.insert(key, *value).map_err(StoreError::from)?;
            }
        }
        let checksum = db.checksum().map_err(StoreError::from)?;
        if checksum != header.checksum {
            return Err(BackupError::NotABackup(
                backup.to_path_buf(),
                format!(
                    "restored content has checksum {checksum}, the backup says {}",
                    header.checksum
                ),
            ));
        }
        db.flush().map_err(StoreError::from)?;
    }
    let kept = if store.exists() {
        let aside = data_dir.join(format!("store.replaced-{}", jiff::Timestamp::now().as_second()));
        std::fs::rename(&store, &aside).map_err(io("move aside", &store))?;
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&building, &store).map_err(io("move into place", &building))?;
    MarkWriter::open(&mark_path(&store))?
        .write(header.generation)
        .map_err(StoreError::Flush)?;
    Ok(Restored { header, kept })
}
