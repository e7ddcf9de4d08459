//! A signed-in browser: the record behind the admin page's session cookie (kept in the store, so a restart
//! signs nobody out and disabling a person signs them out everywhere at once). A session is in one stage of
//! signing in; only a `Full` one may do a person's work.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStage {
    /// The password was right; a second factor is still to come (passkey, code or recovery code).
    SecondFactor,
    /// Signed in, but the host asks for a second factor and the person has none: only enrolment is open.
    Enrol,
    /// Signed in.
    Full,
    /// The host token on the admin page of a host with no owner yet: only making the owner is open.
    Setup,
}

/// The session cookie's record, keyed by the SHA-256 of the cookie's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// A short id for "My account" (sign this one out), not the cookie.
    pub id: String,
    /// Whose; `None` for a setup session of the host token.
    pub person_id: Option<String>,
    pub stage: SessionStage,
    /// The token every state-changing request of the page carries in `X-CSRF-Token`.
    pub csrf: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute end, whatever the activity.
    pub expires_at: Timestamp,
    /// The address it was last used from.
    pub client: String,
    /// The browser, as its User-Agent names it (shortened), for "My account".
    pub device: String,
    /// The demo lets its owner skip enrolment once; this session did.
    #[serde(default)]
    pub skipped_enrolment: bool,
    /// The provider whose single sign-on opened it (none: a password or a passkey did).
    #[serde(default)]
    pub via_provider: Option<String>,
}

/// How long sessions live: idle and absolute. A session that is still signing in lives 10 minutes at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle: SignedDuration,
    pub max: SignedDuration,
}

pub const SIGNING_IN_FOR: SignedDuration = SignedDuration::from_mins(10);

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: SignedDuration::from_mins(30),
            max: SignedDuration::from_hours(12),
        }
    }
}

impl SessionRecord {
    /// Whether it still signs the browser in at `now`.
    pub fn is_live(&self, now: Timestamp, policy: SessionPolicy) -> bool {
        let idle = match self.stage {
            SessionStage::Full | SessionStage::Enrol => policy.idle,
            SessionStage::SecondFactor | SessionStage::Setup => SIGNING_IN_FOR.min(policy.idle),
        };
        now < self.expires_at && now.duration_since(self.last_seen_at) < idle
    }

    /// Seconds left before it ends by itself (idle or absolute, whichever is first).
    pub fn seconds_left(&self, now: Timestamp, policy: SessionPolicy) -> i64 {
        let idle_end = self.last_seen_at.checked_add(policy.idle).unwrap_or(self.expires_at);
        idle_end.min(self.expires_at).duration_since(now).as_secs().max(0)
    }

    /// Whether `now` is far enough from the last note of activity to write a new one (a write per request
    /// would cost a sled write each; a minute's precision is plenty against a 30-minute idle limit).
    pub fn worth_touching(&self, now: Timestamp) -> bool {
        now.duration_since(self.last_seen_at) >= SignedDuration::from_mins(1)
    }
}

/// The device as people read it: "Chrome on Linux", from a User-Agent, else its first words.
pub fn device_words(user_agent: &str) -> String {
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/"]
        .iter()
        .find(|b| user_agent.contains(*b))
        .map(|b| match *b {
            "Edg/" => "Edge",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            _ => "Safari",
        });
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => user_agent
            .chars()
            .filter(|c| !c.is_control())
            .take(40)
            .collect::<String>()
            .trim()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(stage: SessionStage) -> SessionRecord {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        SessionRecord {
            id: "S".into(),
            person_id: Some("P".into()),
            stage,
            csrf: "c".into(),
            created_at: at,
            last_seen_at: at,
            expires_at: at + SignedDuration::from_hours(12),
            client: "127.0.0.1".into(),
            device: "Chrome on Linux".into(),
            skipped_enrolment: false,
            via_provider: None,
        }
    }

    #[test]
    fn a_session_ends_when_idle_and_at_its_absolute_end() {
        let policy = SessionPolicy::default();
        let s = session(SessionStage::Full);
        assert!(s.is_live(s.created_at + SignedDuration::from_mins(29), policy));
        assert!(!s.is_live(s.created_at + SignedDuration::from_mins(30), policy));
        let mut busy = s.clone();
        busy.last_seen_at = s.created_at + SignedDuration::from_hours(12) - SignedDuration::from_mins(1);
        assert!(!busy.is_live(s.created_at + SignedDuration::from_hours(12), policy));
        let halfway = session(SessionStage::SecondFactor);
        assert!(!halfway.is_live(s.created_at + SignedDuration::from_mins(11), policy));
    }

    #[test]
    fn devices_read_as_browser_on_system() {
        assert_eq!(
            device_words(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
            ),
            "Chrome on Linux"
        );
        assert_eq!(device_words("repbook-cli"), "repbook-cli");
    }
}
