//! `repbook doctor`: checks a clinic the way the seed's troubleshooting goes, in order, and says for each
//! what is wrong and what to do. Read-only: it asks the PMS side but stores nothing (beyond what a connector
//! call always keeps, its site cache). Once the connector is missing, the checks that need it are skipped
//! rather than reported as failures of their own.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{App, AppError};
use crate::domain::{PmsLinkState, PmsSyncState};
use crate::plugins::ConnectorFailure;
use crate::store::AppointmentFilter;
use crate::sync::SyncError;

/// A PMS side whose clock is this far off breaks Halo Link's signed requests.
const MAX_CLOCK_SKEW_SECS: i64 = 60;
/// Below this much free space the store's next writes may fail.
const MIN_FREE_BYTES: u64 = 512 << 20;
const LOW_FREE_BYTES: u64 = 2 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    /// Worth knowing; sending works.
    Warning,
    /// Sending does not work, or not for everything, until someone acts.
    Problem,
    /// Not checked because an earlier check failed.
    Skipped,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Check {
    /// connector, site, site_online, location, staff, parked, clock, disk, mail, messages, webhooks.
    pub name: String,
    pub status: CheckStatus,
    pub message: String,
    /// What to do, when something is wrong.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoctorReport {
    pub clinic_id: String,
    pub clinic_name: String,
    /// Every check is ok or a warning.
    pub healthy: bool,
    pub checks: Vec<Check>,
}

fn check(name: &str, status: CheckStatus, message: impl Into<String>, fix: Option<String>) -> Check {
    Check {
        name: name.into(),
        status,
        message: message.into(),
        fix,
    }
}

fn ok(name: &str, message: impl Into<String>) -> Check {
    check(name, CheckStatus::Ok, message, None)
}

fn problem(name: &str, message: impl Into<String>, fix: impl Into<String>) -> Check {
    check(name, CheckStatus::Problem, message, Some(fix.into()))
}

fn skipped(name: &str, why: &str) -> Check {
    check(name, CheckStatus::Skipped, format!("not checked: {why}"), None)
}

/// The seed's answer when validation fails, for a Halo Link site.
const HALO_LINK_FIX: &str = "Validation fails while Halo Link is not installed or not running on the practice's \
    Bp Premier server: install Halo Link there (or start its service), check the BP Site ID in Bp Premier \
    (Setup > Configuration > Integrations), then Validate again";

impl App {
    pub async fn doctor(&self, clinic_id: &str) -> Result<DoctorReport, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let halo = clinic.pms.connector.as_deref() == Some("halo-bp");
        let mut checks = Vec::new();

        // 1. A connector chosen, installed, active and switched on.
        let connector_ok =
            match &clinic.pms.connector {
                None => {
                    checks.push(problem(
                        "connector",
                        "no PMS connector is chosen, so nothing is sent to the PMS",
                        "choose one: admin page > Practice instructions > Send appointments via, or \
                     `repbook clinic set-pms CLINIC --connector halo-bp --send-via halo-link --enable`",
                    ));
                    false
                }
                Some(name) => match self.plugins.get(name) {
                    Err(_) => {
                        checks.push(problem(
                            "connector",
                            format!("the connector '{name}' is not installed"),
                            format!(
                                "install it: admin page > Connectors, or `repbook plugin install {}.wasm`",
                                name.replace('-', "_")
                            ),
                        ));
                        false
                    }
                    Ok(plugin) if !clinic.pms.enabled => {
                        checks.push(problem(
                        "connector",
                        format!("{name} {} is installed but sending to the PMS is switched off", plugin.info.version),
                        "switch it on: admin page > Clinic information, or `repbook clinic set-pms CLINIC --enable`",
                    ));
                        false
                    }
                    Ok(plugin) => {
                        checks.push(ok(
                            "connector",
                            format!("{name} {} is installed, active and switched on", plugin.info.version),
                        ));
                        true
                    }
                },
            };

