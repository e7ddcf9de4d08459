//! Deciding what a send's answer means, apart from sending: sent, try again at a time (the server said
//! "later", or could not be reached), or park with the server's reply for a person (it said "no", or
//! "later" for longer than anyone should wait). Pure: the clock and the jitter are arguments.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::transport::SendFailure;

/// How failed sends are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    /// After this long of "later", a message is parked instead.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Sent { reply: String },
    Retry { at: Timestamp, reply: String },
    Park { reply: String },
}

/// `tries` counts attempts so far, this one included; `jitter` is uniform in [0, 1) (full jitter).
pub fn classify(
    result: &Result<String, SendFailure>,
    tries: u32,
    created_at: Timestamp,
    now: Timestamp,
    policy: &RetryPolicy,
    jitter: f64,
) -> Decision {
    let failure = match result {
        Ok(reply) => return Decision::Sent { reply: reply.clone() },
        Err(failure) => failure,
    };
    if !failure.transient {
        return Decision::Park {
            reply: failure.reply.clone(),
        };
    }
    let waited = now.duration_since(created_at);
    if waited >= SignedDuration::try_from(policy.give_up_after).unwrap_or(SignedDuration::MAX) {
        return Decision::Park {
            reply: format!(
                "gave up after {tries} tries over {} hours; the last answer was: {}",
                policy.give_up_after.as_secs() / 3600,
                failure.reply
            ),
        };
    }
    let ceiling = policy
        .base
        .saturating_mul(1u32 << tries.clamp(1, 20).saturating_sub(1))
        .min(policy.cap);
    // Never sooner than a tenth of the ceiling, so a server that refuses at once is not hammered.
    let wait = ceiling.mul_f64(0.1 + 0.9 * jitter.clamp(0.0, 1.0));
    Decision::Retry {
        at: now + SignedDuration::try_from(wait).unwrap_or(SignedDuration::ZERO),
        reply: failure.reply.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later(reply: &str) -> Result<String, SendFailure> {
        Err(SendFailure {
            transient: true,
            reply: reply.into(),
        })
    }

    #[test]
    fn a_later_is_retried_with_growing_waits_and_a_no_is_parked_with_the_reply() {
        let policy = RetryPolicy::default();
        let now: Timestamp = "2026-12-03T00:00:00Z".parse().unwrap();
        let wait = |tries| match classify(&later("451 4.3.0 try later"), tries, now, now, &policy, 0.999) {
            Decision::Retry { at, reply } => {
                assert_eq!(reply, "451 4.3.0 try later");
                at.duration_since(now).as_secs()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!((wait(1), wait(2), wait(3)), (29, 59, 119));
        assert_eq!(wait(20), 3596, "capped at an hour");
        let refused = Err(SendFailure {
            transient: false,
            reply: "550 5.1.1 no such user".into(),
        });
        assert_eq!(
            classify(&refused, 1, now, now, &policy, 0.5),
            Decision::Park {
                reply: "550 5.1.1 no such user".into()
            }
        );
        assert_eq!(
            classify(&Ok("250 OK".into()), 1, now, now, &policy, 0.5),
            Decision::Sent { reply: "250 OK".into() }
        );
    }

    #[test]
    fn three_days_of_later_park_the_message() {
        let policy = RetryPolicy::default();
        let created: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let now = created + SignedDuration::from_hours(73);
        match classify(&later("421 busy"), 40, created, now, &policy, 0.5) {
            Decision::Park { reply } => assert!(reply.contains("421 busy") && reply.contains("72 hours"), "{reply}"),
            other => panic!("{other:?}"),
        }
    }
}
