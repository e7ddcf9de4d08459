//! The workflows: what happens when a practice manager, a rep or the clinic's own schedule asks for
//! something. Each public method is one use case: it reads what it needs, checks the domain's rules, takes
//! the clinic's lock where several records must agree, writes through the store (one transaction per
//! change, its outbox entry included) and waits until the write is durable before it answers. The api and
//! the cli call one method per request and map its answer; nothing here knows HTTP or a terminal.
//!
//! `clinics` (clinics, staff, PMS settings), `appointments` (staff bookings and the approval queue); a
//! rep's side: `slots` (what a link offers), `booking` (a claim, the per-rep rules, a booking through a
//! link), `manage` (a manage link's swap and cancel), `rep_links` (the address confirmation and "email me
//! my visits"); `publishing` (times, categories, closed dates, links), `availability` (the doctors' PMS
//! diaries), `doctor` (the setup check), `waitlist` (a rep's place on a clinic's waitlist) and `offers`
//! (freed times offered to it, and claimed), `webhooks` (a clinic's endpoints and their deliveries). The
//! clinic's staff: `people` and `invitations` (who has which role), `sign_in`, `sessions`, `factors`
//! (password, TOTP, passkeys, recovery codes), `password_reset`, `tokens` (personal API tokens).

mod appointments;
mod attendance;
mod availability;
mod booking;
mod clinics;
mod doctor;
mod error;
mod factors;
mod invitations;
mod mail;
mod manage;
mod notices;
mod offers;
mod password_reset;
mod people;
mod privacy;
mod publishing;
mod rep_links;
mod sessions;
mod sign_in;
mod slots;
mod sso;
mod tokens;
mod waitlist;
mod webhooks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

pub use appointments::{Cursor, DEFAULT_PAGE, ListAppointments, Listed, MAX_PAGE, Page};
pub use attendance::{MarkRequest, PauseView};
pub use availability::{Availability, AvailabilityConfig, AvailabilityView, DiaryView};
pub use booking::{Booked, BookingRequest, RepVisit, digest, new_capability};
pub use doctor::{Check, CheckStatus, DoctorReport};
pub use error::AppError;
pub use factors::{FactorChanged, MePatch, PasskeyFinish, TotpEnrolment};
pub use invitations::{AcceptInvitation, InvitationSeen, InviteRequest, Invited};
pub use mail::{MESSAGES_MAX_PAGE, MESSAGES_PAGE, MailStatus, state_word};
pub use manage::SwapRequest;
pub use password_reset::ResetSeen;
pub use people::{AccountPolicy, PersonPatch};
pub use privacy::{Forgotten, REMOVED, rep_digest};
pub use publishing::NamedTime;
pub use sessions::{LiveSession, NewSession, SessionListed};
pub use slots::{MAX_DAYS, Offer, slot_range};
pub use sso::{PolicyRequest, PolicyView, SignInOptions, SignInProvider};
pub use tokens::{MadeToken, NewToken};
pub use waitlist::{Joined, OfferSeen, WaitlistView};
pub use webhooks::{DELIVERIES_MAX, MAX_OVERLAP_HOURS, WithSecret};

use crate::clock::Clock;
use crate::domain::Clinic;
use crate::identity::Identity;
use crate::notify::{MailIdentity, Mailer};
use crate::plugins::Registry;
use crate::store::Store;
use crate::sync::SyncEngine;

pub struct App {
    store: Arc<Store>,
    plugins: Arc<Registry>,
    sync: Arc<SyncEngine>,
    availability: Arc<Availability>,
    clock: Clock,
    /// For `doctor`'s free-space check.
    data_dir: PathBuf,
    /// Tests only: how long a rep booking holds its claimed slot before writing it (see `booking`).
    claim_delay: Duration,
    /// Where mail comes from, when the server sends mail; `None`: nobody is mailed, and a booking through a
    /// link is booked at once (its address is not verified).
    mail: Option<MailIdentity>,
    /// The way out for `mail test` and `doctor` (the worker in `notify` sends the queued messages).
    mailer: Option<Arc<Mailer>>,
    /// Per clinic, the retention cutoff its visits were last scrubbed up to (`privacy`): each round reads
    /// only the visits since, not every past visit again. Empty after a start: the first round reads all.
    retained_to: std::sync::Mutex<HashMap<String, Timestamp>>,
    /// Passwords, TOTP, passkeys and the throttle on wrong ones.
    identity: Arc<Identity>,
    /// The host's rules for accounts and sessions.
    accounts: AccountPolicy,
    /// Changes to people (roles, invitations, factors) one at a time, so two managers never write over
    /// each other's change of one person.
    people_lock: tokio::sync::Mutex<()>,
}

/// Who a request came from, as the listener saw it: for the audit trail, the throttle and "My account".
#[derive(Debug, Clone)]
pub struct Requester {
    pub address: std::net::IpAddr,
    /// The browser's User-Agent (or the CLI's).
    pub device: String,
}

impl App {
    pub fn new(
        store: Arc<Store>,
        plugins: Arc<Registry>,
        sync: Arc<SyncEngine>,
        availability: Arc<Availability>,
        clock: Clock,
        data_dir: PathBuf,
        identity: Arc<Identity>,
    ) -> App {
        App {
            store,
            plugins,
            sync,
            availability,
            clock,
            data_dir,
            claim_delay: Duration::ZERO,
            mail: None,
            mailer: None,
            retained_to: Default::default(),
            identity,
            accounts: AccountPolicy::default(),
            people_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The host's rules for accounts (require a second factor, session lifetimes, invitations).
    pub fn with_accounts(mut self, policy: AccountPolicy) -> App {
        self.accounts = policy;
        self
    }

    pub fn accounts(&self) -> AccountPolicy {
        self.accounts
    }

    pub fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }

    /// Sends mail from `identity`: reps confirm their address before a booking through a link counts,
    /// and everyone hears of what concerns them.
    pub fn with_mail(mut self, mail: Option<(MailIdentity, Arc<Mailer>)>) -> App {
        (self.mail, self.mailer) = mail.unzip();
        self
    }

    /// Widens the window between a rep booking's claim of its slot and its write, so tests of the clinic
    /// lock see a race every time rather than by luck.
    pub fn with_claim_delay(mut self, delay: Duration) -> App {
        self.claim_delay = delay;
        self
    }

    /// "Now", as every rule here reads it.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn availability(&self) -> &Arc<Availability> {
        &self.availability
    }

    /// Display names of the clinic's practitioners, by id.
    pub fn names(&self, clinic: &Clinic) -> Result<HashMap<String, String>, AppError> {
        Ok(self
            .store
            .staff(&clinic.id)?
            .into_iter()
            .map(|p| (p.id.clone(), p.display_name()))
            .collect())
    }
}

/// Who a visit is with, as people read it: "Dr Ana Ng", or "the clinic".
fn with_whom(names: &HashMap<String, String>, practitioner_id: Option<&str>) -> String {
    match practitioner_id {
        Some(id) => names.get(id).cloned().unwrap_or_default(),
        None => "the clinic".to_string(),
    }
}
