//! Summaries for people, one per kind of answer. Every line goes through `table::printable`.

use super::table::{self, printable};
use crate::api::model::*;
use crate::api::published::{LinkView, TimeView};
use crate::domain::{AppointmentStatus, ClosedDate, PmsLinkState, PmsSyncState, Practitioner, VisitorCategory};
use crate::plugins::PluginSummary;
use crate::sync::{Delivered, ReconcileReport, SyncStatus, Validation};

fn say(line: impl AsRef<str>) {
    println!("{}", printable(line.as_ref()));
}

fn or_dash(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

pub fn clinics(clinics: &[ClinicView]) {
    let rows: Vec<Vec<String>> = clinics
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.timezone.clone(),
                format!("{:?}", c.state),
                c.appointment_duration_minutes.to_string(),
                pms_summary(&c.pms),
                c.id.clone(),
            ]
        })
        .collect();
    table::print(&["NAME", "TIME ZONE", "STATE", "MIN", "PMS", "ID"], &rows);
}

fn pms_summary(pms: &PmsView) -> String {
    match (&pms.connector, pms.enabled) {
        (None, _) => "none".into(),
        (Some(connector), enabled) => format!(
            "{connector}{}{}",
            if enabled { "" } else { " (off)" },
            if pms.validated {
                ", validated"
            } else {
                ", not validated"
            }
        ),
    }
}

pub fn clinic(clinic: &ClinicView) {
    say(format!("{} ({})", clinic.name, clinic.id));
    say(format!(
        "  time zone {}, {:?}; appointments {} min by default",
        clinic.timezone, clinic.state, clinic.appointment_duration_minutes
    ));
    let pms = &clinic.pms;
    say(format!(
        "  PMS: {}; send via {}; sync {}",
        or_dash(pms.connector.as_ref()),
        or_dash(pms.send_via.map(|v| format!("{v:?}"))),
        if pms.enabled { "on" } else { "off" }
    ));
    say(format!(
        "  site ID {}{}; {}",
        or_dash(pms.site_id.as_ref()),
        if pms.pairing_code_set {
            " (pairing code set)"
        } else {
            ""
        },
        if pms.validated {
            "validated"
        } else {
            "not validated yet"
        }
    ));
    say(format!(
        "  practice location {}",
        match (&pms.location_id, &pms.location_name) {
            (Some(id), Some(name)) => format!("{id} ({name})"),
            (Some(id), None) => id.to_string(),
            _ => "not chosen".into(),
        }
    ));
    for (name, value) in &pms.settings {
        say(format!("  setting {name} = {value}"));
    }
    if !pms.secrets_set.is_empty() {
        say(format!("  secrets set (never shown): {}", pms.secrets_set.join(", ")));
    }
    let rules = &clinic.booking;
    say(format!(
        "  rep booking: {} h lead, {} days ahead, {} open per rep{}; reps cancel up to {} h and swap up to {} h before",
        rules.booking_lead_hours,
        rules.booking_horizon_days,
        rules.max_open_bookings_per_rep,
        rules
            .company_visit_interval_weeks
            .map(|w| format!(", one visit per company per doctor every {w} weeks"))
            .unwrap_or_default(),
        rules.cancel_cutoff_hours,
        rules.swap_cutoff_hours
    ));
    say(format!(
        "  requests wait {} h for approval; {} bookings per link per day{}",
        rules.request_expiry_hours,
        rules.link_daily_cap,
        rules
            .clinic_visit_practitioner_id
            .as_ref()
            .map(|p| format!("; whole-clinic visits go to {p}'s PMS book"))
            .unwrap_or_default()
    ));
    if !rules.visiting_instructions.is_empty() {
        say(format!("  visiting instructions: {}", rules.visiting_instructions));
    }
}

pub fn validation(validation: &Validation) {
    let site = &validation.site;
    say(format!(
        "Site is valid: {} ({}{})",
        site.practice_name,
        site.availability,
        site.version
            .as_ref()
            .map(|v| format!(", version {v}"))
            .unwrap_or_default()
    ));
    if let Some(warning) = &validation.warning {
        say(format!("Warning: {warning}"));
    }
    locations(&validation.locations);
    if !validation.locations.is_empty() {
        say("Next: choose the practice location with `repbook clinic set-pms CLINIC --location-id ID`.");
    }
}

pub fn locations(locations: &[crate::plugins::contract::Location]) {
    let rows: Vec<Vec<String>> = locations
        .iter()
        .map(|l| vec![l.id.to_string(), l.name.clone()])
        .collect();
    table::print(&["LOCATION", "NAME"], &rows);
}

pub fn staff(staff: &[Practitioner]) {
    let rows: Vec<Vec<String>> = staff
        .iter()
        .map(|p| {
            vec![
                p.display_name(),
                p.ahpra.to_string(),
                link_state(p.pms.state).into(),
                or_dash(p.pms.user_id),
                p.id.clone(),
            ]
        })
        .collect();
    table::print(&["NAME", "AHPRA", "PMS", "PMS USER", "ID"], &rows);
}

