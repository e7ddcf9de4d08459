//! The simulator's state: Halo sites (GUIDs, pairing, availability), their Bp databases, the faults
//! injected per Bp Site ID and how many requests each site received.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::bp::Bp;
use crate::seed::{Seed, SiteSeed};

/// Faults for one Bp Site ID. Counters (`*_next`) apply to that many requests, then clear.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// 503 before anything executes.
    pub offline: bool,
    /// 504 before anything executes.
    pub unreachable: bool,
    /// Added to every request to the site.
    pub latency_ms: u64,
    /// 429 with Retry-After for the next N requests.
    pub rate_limit_next: u32,
    pub retry_after_seconds: u32,
    /// 500 for the next N requests.
    pub error_500_next: u32,
    /// For the next N writes: execute, then answer 504 as if the site timed out.
    pub timeout_after_write_next: u32,
    /// 403 "Caller Ip Not Allowed": the integrator's IP is not on Halo's allowlist.
    pub ip_not_allowed: bool,
    /// 403 from the gateway: the integrator's call quota is used up.
    pub quota_exceeded: bool,
}

/// One command a site executed (or refused), as the integrator sent it: for tests that check how user
/// text travels and how many writes were made.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedCommand {
    pub kind: String,
    pub mode: String,
    pub text: String,
    pub parameters: Vec<LoggedParameter>,
    /// `ok`, or the SQL Server error number it failed with.
    pub outcome: String,
    pub wrote: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoggedParameter {
    pub name: String,
    pub direction: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: Option<String>,
}

pub struct Site {
    pub seed: SiteSeed,
    pub guid: String,
    pub retired_guids: Vec<String>,
    pub paired: bool,
}

pub struct Sim {
    pub keys: Vec<String>,
    pub sites: Vec<Site>,
    /// Bp databases by Bp Site ID.
    pub bps: HashMap<String, Bp>,
    pub faults: HashMap<String, Faults>,
    /// Requests received per Bp Site ID (site-addressed routes only).
    pub requests: HashMap<String, u64>,
    /// Commands received per Bp Site ID, in order.
    pub log: HashMap<String, Vec<LoggedCommand>>,
    pub integrator_id: String,
}

pub fn uuid_v4() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl Sim {
    pub fn new(seed: Seed) -> Sim {
        let mut bps = HashMap::new();
        let sites = seed
            .sites
            .into_iter()
            .map(|site| {
                if let Some(bp) = &site.bp {
                    bps.entry(site.site_id.clone()).or_insert_with(|| Bp::new(bp.clone()));
                }
                Site {
                    guid: site.guid.clone().unwrap_or_else(uuid_v4),
                    retired_guids: vec![],
                    paired: site.paired,
                    seed: site,
                }
            })
            .collect();
        Sim {
            keys: seed.subscription_keys,
            sites,
            bps,
            faults: HashMap::new(),
            requests: HashMap::new(),
            log: HashMap::new(),
            integrator_id: uuid_v4(),
        }
    }

    pub fn faults(&self, site_id: &str) -> Faults {
        self.faults.get(site_id).cloned().unwrap_or_default()
    }

    pub fn availability(&self, site: &Site) -> String {
        let faults = self.faults(&site.seed.site_id);
        if site.seed.authoritative && faults.offline {
            "offline".into()
        } else if site.seed.authoritative && faults.unreachable {
            "unreachable".into()
        } else {
            site.seed.availability.clone()
        }
    }

    /// Gives the authoritative site of a Bp Site ID a new Halo GUID (a server rebuild, say).
    pub fn change_guid(&mut self, site_id: &str) -> Option<String> {
        let site = self
            .sites
            .iter_mut()
            .find(|s| s.seed.site_id == site_id && s.seed.authoritative)?;
        let old = std::mem::replace(&mut site.guid, uuid_v4());
        site.retired_guids.push(old);
        Some(site.guid.clone())
    }
}
