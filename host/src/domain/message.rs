//! Messages people must get (mail to reps and to the practice), as the notification outbox keeps them:
//! written in the same transaction as the change they tell of, sent by a worker, retried while the mail
//! server's answer says "later", parked with its answer when it says "no".

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What a message tells, and to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// To the rep: confirm your address to keep the time held for you.
    ConfirmAddress,
    /// To the rep: booked (with the calendar file and the manage link).
    Booked,
    /// To the rep: the request waits for the clinic's approval, until when.
    RequestReceived,
    /// To the rep: the clinic approved the request.
    Approved,
    /// To the rep: the clinic declined the request.
    Declined,
    /// To the rep: the request (or the hold) lapsed.
    Expired,
    /// To the rep: the visit's time changed (the calendar file updated).
    Changed,
    /// To the rep: the visit is cancelled (the calendar file cancels it).
    Cancelled,
    /// To the rep: the visit is soon.
    Reminder,
    /// To the rep: fresh manage links for their future visits.
    Recovery,
    /// To the rep: confirm your address to join the clinic's waitlist.
    WaitlistConfirm,
    /// To the rep on the waitlist: a time came free (held for you until..., or first to claim wins).
    WaitlistOffer,
    /// To the rep on the waitlist: the time you were offered has gone to someone else.
    WaitlistGone,
    /// To the clinic: a request waits for approval.
    RequestWaiting,
    /// To the clinic: a rep cancelled.
    RepCancelled,
    /// To the clinic: a rep moved their visit.
    RepSwapped,
    /// To the clinic: today's rep visits.
    DailyAgenda,
    /// To the clinic: an appointment could not be sent to the PMS and waits for a person.
    SyncParked,
    /// To the clinic: that appointment reached the PMS after all.
    SyncResolved,
    /// To the clinic: the PMS site has been offline for a while.
    SiteOffline,
    /// To the clinic: the PMS site answers again.
    SiteBack,
    /// To a person: an invitation to a staff account, with its single-use link.
    Invitation,
    /// To a person: a link to choose a new password.
    PasswordReset,
}

impl MessageKind {
    /// Whether it goes to the practice's inbox (else to a rep).
    pub fn to_clinic(self) -> bool {
        matches!(
            self,
            MessageKind::RequestWaiting
                | MessageKind::RepCancelled
                | MessageKind::RepSwapped
                | MessageKind::DailyAgenda
                | MessageKind::SyncParked
                | MessageKind::SyncResolved
                | MessageKind::SiteOffline
                | MessageKind::SiteBack
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Waiting to be sent (first try, or a retry after a "later" from the mail server).
    Queued,
    /// The mail server took it.
    Sent,
    /// The mail server refused it for good; a person can retry it after fixing the cause, or cancel it.
    Parked,
    /// A person cancelled it.
    Cancelled,
}

/// One message in the notification outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    /// A ULID; the message's `Message-ID` is made from it, so a resend is the same message.
    pub id: String,
    pub clinic_id: String,
    pub appointment_id: Option<String>,
    pub kind: MessageKind,
    pub to: Vec<String>,
    pub subject: String,
    pub state: MessageState,
    /// Attempts so far.
    pub tries: u32,
    /// When the next attempt may go (while queued).
    pub next_try_at: Timestamp,
    /// What the mail server last said (or why it could not be reached).
    pub last_reply: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    /// The whole message (RFC 5322), made when the change happened. It may carry a rep's link, so it is
    /// dropped once the message is sent or cancelled.
    pub body: Option<Vec<u8>>,
}

impl OutgoingMessage {
    /// Messages with the same key go in the order they were written, one at a time: a rep never reads
    /// "cancelled" before "booked", even when "booked" waited for a retry. Messages of no visit (an
    /// agenda, a recovery, a test) wait for nothing.
    pub fn order_key(&self) -> Option<String> {
        self.appointment_id
            .as_ref()
            .map(|appointment| format!("{appointment} {}", self.to.join(",")))
    }

    /// Whether the worker should try it now.
    pub fn due(&self, now: Timestamp) -> bool {
        self.state == MessageState::Queued && self.next_try_at <= now
    }
}
