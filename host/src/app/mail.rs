//! The practice's view of its mail: the messages of a clinic (paged, newest first) with what the mail server
//! said, retrying or cancelling a parked one, and a test message that shows what the server says now.

use super::{App, AppError};
use crate::domain::{DomainError, MessageState, OutgoingMessage, check_email};
use crate::notify::compose_test;

/// Messages per page when the query does not say, and the most it may ask for.
pub const MESSAGES_PAGE: usize = 100;
pub const MESSAGES_MAX_PAGE: usize = 500;

/// How this server sends mail, for the admin page and `doctor`.
#[derive(Debug, Clone)]
pub struct MailStatus {
    /// Whether mail goes out at all (else reps' addresses are not verified).
    pub sends_mail: bool,
    /// Where it goes: `smtp://host:587` or a folder.
    pub transport: Option<String>,
    pub from: Option<String>,
    pub queued: usize,
    pub parked: usize,
}

impl App {
    pub fn mail_status(&self) -> MailStatus {
        let counts = self.store.messages_counts();
        MailStatus {
            sends_mail: self.mail.is_some(),
            transport: self.mailer.as_ref().map(|m| m.describe()),
            from: self.mail.as_ref().map(|i| i.from.clone()),
            queued: counts.queued,
            parked: counts.parked,
        }
    }

    /// A clinic's messages, newest first: a page after the message `before`, and whether there may be more.
    /// The clinic a message belongs to ("" for the host's own: a test, a password reset).
    pub fn clinic_of_message(&self, id: &str) -> Result<String, AppError> {
        Ok(self.store.message(id)?.clinic_id)
    }

    pub fn messages(
        &self,
        clinic_id: &str,
        before: Option<&str>,
        limit: Option<usize>,
    ) -> Result<(Vec<OutgoingMessage>, Option<String>), AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let limit = limit.unwrap_or(MESSAGES_PAGE);
        if !(1..=MESSAGES_MAX_PAGE).contains(&limit) {
            return Err(DomainError::Invalid {
                field: "limit",
                message: format!("limit {limit} must be between 1 and {MESSAGES_MAX_PAGE}"),
            }
            .into());
        }
        if let Some(id) = before
            && (id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(DomainError::Invalid {
                field: "cursor",
                message: "cursor is not one this server gave out; pass next_cursor from the previous page as it is"
                    .into(),
            }
            .into());
        }
        let page = self.store.messages_of(&clinic.id, before, limit)?;
        let next = (page.len() == limit)
            .then(|| page.last().map(|m| m.id.clone()))
            .flatten();
        Ok((page, next))
    }

    /// Tries a parked (or queued) message again now: after the cause was fixed (an address corrected at
    /// the rep's end, the mail server's sign-in repaired).
    pub async fn retry_message(&self, id: &str) -> Result<OutgoingMessage, AppError> {
        let now = self.now();
        let message = self.store.update_message(id, |message| match message.state {
            MessageState::Parked | MessageState::Queued if message.body.is_some() => {
                message.state = MessageState::Queued;
                message.next_try_at = now;
                Ok(())
            }
            state => Err(crate::store::StoreError::Conflict {
                code: "message_not_parked",
                message: format!(
                    "this message is {}; only a parked or waiting message can be sent again",
                    state_word(state)
                ),
            }),
        })?;
        self.store.durable().await?;
        Ok(message)
    }

    /// Cancels a parked or waiting message: it is not sent, and its text is dropped.
    pub async fn cancel_message(&self, id: &str) -> Result<OutgoingMessage, AppError> {
        let message = self.store.update_message(id, |message| match message.state {
            MessageState::Parked | MessageState::Queued => {
                message.state = MessageState::Cancelled;
                message.body = None;
                Ok(())
            }
            state => Err(crate::store::StoreError::Conflict {
                code: "message_not_parked",
                message: format!(
                    "this message is {}; only a parked or waiting message can be cancelled",
                    state_word(state)
                ),
            }),
        })?;
        self.store.durable().await?;
        Ok(message)
    }

    /// Sends a test message to `to` now (not through the outbox: a person is waiting for the answer) and
    /// answers what the mail server said.
    pub async fn mail_test(&self, to: &str) -> Result<String, AppError> {
        let to = check_email("to", to)?;
        let (Some(identity), Some(mailer)) = (&self.mail, &self.mailer) else {
            return Err(AppError::conflict(
                "mail_not_configured",
                "this server sends no mail: start it with --smtp-url (and --mail-from), or --mail-dir to write the messages to a folder",
            ));
        };
        let message = compose_test(identity, &to, self.now()).ok_or_else(|| DomainError::Invalid {
            field: "to",
            message: format!("'{to}' is not an address mail can be sent to"),
        })?;
        mailer
            .send(&message)
            .await
            .map_err(|failure| AppError::MailRefused(failure.reply))
    }

    /// What `doctor` says of the mail server: it connects, starts TLS and signs in as sending would.
    pub async fn mail_check(&self) -> Option<Result<String, String>> {
        let mailer = self.mailer.as_ref()?;
        Some(mailer.check().await.map_err(|failure| failure.reply))
    }
}

/// A message's state as people read it.
pub fn state_word(state: MessageState) -> &'static str {
    match state {
        MessageState::Queued => "waiting to be sent",
        MessageState::Sent => "sent",
        MessageState::Parked => "parked",
        MessageState::Cancelled => "cancelled",
    }
}
