//! "Now" for the booking rules: requests that expire, holds that lapse, reminders that fall due. A server
//! reads the system clock; a server started for end-to-end tests with `--test-clock-file FILE` adds the
//! number of seconds written in that file, so a suite can move time forward by hours in a second instead
//! of waiting (the clock only ever reads; nothing else about the server changes).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// How often a test clock reads its file.
const TEST_CLOCK_POLL: Duration = Duration::from_millis(50);

#[derive(Clone, Default)]
pub struct Clock {
    /// Seconds added to the system clock; always 0 outside tests.
    offset: Arc<AtomicI64>,
    /// Unit tests: the time it reads, exactly.
    #[cfg(test)]
    fixed: Arc<std::sync::Mutex<Option<Timestamp>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The system clock plus the seconds in `file` (read every 50 ms; a missing or unreadable file counts
    /// as 0). Must run inside a tokio runtime.
    pub fn offset_by_file(file: PathBuf) -> Clock {
        let clock = Clock::default();
        let offset = clock.offset.clone();
        tracing::warn!(file = %file.display(), "test clock: \"now\" is moved by the seconds in this file");
        tokio::spawn(async move {
            loop {
                let seconds = std::fs::read_to_string(&file)
                    .ok()
                    .and_then(|text| text.trim().parse::<i64>().ok())
                    .unwrap_or(0);
                offset.store(seconds, Ordering::Relaxed);
                tokio::time::sleep(TEST_CLOCK_POLL).await;
            }
        });
        clock
    }

    pub fn now(&self) -> Timestamp {
        #[cfg(test)]
        if let Some(fixed) = *self.fixed.lock().unwrap_or_else(|p| p.into_inner()) {
            return fixed;
        }
        let offset = self.offset.load(Ordering::Relaxed);
        Timestamp::now()
            .checked_add(SignedDuration::from_secs(offset))
            .unwrap_or_else(|_| Timestamp::now())
    }
}

#[cfg(test)]
impl Clock {
    /// A clock that reads exactly `at` until it is set again, for unit tests of time-bound rules.
    pub fn at(at: Timestamp) -> Clock {
        let clock = Clock::default();
        clock.set(at);
        clock
    }

    /// Makes this clock (and every copy of it) read `at`.
    pub fn set(&self, at: Timestamp) {
        *self.fixed.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
    }
}
