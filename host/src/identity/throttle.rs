//! Wrong passwords and codes, throttled per account and per client address with growing delays: past a few
//! free failures each further one doubles the wait (up to a bound), and a failure long enough ago is
//! forgotten. An address an account signed in from before is not held back by failures from elsewhere
//! against that account (only by its own), so a flood from twenty addresses cannot lock the owner out of
//! their own desk. Unknown addresses are counted like real ones: the answer and its timing never tell
//! which accounts exist. Pure logic over a clock passed in; the state is in memory (a restart forgets it).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures against one account before it waits (from addresses it has not signed in from).
    pub per_account: u32,
    /// Failures from one address before it waits, whatever the accounts.
    pub per_address: u32,
    /// The first wait; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest wait; also how long a failure is remembered.
    pub max_delay: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            per_account: 5,
            per_address: 20,
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// When this counter lets the next attempt in.
    fn open_at(&self, free: u32, config: &ThrottleConfig) -> Option<Instant> {
        let over = self.count.checked_sub(free).filter(|over| *over > 0)?;
        let doubling = 2u32.saturating_pow((over - 1).min(20));
        let delay = config.first_delay.saturating_mul(doubling).min(config.max_delay);
        Some(self.last + delay)
    }
}

/// At most this many accounts' and addresses' counters are kept; past it the stalest go.
const MAX_KEYS: usize = 100_000;
/// Addresses an account signed in from that count as its own, the most recent first.
const TRUSTED_PER_ACCOUNT: usize = 8;

#[derive(Default)]
struct State {
    accounts: HashMap<String, Failures>,
    addresses: HashMap<IpAddr, Failures>,
    trusted: HashMap<String, VecDeque<IpAddr>>,
}

pub struct Throttle {
    config: ThrottleConfig,
    state: Mutex<State>,
}