fn link_state(state: PmsLinkState) -> &'static str {
    match state {
        PmsLinkState::Unsynced => "not synced yet",
        PmsLinkState::Synced => "synced",
        PmsLinkState::NotInPms => "not in the PMS",
        PmsLinkState::AhpraMismatch => "AHPRA mismatch",
        PmsLinkState::NeedsMapping => "map by hand",
    }
}

pub fn staff_sync(view: &StaffSyncView) {
    let s = &view.summary;
    say(format!(
        "{} synced, {} AHPRA mismatch, {} not in the PMS, {} to map by hand",
        s.synced, s.ahpra_mismatch, s.not_in_pms, s.needs_mapping
    ));
    for p in &view.staff {
        match (p.pms.state, &p.pms.reason) {
            (PmsLinkState::Synced, _) => say(format!(
                "  synced   {} ({}) -> PMS user {}",
                p.display_name(),
                p.ahpra,
                or_dash(p.pms.user_id)
            )),
            (state, reason) => {
                say(format!("  {:<8} {} ({})", "ACTION", p.display_name(), p.ahpra));
                say(format!(
                    "           {}: {}",
                    link_state(state),
                    or_dash(reason.as_ref())
                ));
            }
        }
    }
}

pub fn appointments(appointments: &[AppointmentView]) {
    let rows: Vec<Vec<String>> = appointments
        .iter()
        .map(|a| {
            vec![
                a.local_start.replace('T', " "),
                a.duration_minutes.to_string(),
                a.practitioner_name.clone(),
                format!("{} ({})", a.rep.name, a.rep.company),
                status(a.status).into(),
                sync_state(a.pms.state).into(),
                a.id.clone(),
            ]
        })
        .collect();
    table::print(
        &["LOCAL START", "MIN", "PRACTITIONER", "REP", "STATUS", "PMS", "ID"],
        &rows,
    );
}

fn status(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::Booked => "booked",
        AppointmentStatus::Requested => "requested",
        AppointmentStatus::Cancelled => "cancelled",
        AppointmentStatus::Declined => "declined",
        AppointmentStatus::Expired => "expired",
    }
}

fn sync_state(state: PmsSyncState) -> &'static str {
    match state {
        PmsSyncState::Pending => "pending",
        PmsSyncState::Synced => "synced",
        PmsSyncState::NeedsAttention => "needs attention",
        PmsSyncState::NotApplicable => "-",
    }
}

pub fn appointment(a: &AppointmentView) {
    say(format!(
        "{} {} for {} min with {} ({})",
        status(a.status),
        a.local_start.replace('T', " "),
        a.duration_minutes,
        a.practitioner_name,
        a.start
    ));
    say(format!(
        "  rep {} of {}{}",
        a.rep.name,
        a.rep.company,
        if a.rep.email.is_empty() {
            String::new()
        } else {
            format!(", {}", a.rep.email)
        }
    ));
    if !a.notes.is_empty() {
        say(format!("  notes: {}", a.notes));
    }
    say(format!(
        "  PMS: {}{}{}",
        sync_state(a.pms.state),
        a.pms
            .pms_id
            .as_ref()
            .map(|id| format!(", PMS id {id}"))
            .unwrap_or_default(),
        a.pms.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
    ));
    say(format!(
        "  id {} (reference {}), version {}",
        a.id, a.reference, a.version
    ));
}

pub fn resend(view: &ResendView) {
    match &view.delivered {
        Some(Delivered::Pushed { outcome }) => say(format!(
            "Sent to the PMS: {:?} (PMS id {}).",
            outcome.action, outcome.pms_id
        )),
        Some(Delivered::Cancelled) => say("Cancelled in the PMS."),
        Some(Delivered::NotSent { reason }) => say(format!("Nothing sent: {reason}.")),
        None => say("The PMS could not take it now; it stays queued and is retried by itself."),
    }
    appointment(&view.appointment);
}

pub fn sync_status(status: &SyncStatus) {
    say(format!(
        "{}: PMS sync {}, connector {}{}",
        status.clinic_name,
        if status.pms_enabled { "on" } else { "off" },
        or_dash(status.connector.as_ref()),
        if status.connector_installed {
            ""
        } else {
            " (NOT INSTALLED)"
        }
    ));
    let site = &status.site;
    let mut state = if site.paused {
        format!(
            "offline: deliveries wait; next health probe in {}",
            seconds(site.next_probe_in_ms)
        )
    } else {
        "reachable".to_string()
    };
    if let Some(ms) = site.held_for_ms {
        state.push_str(&format!("; rate limited by the PMS for {}", seconds(Some(ms))));
    }
    say(format!("Site: {state}"));
    if let Some(last) = &site.last_success {
        say(format!("  last success {last}"));
    }
    if let Some(error) = &site.last_error {
        say(format!("  last error: {error}"));
    }
    let c = &status.appointments;
    say(format!(
        "Appointments: {} synced, {} pending, {} need attention, {} without a PMS",
        c.synced, c.pending, c.needs_attention, c.not_applicable
    ));
    say(format!(
        "Queue: {} outbox entries, {} in flight{}",
        status.outbox,
        status.in_flight,
        status
            .next_retry_in_ms
            .map(|ms| format!(", next retry in {}", seconds(Some(ms))))
            .unwrap_or_default()
    ));
    if !status.parked.is_empty() {
        say("Need attention (fix the cause, then `repbook sync retry-parked` or Resend):");
        for item in &status.parked {
            say(format!(
                "  {}  {}  {}  [{}]",
                item.start, item.practitioner, item.rep, item.id
            ));
            say(format!("      {}", or_dash(item.reason.as_ref())));
        }
    }
}

