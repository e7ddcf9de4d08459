//! The seed file: which Halo sites exist and what each one's Bp Premier database holds.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Subscription keys the simulated API accepts.
    pub subscription_keys: Vec<String>,
    pub sites: Vec<SiteSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSeed {
    /// The Bp Site ID (Halo's `practiceManagementSiteId`).
    pub site_id: String,
    /// Halo GUID; generated when absent.
    pub guid: Option<String>,
    #[serde(default = "yes")]
    pub authoritative: bool,
    #[serde(default = "online")]
    pub availability: String,
    #[serde(default = "active")]
    pub status: String,
    pub pairing_code: Option<String>,
    #[serde(default)]
    pub paired: bool,
    pub practice_name: String,
    #[serde(default = "halo_link_version")]
    pub halo_link_version: String,
    /// Whether this integrator's database login may SELECT from Bp's tables. Integrators normally get
    /// EXECUTE on the `BP_*` procedures only (bp-sdk.md section 1), so the default is no.
    #[serde(default)]
    pub select_permission: bool,
    /// The Bp database behind an authoritative site; non-authoritative copies have none.
    pub bp: Option<BpSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BpSeed {
    pub locations: Vec<LocationSeed>,
    pub users: Vec<UserSeed>,
    pub appointment_types: Vec<AppointmentTypeSeed>,
    /// Column of USERS holding the AHPRA registration number (unconfirmed in public sources).
    #[serde(default = "ahpra_column")]
    pub ahpra_column: String,
    #[serde(default)]
    pub away: Vec<AwaySeed>,
    /// The practitioners' sessions (when their appointment book is open), as `BP_GetAllSessions` lists them.
    #[serde(default)]
    pub sessions: Vec<SessionSeed>,
    /// Patients, by InternalID; appointments may also carry an InternalID with no record (0, for a rep visit).
    #[serde(default)]
    pub patients: Vec<PatientSeed>,
    #[serde(default = "first_record_id")]
    pub first_record_id: i64,
}

/// A recurring session: on `day_of_week` (1 = Sunday ... 7 = Saturday, SQL Server's default DATEFIRST),
/// from `start` to `end`, cut into slots of `slot_minutes`. With `weeks` > 1 it runs every `weeks` weeks, in
/// week `cycle_week` of a cycle that starts on `cycle_date`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSeed {
    pub user_id: i64,
    #[serde(default = "one")]
    pub location_id: i64,
    pub day_of_week: u8,
    /// HH:MM
    pub start: String,
    /// HH:MM
    pub end: String,
    #[serde(default = "fifteen")]
    pub slot_minutes: i64,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    #[serde(default = "one")]
    pub weeks: i64,
    #[serde(default = "one")]
    pub cycle_week: i64,
    pub cycle_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientSeed {
    pub id: i64,
    pub first_name: String,
    pub surname: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationSeed {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    pub id: i64,
    #[serde(default)]
    pub title: String,
    pub first_name: String,
    pub surname: String,
    pub ahpra: Option<String>,
    pub provider_no: Option<String>,
    #[serde(default = "yes")]
    pub has_appointments: bool,
    #[serde(default = "doctor")]
    pub group: String,
    #[serde(default = "one")]
    pub location_id: i64,
    /// USERSTATUS: 1 active, 2 inactive.
    #[serde(default = "one")]
    pub status: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointmentTypeSeed {
    pub code: i64,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwaySeed {
    pub user_id: i64,
    /// YYYY-MM-DD
    pub date: String,
}

fn yes() -> bool {
    true
}
fn online() -> String {
    "online".into()
}
fn active() -> String {
    "active".into()
}
fn halo_link_version() -> String {
    "26.202.8289".into()
}
fn ahpra_column() -> String {
    "REGISTRATIONNO".into()
}
fn first_record_id() -> i64 {
    5000
}
fn doctor() -> String {
    "Doctor".into()
}
fn one() -> i64 {
    1
}
fn fifteen() -> i64 {
    15
}

impl Seed {
    pub fn from_json(text: &str) -> Result<Seed, String> {
        serde_json::from_str(text).map_err(|e| format!("seed: {e}"))
    }

    /// The practice `repbook demo` and the tests start from.
    pub fn demo() -> Seed {
        Seed::from_json(include_str!("../seeds/demo.json")).expect("the bundled demo seed parses")
    }
}
