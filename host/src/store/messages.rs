//! The notification outbox: messages (mail to reps and to the practice) keyed by their ULID, with a
//! per-clinic index for the admin's list, a queue index the worker reads (only what waits), a parked index
//! (what waits for a person), and keys that make a scheduled message (a reminder, an agenda) go once.
//! Messages that tell of a change are written in that change's transaction (`appointments::write`); the
//! worker records each attempt here.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree, abort};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::{Store, StoreError, keys, tx_abort_error};
use crate::domain::{MessageState, OutgoingMessage};

/// What the queue index keeps of a waiting message: enough for the worker to choose what goes next
/// without reading every message's text at every wake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueHead {
    pub id: String,
    pub next_try_at: Timestamp,
    order_key: Option<String>,
}

impl QueueHead {
    fn of(message: &OutgoingMessage) -> QueueHead {
        QueueHead {
            id: message.id.clone(),
            next_try_at: message.next_try_at,
            order_key: message.order_key(),
        }
    }
}

/// The four trees a message lives in, inside a transaction.
pub(super) struct MessageTrees<'a> {
    pub messages: &'a TransactionalTree,
    pub by_clinic: &'a TransactionalTree,
    pub queue: &'a TransactionalTree,
    pub parked: &'a TransactionalTree,
}

impl MessageTrees<'_> {
    /// Writes a message and keeps its indexes in step with its state.
    pub fn put(&self, message: &OutgoingMessage) -> Result<(), ConflictableTransactionError<StoreError>> {
        let id = message.id.as_bytes();
        self.messages
            .insert(id, encode(message).map_err(ConflictableTransactionError::Abort)?)?;
        self.by_clinic
            .insert(keys::owned(&message.clinic_id, &message.id), id)?;
        match message.state {
            MessageState::Queued => self.queue.insert(
                id,
                encode(&QueueHead::of(message)).map_err(ConflictableTransactionError::Abort)?,
            )?,
            _ => self.queue.remove(id)?,
        };
        match message.state {
            MessageState::Parked => self.parked.insert(id, &[])?,
            _ => self.parked.remove(id)?,
        };
        Ok(())
    }
}

/// How many messages wait and how many are parked, for `/metrics` and `doctor`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageCounts {
    pub queued: usize,
    pub parked: usize,
}

