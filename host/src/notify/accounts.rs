//! Mail about staff accounts: an invitation (with its single-use link) and a password reset. Written by the
//! people workflows in the transaction that makes the link, sent by the same worker as every message; the
//! link lives only in the message's body, which is dropped once it is sent.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::compose::{Envelope, Letter, MailIdentity};
use crate::domain::{MessageKind, OutgoingMessage};

/// "Thursday 10 December 2026 at 3:15 pm AEDT".
pub fn when_words(instant: Timestamp, zone: &TimeZone) -> String {
    instant
        .to_zoned_datetime(zone.clone())
        .strftime("%A %-d %B %Y at %-I:%M %P %Z")
        .to_string()
}

/// What an invitation says.
pub struct InvitationLetter<'a> {
    pub to: &'a str,
    /// Who invited, as a person reads it ("Mia Chen").
    pub inviter: &'a str,
    /// What they are invited to be, in words ("front desk at Harbour GP").
    pub roles: &'a str,
    /// `/invite/<token>`.
    pub link_path: &'a str,
    pub expires_at: Timestamp,
    /// The zone the expiry is told in (the clinic's).
    pub zone: &'a TimeZone,
    /// The clinic whose Messages tab lists it (empty for the host's own).
    pub clinic_id: &'a str,
}

pub fn invitation(identity: &MailIdentity, letter: InvitationLetter<'_>, now: Timestamp) -> Option<OutgoingMessage> {
    let until = when_words(letter.expires_at, letter.zone);
    let body = Letter {
        subject: format!("{} invited you to repbook", letter.inviter),
        heading: "You are invited to repbook".into(),
        paragraphs: vec![
            format!(
                "{} invited you to repbook, the rep-visit booking service, as {}.",
                letter.inviter, letter.roles
            ),
            format!(
                "Open the link to choose your password and a second factor (a passkey or an authenticator app). It works once, until {until}."
            ),
            "If you did not expect this, ignore this email: nothing happens unless the link is opened and a password set.".into(),
        ],
        facts: vec![],
        row_headers: vec![],
        rows: vec![],
        action: Some(("Accept the invitation".into(), identity.admin_link(letter.link_path))),
        links: vec![],
        footer: "Sent by repbook because someone with the right to do so invited this address. Reply to the person who invited you with any question.".into(),
    };
    host_envelope(identity, letter.clinic_id, now).seal(
        MessageKind::Invitation,
        None,
        vec![letter.to.to_string()],
        body,
        None,
    )
}

/// What a password reset says.
pub fn password_reset(
    identity: &MailIdentity,
    to: &str,
    link_path: &str,
    expires_at: Timestamp,
    zone: &TimeZone,
    now: Timestamp,
) -> Option<OutgoingMessage> {
    let until = when_words(expires_at, zone);
    let body = Letter {
        subject: "Reset your repbook password".into(),
        heading: "Reset your password".into(),
        paragraphs: vec![
            format!(
                "Someone asked to reset the password of the repbook account of this address. The link works once, until {until}."
            ),
            "Choosing a new password signs you out everywhere; your passkeys and authenticator app stay as they are."
                .into(),
            "If you did not ask for this, ignore this email: your password stays as it is.".into(),
        ],
        facts: vec![],
        row_headers: vec![],
        rows: vec![],
        action: Some(("Choose a new password".into(), identity.admin_link(link_path))),
        links: vec![],
        footer: "Sent by repbook because a password reset was asked for on its sign-in page.".into(),
    };
    host_envelope(identity, "", now).seal(MessageKind::PasswordReset, None, vec![to.to_string()], body, None)
}

fn host_envelope<'a>(identity: &'a MailIdentity, clinic_id: &str, now: Timestamp) -> Envelope<'a> {
    Envelope {
        identity,
        sender: "repbook".into(),
        reply_to: None,
        clinic_id: clinic_id.to_string(),
        now,
    }
}
