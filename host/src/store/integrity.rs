//! The store's high-water mark: proof at start that the store holds everything repbook acknowledged.
//!
//! Each group flush first bumps a generation number inside the store, and once the flush (and the fsync
//! of sled's log) is done, writes that number to `store.mark` beside the store. sled recovers a damaged
//! log by cutting it at the first bad record, which silently yields an older state (or an empty one, for
//! a truncated file); that older state carries an older generation than the mark, and the store refuses
//! to open instead of serving it. The mark is written after the flush and never fsynced: after a power
//! cut it can only be older than the store, which passes; it can never claim more than the store holds.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Key of the generation in the store's `meta` tree.
pub const GENERATION_KEY: &[u8] = b"generation";

/// Fixed width so every write overwrites the whole record in place.
const RECORD_BYTES: usize = 64;

/// What the mark file says: the generation last made durable, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub generation: u64,
    pub unix_seconds: i64,
}

impl Mark {
    fn encode(&self) -> [u8; RECORD_BYTES] {
        let text = format!(
            "repbook-store-mark 1 {} {} {}",
            self.generation,
            self.unix_seconds,
            Self::check(self.generation, self.unix_seconds)
        );
        let mut record = [b' '; RECORD_BYTES];
        record[..text.len()].copy_from_slice(text.as_bytes());
        record[RECORD_BYTES - 1] = b'\n';
        record
    }

    /// A torn or foreign record fails this, rather than being read as a smaller number.
    fn check(generation: u64, unix_seconds: i64) -> u64 {
        generation.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (unix_seconds as u64).rotate_left(17) ^ 0x7265_7062_6f6f_6b21
    }

    fn decode(bytes: &[u8]) -> Option<Mark> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut parts = text.split_whitespace();
        if parts.next()? != "repbook-store-mark" || parts.next()? != "1" {
            return None;
        }
        let generation: u64 = parts.next()?.parse().ok()?;
        let unix_seconds: i64 = parts.next()?.parse().ok()?;
        let check: u64 = parts.next()?.parse().ok()?;
        (check == Self::check(generation, unix_seconds)).then_some(Mark {
            generation,
            unix_seconds,
        })
    }
}

/// The mark file of a data dir's store.
pub fn mark_path(store_path: &Path) -> PathBuf {
    let name = store_path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    store_path.with_file_name(format!("{name}.mark"))
}

/// Reads the mark: `Ok(None)` when there is none yet (a new store, or one from before marks existed).
pub fn read_mark(path: &Path) -> Result<Option<Mark>, StoreError> {
    let mut bytes = Vec::new();
    match std::fs::File::open(path) {
        Ok(mut file) => file.read_to_end(&mut bytes).map_err(|e| mark_error(path, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(mark_error(path, e)),
    };
    match Mark::decode(&bytes) {
        Some(mark) => Ok(Some(mark)),
        None => {
            tracing::warn!(path = %path.display(), "the store's mark file is unreadable; it is rewritten and this start is not checked against it");
            Ok(None)
        }
    }
}

fn mark_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Flush(format!("cannot use {}: {source}", path.display()))
}

/// Writes marks in place; owned by the flush thread.
pub struct MarkWriter {
    file: std::fs::File,
    path: PathBuf,
}

impl MarkWriter {
    pub fn open(path: &Path) -> Result<MarkWriter, StoreError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| mark_error(path, e))?;
        Ok(MarkWriter {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn write(&mut self, generation: u64) -> Result<(), String> {
        let mark = Mark {
            generation,
            unix_seconds: jiff::Timestamp::now().as_second(),
        };
        self.file
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.file.write_all(&mark.encode()))
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }
}

/// The generation a store holds (0 for an empty or pre-mark store).
pub fn stored_generation(meta: &sled::Tree) -> Result<u64, StoreError> {
    Ok(meta
        .get(GENERATION_KEY)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// Refuses a store older than its mark, unless the operator accepts it (which moves the mark down).
pub fn check(store_path: &Path, meta: &sled::Tree, accept_older: bool) -> Result<u64, StoreError> {
    let held = stored_generation(meta)?;
    let mark_path = mark_path(store_path);
    let Some(mark) = read_mark(&mark_path)? else {
        return Ok(held);
    };
    if held >= mark.generation {
        return Ok(held);
    }
    let acknowledged_at = jiff::Timestamp::from_second(mark.unix_seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "an unknown time".into());
    if accept_older {
        tracing::warn!(
            held,
            acknowledged = mark.generation,
            %acknowledged_at,
            "starting on a store older than what was acknowledged, as --accept-older-store asks; writes made after it are gone"
        );
        return Ok(held);
    }
    Err(StoreError::OlderThanAcknowledged {
        path: store_path.to_path_buf(),
        held,
        acknowledged: mark.generation,
        acknowledged_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_round_trips_and_a_damaged_one_is_not_read_as_a_smaller_number() {
        let mark = Mark {
            generation: 41_207,
            unix_seconds: 1_795_000_000,
        };
        let bytes = mark.encode();
        assert_eq!(Mark::decode(&bytes), Some(mark));
        let mut torn = bytes;
        torn[22] ^= 0x01; // one digit of the generation
        assert_eq!(Mark::decode(&torn), None);
        assert_eq!(Mark::decode(b""), None);
    }
}