/// What queuing does to a once-key (`mail_keys`).
#[derive(Clone, Copy)]
enum KeyChange<'a> {
    /// Queue only if the key is new, and take it.
    Claim(&'a str),
    /// Queue and let the key go.
    Forget(&'a str),
}

impl Store {
    pub(super) fn message_trees(&self) -> (&sled::Tree, &sled::Tree, &sled::Tree, &sled::Tree) {
        (
            &self.messages,
            &self.messages_by_clinic,
            &self.message_queue,
            &self.messages_parked,
        )
    }

    /// Queues messages on their own (those that tell of no stored change, such as a test).
    pub fn enqueue_messages(&self, messages: &[OutgoingMessage]) -> Result<(), StoreError> {
        self.enqueue_once(None, messages).map(|_| ())
    }

    /// Queues messages unless `key` was used before (a reminder for one visit, one day's agenda); the key
    /// and the messages are written together. Returns whether they were queued.
    pub fn enqueue_once(&self, key: Option<&str>, messages: &[OutgoingMessage]) -> Result<bool, StoreError> {
        self.enqueue_keyed(key.map(KeyChange::Claim), messages)
    }

    /// Queues messages and forgets `key` in one transaction (a problem told of is resolved; it may be
    /// told of again when it comes back).
    pub fn enqueue_forgetting(&self, key: &str, messages: &[OutgoingMessage]) -> Result<(), StoreError> {
        self.enqueue_keyed(Some(KeyChange::Forget(key)), messages).map(|_| ())
    }

    /// Queues messages with a change of a once-key in the same transaction; `false` when a key to claim
    /// was taken already (then nothing is queued).
    fn enqueue_keyed(&self, key: Option<KeyChange<'_>>, messages: &[OutgoingMessage]) -> Result<bool, StoreError> {
        let (m, c, q, p) = self.message_trees();
        let queued = (m, c, q, p, &self.mail_keys)
            .transaction(|(messages_tree, by_clinic, queue, parked, mail_keys)| {
                match key {
                    // Taken already: nothing is queued (the key is written again as it was).
                    Some(KeyChange::Claim(key)) if mail_keys.insert(key.as_bytes(), &[])?.is_some() => {
                        return Ok(false);
                    }
                    Some(KeyChange::Forget(key)) => {
                        mail_keys.remove(key.as_bytes())?;
                    }
                    _ => {}
                }
                let trees = MessageTrees {
                    messages: messages_tree,
                    by_clinic,
                    queue,
                    parked,
                };
                for message in messages {
                    trees.put(message)?;
                }
                Ok(true)
            })
            .map_err(tx_abort_error)?;
        if queued && !messages.is_empty() {
            self.message_signal.notify_one();
        }
        Ok(queued)
    }

    /// Whether a key was used (`enqueue_once`, `set_mail_key`).
    pub fn mail_key(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.mail_keys.contains_key(key.as_bytes())?)
    }

    /// Keys that start with `prefix`.
    pub fn mail_keys_with(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.mail_keys
            .scan_prefix(prefix.as_bytes())
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).to_string()))
            .collect()
    }

    pub fn message(&self, id: &str) -> Result<OutgoingMessage, StoreError> {
        match self.messages.get(id.as_bytes())? {
            Some(bytes) => decode("message", &bytes),
            None => Err(StoreError::NotFound {
                entity: "message",
                id: id.to_string(),
            }),
        }
    }

    /// The queued messages that may go next, in the order they were written: of the messages with one
    /// [`OutgoingMessage::order_key`], only the oldest queued one. Due or not; the worker picks the due.
    pub fn queue_heads(&self) -> Result<Vec<QueueHead>, StoreError> {
        let mut seen = std::collections::HashSet::new();
        let mut heads = Vec::new();
        // The queue is keyed by message id, a ULID: creation order.
        for item in self.message_queue.iter() {
            let (_, value) = item?;
            let head: QueueHead = decode("queued message", &value)?;
            if head.order_key.as_ref().is_none_or(|key| seen.insert(key.clone())) {
                heads.push(head);
            }
        }
        Ok(heads)
    }

    /// Applies `change` to a stored message and keeps its indexes in step, atomically. `NotFound` when
    /// there is no such message.
    pub fn update_message(
        &self,
        id: &str,
        change: impl Fn(&mut OutgoingMessage) -> Result<(), StoreError>,
    ) -> Result<OutgoingMessage, StoreError> {
        let (m, c, q, p) = self.message_trees();
        let updated = (m, c, q, p)
            .transaction(|(messages, by_clinic, queue, parked)| {
                let Some(bytes) = messages.get(id.as_bytes())? else {
                    return abort(StoreError::NotFound {
                        entity: "message",
                        id: id.to_string(),
                    });
                };
                let mut message: OutgoingMessage =
                    decode("message", &bytes).map_err(ConflictableTransactionError::Abort)?;
                change(&mut message).map_err(ConflictableTransactionError::Abort)?;
                let trees = MessageTrees {
                    messages,
                    by_clinic,
                    queue,
                    parked,
                };
                trees.put(&message)?;
                Ok(message)
            })
            .map_err(tx_abort_error)?;
        // Queued again, or out of the queue and so letting the next message of its visit go: the worker looks.
        self.message_signal.notify_one();
        Ok(updated)
    }

    /// A clinic's messages, newest first, after the one named (the last of the page before), at most `limit`.
    pub fn messages_of(
        &self,
        clinic_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutgoingMessage>, StoreError> {
        let prefix = keys::clinic_prefix(clinic_id);
        let upper = match before {
            Some(id) => keys::owned(clinic_id, id),
            None => {
                let mut end = prefix.clone();
                if let Some(last) = end.last_mut() {
                    *last += 1;
                }
                end
            }
        };
        let mut found = Vec::new();
        for item in self.messages_by_clinic.range(prefix..upper).rev() {
            let (_, id) = item?;
            found.push(self.message(&String::from_utf8_lossy(&id))?);
            if found.len() >= limit {
                break;
            }
        }
        Ok(found)
    }

    /// How many messages wait and how many are parked.
    pub fn messages_counts(&self) -> MessageCounts {
        MessageCounts {
            queued: self.message_queue.len(),
            parked: self.messages_parked.len(),
        }
    }

    /// The parked messages of a clinic, newest first.
    pub fn parked_messages(&self, clinic_id: &str) -> Result<Vec<OutgoingMessage>, StoreError> {
        let mut parked = Vec::new();
        for id in self.messages_parked.iter().keys() {
            let message = self.message(&String::from_utf8_lossy(&id?))?;
            if message.clinic_id == clinic_id {
                parked.push(message);
            }
        }
        parked.reverse();
        Ok(parked)
    }

    /// Woken after each commit that queued a message, so the mail worker never has to be told.
    pub fn message_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.message_signal.clone()
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::domain::MessageKind;

    fn message(id: &str, appointment: Option<&str>, to: &str) -> OutgoingMessage {
        OutgoingMessage {
            id: id.into(),
            clinic_id: "c".into(),
            appointment_id: appointment.map(str::to_string),
            kind: MessageKind::Booked,
            to: vec![to.into()],
            subject: id.into(),
            state: MessageState::Queued,
            tries: 0,
            next_try_at: Timestamp::UNIX_EPOCH,
            last_reply: None,
            created_at: Timestamp::UNIX_EPOCH,
            sent_at: None,
            body: Some(b"x".to_vec()),
        }
    }

    /// One visit's messages to one person go one at a time, in the order written; others do not wait.
    #[test]
    fn queue_heads_are_the_oldest_queued_message_of_each_visit_and_recipient() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let written = [
            message("01A", Some("visit-1"), "rep@a.test"),
            message("01B", Some("visit-1"), "rep@a.test"),
            message("01C", Some("visit-1"), "practice@c.test"),
            message("01D", None, "practice@c.test"),
            message("01E", Some("visit-2"), "rep@a.test"),
        ];
        store.enqueue_messages(&written).unwrap();
        let heads = |store: &Store| -> Vec<String> { store.queue_heads().unwrap().into_iter().map(|h| h.id).collect() };
        assert_eq!(heads(&store), ["01A", "01C", "01D", "01E"]);
        store
            .update_message("01A", |m| {
                m.state = MessageState::Sent;
                Ok(())
            })
            .unwrap();
        assert_eq!(heads(&store), ["01B", "01C", "01D", "01E"]);
    }
}