/// Why an attempt must wait, and how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub for_: Duration,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Throttle {
        Throttle {
            config,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an attempt at `account` (a normalised address, known or not) from `client` must wait.
    pub fn check(&self, account: &str, client: IpAddr, now: Instant) -> Option<Wait> {
        let state = self.lock();
        let trusted = state.trusted.get(account).is_some_and(|t| t.contains(&client));
        let by_address = state
            .addresses
            .get(&client)
            .and_then(|f| f.open_at(self.config.per_address, &self.config));
        let by_account = if trusted {
            None
        } else {
            state
                .accounts
                .get(account)
                .and_then(|f| f.open_at(self.config.per_account, &self.config))
        };
        [by_address, by_account]
            .into_iter()
            .flatten()
            .max()
            .filter(|open| *open > now)
            .map(|open| Wait { for_: open - now })
    }

    /// A wrong password or code for `account` from `client`.
    pub fn failed(&self, account: &str, client: IpAddr, now: Instant) {
        let mut state = self.lock();
        let forget = self.config.max_delay;
        let bump = |f: &mut Failures| {
            if now.duration_since(f.last) >= forget {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
        };
        bump(
            state
                .accounts
                .entry(account.to_string())
                .or_insert(Failures { count: 0, last: now }),
        );
        bump(
            state
                .addresses
                .entry(client)
                .or_insert(Failures { count: 0, last: now }),
        );
        if state.accounts.len() > MAX_KEYS || state.addresses.len() > MAX_KEYS {
            Self::evict(&mut state, now, forget);
        }
    }

    /// A full sign-in of `account` from `client`: its failures are forgiven and the address is its own.
    pub fn succeeded(&self, account: &str, client: IpAddr) {
        let mut state = self.lock();
        state.accounts.remove(account);
        if let Some(f) = state.addresses.get_mut(&client) {
            f.count = f.count.min(self.config.per_address / 2);
        }
        let trusted = state.trusted.entry(account.to_string()).or_default();
        trusted.retain(|a| *a != client);
        trusted.push_front(client);
        trusted.truncate(TRUSTED_PER_ACCOUNT);
        if state.trusted.len() > MAX_KEYS
            && let Some(any) = state.trusted.keys().next().cloned()
        {
            state.trusted.remove(&any);
        }
    }

    /// Forgets counters whose last failure is older than the longest wait (housekeeping).
    pub fn retain_recent(&self, now: Instant) {
        let mut state = self.lock();
        Self::evict(&mut state, now, self.config.max_delay);
    }

    fn evict(state: &mut State, now: Instant, forget: Duration) {
        state.accounts.retain(|_, f| now.duration_since(f.last) < forget);
        state.addresses.retain(|_, f| now.duration_since(f.last) < forget);
        // Still too many within the window (a distributed flood): the stalest go first.
        trim_stalest(&mut state.accounts);
        trim_stalest(&mut state.addresses);
    }

    /// How many addresses and accounts are being held back now (for `/metrics`).
    pub fn held(&self, now: Instant) -> usize {
        let state = self.lock();
        let held = |f: &Failures, free| f.open_at(free, &self.config).is_some_and(|open| open > now);
        state
            .accounts
            .values()
            .filter(|f| held(f, self.config.per_account))
            .count()
            + state
                .addresses
                .values()
                .filter(|f| held(f, self.config.per_address))
                .count()
    }

    pub fn config(&self) -> ThrottleConfig {
        self.config
    }
}

fn trim_stalest<K: Eq + std::hash::Hash>(counters: &mut HashMap<K, Failures>) {
    if counters.len() <= MAX_KEYS {
        return;
    }
    let mut ages: Vec<Instant> = counters.values().map(|f| f.last).collect();
    ages.sort_unstable();
    let cut = ages[ages.len() - MAX_KEYS];
    counters.retain(|_, f| f.last >= cut);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ThrottleConfig {
        ThrottleConfig {
            per_account: 3,
            per_address: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }

    #[test]
    fn an_account_waits_longer_after_each_failure_past_its_free_ones() {
        let throttle = Throttle::new(config());
        let start = Instant::now();
        let from = |n: u8| IpAddr::from([10, 0, 0, n]);
        for n in 0..3 {
            assert_eq!(throttle.check("ana@clinic.test", from(n), start), None);
            throttle.failed("ana@clinic.test", from(n), start);
        }
        // Three free failures used (from three addresses); after the fourth, the next attempt waits 1 s,
        // after the fifth 2 s.
        assert!(throttle.check("ana@clinic.test", from(9), start).is_none());
        throttle.failed("ana@clinic.test", from(9), start);
        assert_eq!(
            throttle.check("ana@clinic.test", from(10), start),
            Some(Wait {
                for_: Duration::from_secs(1)
            })
        );
        throttle.failed("ana@clinic.test", from(10), start);
        assert_eq!(
            throttle.check("ana@clinic.test", from(11), start),
            Some(Wait {
                for_: Duration::from_secs(2)
            })
        );
        // Another account is not held back by it.
        assert_eq!(throttle.check("bo@clinic.test", from(11), start), None);
        // The wait is bounded.
        for _ in 0..30 {
            throttle.failed("ana@clinic.test", from(12), start);
        }
        assert!(throttle.check("ana@clinic.test", from(13), start).unwrap().for_ <= Duration::from_secs(60));
    }

    #[test]
    fn the_accounts_own_address_is_not_locked_out_by_failures_from_elsewhere() {
        let throttle = Throttle::new(config());
        let now = Instant::now();
        let desk = IpAddr::from([192, 168, 1, 10]);
        throttle.succeeded("owner@clinic.test", desk);
        for n in 0..20u8 {
            throttle.failed("owner@clinic.test", IpAddr::from([203, 0, 113, n]), now);
        }
        assert!(
            throttle
                .check("owner@clinic.test", IpAddr::from([203, 0, 113, 99]), now)
                .is_some()
        );
        assert_eq!(throttle.check("owner@clinic.test", desk, now), None);
    }

    #[test]
    fn an_address_guessing_many_accounts_waits_and_failures_are_forgotten_in_time() {
        let throttle = Throttle::new(config());
        let now = Instant::now();
        let guesser = IpAddr::from([198, 51, 100, 7]);
        for n in 0..6 {
            throttle.failed(&format!("user{n}@clinic.test"), guesser, now);
        }
        assert!(throttle.check("someone-new@clinic.test", guesser, now).is_some());
        let later = now + Duration::from_secs(61);
        assert_eq!(throttle.check("someone-new@clinic.test", guesser, later), None);
        throttle.retain_recent(later);
        assert_eq!(throttle.held(later), 0);
    }
}