        // 2-3. The site valid, then online; 7. the PMS side's clock, from the same answers.
        let mut clock = None;
        let site_ok = if !connector_ok {
            checks.push(skipped("site", "the connector is not ready"));
            checks.push(skipped("site_online", "the connector is not ready"));
            false
        } else if clinic.pms.site_id.is_none() {
            checks.push(problem(
                "site",
                "no BP Site ID is set",
                "enter it: admin page > Clinic information, or `repbook clinic set-pms CLINIC --site-id ID`",
            ));
            checks.push(skipped("site_online", "no site"));
            false
        } else {
            match self.sync.probe(&clinic.id).await {
                Err(error) => {
                    let fix = match &error {
                        SyncError::Connector(ConnectorFailure::Auth(_)) => {
                            "check the integrator credentials (subscription key) in the connector settings".to_string()
                        }
                        SyncError::Connector(ConnectorFailure::InvalidConfig(_)) => {
                            "correct the connector settings it names, on Clinic information".to_string()
                        }
                        _ if halo => HALO_LINK_FIX.to_string(),
                        _ => "check the site settings, then Validate again".to_string(),
                    };
                    checks.push(problem("site", format!("the site did not validate: {error}"), fix));
                    checks.push(skipped("site_online", "the site did not validate"));
                    false
                }
                Ok(probe) => {
                    clock = probe.clock_offset;
                    checks.push(ok("site", format!("the site is valid: {}", probe.site.practice_name)));
                    if probe.availability == "online" {
                        checks.push(ok("site_online", "the site is online"));
                        true
                    } else {
                        checks.push(problem(
                            "site_online",
                            format!(
                                "the site is {}{}: bookings wait in repbook and go once it is back",
                                probe.availability,
                                probe.detail.map(|d| format!(" ({d})")).unwrap_or_default()
                            ),
                            if halo {
                                "Halo Link is not running or cannot reach Bp Premier on the practice's server: start \
                                 the Halo Link service and check that the Bp server is on"
                            } else {
                                "check that the PMS side is running and reachable"
                            },
                        ));
                        false
                    }
                }
            }
        };

        // 4. A practice location chosen.
        if !connector_ok {
            checks.push(skipped("location", "the connector is not ready"));
        } else if let Some(id) = clinic.pms.location_id {
            checks.push(ok(
                "location",
                format!(
                    "practice location {}",
                    clinic.pms.location_name.clone().unwrap_or_else(|| id.to_string())
                ),
            ));
        } else {
            checks.push(problem(
                "location",
                "no practice location is chosen, so appointments cannot be placed",
                "choose it: admin page > Clinic information > Practice location (offered once the site is valid), \
                 or `repbook clinic set-pms CLINIC --location-id ID`",
            ));
        }

        // 5. Every doctor matched to a PMS user.
        let staff = self.store.staff(&clinic.id)?;
        let unmatched: Vec<String> = staff
            .iter()
            .filter(|p| p.pms.state != PmsLinkState::Synced)
            .map(|p| {
                format!(
                    "{} ({}): {}",
                    p.display_name(),
                    p.ahpra,
                    p.pms
                        .reason
                        .clone()
                        .unwrap_or_else(|| "not synced yet; run Sync Staff".into())
                )
            })
            .collect();
        if staff.is_empty() {
            checks.push(problem(
                "staff",
                "no doctors yet",
                "add them with their AHPRA numbers: admin page > My medical staff",
            ));
        } else if unmatched.is_empty() {
            checks.push(ok(
                "staff",
                format!("all {} doctors are synced with the PMS", staff.len()),
            ));
        } else {
            checks.push(problem(
                "staff",
                format!(
                    "{} of {} doctors are not synced: {}",
                    unmatched.len(),
                    staff.len(),
                    unmatched.join("; ")
                ),
                "fix the AHPRA number where it is wrong (it must match exactly) and Sync Staff again, or map the \
                 doctor to a PMS user by hand: admin page > My medical staff",
            ));
        }

        // 6. Nothing parked.
        let appointments = self.store.appointments(&clinic.id, &AppointmentFilter::default())?;
        let statuses = self.store.pms_statuses(&appointments, clinic.pms.is_active())?;
        let parked: Vec<String> = appointments
            .iter()
            .zip(statuses)
            .filter(|(_, s)| s.state == PmsSyncState::NeedsAttention)
            .map(|(a, s)| format!("{} {}: {}", a.local_date, a.reference, s.reason.unwrap_or_default()))
            .collect();
        if parked.is_empty() {
            checks.push(ok("parked", "no appointment is waiting for a person"));
        } else {
            checks.push(problem(
                "parked",
                format!("{} appointment(s) need attention: {}", parked.len(), parked.join("; ")),
                "fix what each reason says, then Retry on the Sync tab (`repbook sync retry-parked --clinic CLINIC`)",
            ));
        }