fn seconds(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => format!("{:.1} s", ms as f64 / 1000.0),
        None => "-".into(),
    }
}

pub fn reconcile(report: &ReconcileReport) {
    say(format!(
        "Checked {} appointments in repbook against {} in the PMS; {} repairs.",
        report.checked_in_repbook, report.found_in_pms, report.repairs
    ));
    for (label, ids) in [
        ("missing in the PMS (re-sent)", &report.missing),
        ("at another time or length in the PMS (moved back)", &report.misplaced),
        (
            "cancelled in repbook, live in the PMS (cancelled there)",
            &report.should_be_cancelled,
        ),
        ("in the PMS more than once (extras cancelled)", &report.duplicated),
        ("unknown to repbook (cancelled in the PMS)", &report.unknown),
    ] {
        if !ids.is_empty() {
            say(format!("  {label}: {}", ids.join(", ")));
        }
    }
}

pub fn plugins(plugins: &[PluginSummary]) {
    let mut rows = Vec::new();
    for plugin in plugins {
        for version in &plugin.versions {
            rows.push(vec![
                plugin.name.clone(),
                version.version.clone(),
                if version.active { "*".into() } else { String::new() },
                version.wit_version.clone(),
                version.sha256.chars().take(12).collect(),
                if version.active {
                    plugin.allowed_hosts.join(",")
                } else {
                    String::new()
                },
            ]);
        }
    }
    table::print(&["NAME", "VERSION", "ACTIVE", "WIT", "SHA256", "ALLOWED HOSTS"], &rows);
}

pub fn installed(outcome: &Installed) {
    say(format!(
        "{}@{} {}{}",
        outcome.name,
        outcome.version,
        if outcome.already_installed {
            "was already installed"
        } else {
            "installed"
        },
        if outcome.activated {
            " and active"
        } else {
            "; activate it with `repbook plugin activate`"
        }
    ));
}

pub fn times(times: &[TimeView]) {
    let rows: Vec<Vec<String>> = times
        .iter()
        .map(|t| {
            let dates = match (&t.from, &t.until) {
                (None, None) => "every week".to_string(),
                (from, until) => format!("{} to {}", or_dash(from.as_ref()), or_dash(until.as_ref())),
            };
            vec![
                t.weekday.clone(),
                format!("{}-{}", t.start, t.end),
                t.slot_minutes.to_string(),
                t.with.clone(),
                if t.categories.is_empty() {
                    "every rep".into()
                } else {
                    t.categories.join(", ")
                },
                if t.approval_required { "approval" } else { "instant" }.into(),
                dates,
                t.id.clone(),
            ]
        })
        .collect();
    table::print(
        &["DAY", "TIME", "SLOT MIN", "WITH", "VISITORS", "BOOKING", "DATES", "ID"],
        &rows,
    );
}

pub fn closed(closed: &[ClosedDate]) {
    let rows: Vec<Vec<String>> = closed
        .iter()
        .map(|c| vec![c.date.to_string(), c.reason.clone()])
        .collect();
    table::print(&["DATE", "REASON"], &rows);
}

pub fn categories(categories: &[VisitorCategory]) {
    let rows: Vec<Vec<String>> = categories.iter().map(|c| vec![c.name.clone(), c.id.clone()]).collect();
    table::print(&["CATEGORY", "ID"], &rows);
}

pub fn links(links: &[LinkView]) {
    let rows: Vec<Vec<String>> = links
        .iter()
        .map(|l| {
            vec![
                l.label.clone(),
                if l.categories.is_empty() {
                    "every rep".into()
                } else {
                    l.categories.join(", ")
                },
                if l.revoked { "revoked".into() } else { l.url.clone() },
                l.id.clone(),
            ]
        })
        .collect();
    table::print(&["LABEL", "CATEGORIES", "URL", "ID"], &rows);
}

pub fn doctor(report: &crate::doctor::DoctorReport) {
    use crate::doctor::CheckStatus;
    say(format!("{} ({})", report.clinic_name, report.clinic_id));
    for check in &report.checks {
        let status = match check.status {
            CheckStatus::Ok => "ok",
            CheckStatus::Warning => "warning",
            CheckStatus::Problem => "PROBLEM",
            CheckStatus::Skipped => "skipped",
        };
        say(format!("  {status:<8} {:<12} {}", check.name, check.message));
        if let Some(fix) = &check.fix {
            say(format!("  {:<8} {:<12} fix: {fix}", "", ""));
        }
    }
    let problems = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Problem)
        .count();
    if problems == 0 {
        say("  Everything holds.");
    } else {
        say(format!(
            "  {problems} problem(s); the first one listed is the one to fix first."
        ));
    }
}