        // 7. Clocks.
        match clock {
            Some(offset) if offset.as_secs().abs() > MAX_CLOCK_SKEW_SECS => checks.push(problem(
                "clock",
                format!(
                    "the PMS side's clock is {} s {} this server's; over {MAX_CLOCK_SKEW_SECS} s breaks Halo Link",
                    offset.as_secs().abs(),
                    if offset.is_negative() { "behind" } else { "ahead of" }
                ),
                "set both clocks from NTP (timedatectl set-ntp true on this server; Windows Time on the Bp server)",
            )),
            Some(offset) => checks.push(ok(
                "clock",
                format!("clocks agree within {} s", offset.as_secs().abs().max(1)),
            )),
            None if site_ok => checks.push(check(
                "clock",
                CheckStatus::Warning,
                "the PMS side sent no Date header, so the clocks could not be compared",
                None,
            )),
            None => checks.push(skipped("clock", "no answer from the PMS side")),
        }

        // 8. Space for the store.
        checks.push(disk_check(&self.data_dir));

        // 9. Mail: the server reachable as sending would reach it, and nothing refused waiting for a person.
        checks.push(match self.mail_check().await {
            None => check(
                "mail",
                CheckStatus::Warning,
                "this server sends no mail: reps' addresses are not verified and nobody is told of bookings",
                Some("start repbook with --smtp-url and --mail-from (or --mail-dir to write the messages to a folder)".into()),
            ),
            Some(Ok(said)) => ok("mail", said),
            Some(Err(reply)) => problem(
                "mail",
                format!("the mail server cannot be used: {reply}"),
                "check --smtp-url, the user and password and the server's TLS; `repbook mail test --to ADDR` shows what it says",
            ),
        });
        let parked = self.store.parked_messages(&clinic.id)?;
        if !parked.is_empty() {
            let first = &parked[0];
            checks.push(problem(
                "messages",
                format!(
                    "{} message(s) the mail server refused, e.g. to {}: {}",
                    parked.len(),
                    first.to.join(", "),
                    first.last_reply.as_deref().unwrap_or("no reply")
                ),
                "fix the address or the server, then Retry on the Messages tab (`repbook mail retry ID`), or cancel it",
            ));
        }
        // 9. No webhook delivery parked (an endpoint that refused, or three days of failures).
        let parked_hooks: Vec<crate::domain::Delivery> = self
            .store
            .clinic_deliveries(&clinic.id)?
            .into_iter()
            .filter(|d| d.state == crate::domain::DeliveryState::Parked)
            .collect();
        if let Some(first) = parked_hooks.first() {
            let url = self
                .store
                .endpoint(&clinic.id, &first.endpoint_id)
                .map(|e| e.url)
                .unwrap_or_else(|_| "a removed endpoint".into());
            checks.push(problem(
                "webhooks",
                format!(
                    "{} webhook delivery(ies) parked, e.g. {} to {url}: {}",
                    parked_hooks.len(),
                    first.kind.name(),
                    first.last.as_ref().map(|r| r.detail.as_str()).unwrap_or("no answer")
                ),
                "fix the receiver, then Send again on the Webhooks tab (`repbook webhook retry --clinic CLINIC ENDPOINT DELIVERY`)",
            ));
        }

        let healthy = checks
            .iter()
            .all(|c| matches!(c.status, CheckStatus::Ok | CheckStatus::Warning));
        Ok(DoctorReport {
            clinic_id: clinic.id,
            clinic_name: clinic.name,
            healthy,
            checks,
        })
    }
}

fn disk_check(data_dir: &Path) -> Check {
    match rustix::fs::statvfs(data_dir) {
        Err(error) => check(
            "disk",
            CheckStatus::Warning,
            format!("cannot read the free space of {}: {error}", data_dir.display()),
            None,
        ),
        Ok(stats) => {
            let free = stats.f_bavail.saturating_mul(stats.f_frsize);
            let shown = format!(
                "{:.1} GiB free for {}",
                free as f64 / (1u64 << 30) as f64,
                data_dir.display()
            );
            if free < MIN_FREE_BYTES {
                problem(
                    "disk",
                    format!("only {shown}"),
                    "free space on that disk, or move the data dir; writes fail when it is full",
                )
            } else if free < LOW_FREE_BYTES {
                check(
                    "disk",
                    CheckStatus::Warning,
                    format!("only {shown}"),
                    Some("free some space soon".into()),
                )
            } else {
                ok("disk", shown)
            }
        }
    }
}
