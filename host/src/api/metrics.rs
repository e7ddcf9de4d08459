//! `/metrics` in Prometheus text format: per-clinic sync gauges read from the store, and the sync
//! worker's counters.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use super::access::AsOwner;
use super::error::ApiError;
use crate::domain::PmsSyncState;
use crate::store::AppointmentFilter;

#[utoipa::path(operation_id = "metrics_render", 
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Done", body = String, content_type = "text/plain"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn render(_role: AsOwner, State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let mut out = String::new();
    let outbox = state.store.outbox_entries()?;
    let _ = writeln!(
        out,
        "# HELP repbook_sync_outbox_entries Changes waiting to reach the PMS (the queue depth of the clinic's site).\n# TYPE repbook_sync_outbox_entries gauge"
    );
    let clinics = state.store.clinics()?;
    for clinic in &clinics {
        let n = outbox.iter().filter(|(_, e)| e.clinic_id == clinic.id).count();
        let _ = writeln!(out, "repbook_sync_outbox_entries{{clinic=\"{}\"}} {n}", clinic.id);
    }
    let _ = writeln!(
        out,
        "# HELP repbook_appointments Appointments by PMS sync state.\n# TYPE repbook_appointments gauge"
    );
    for clinic in &clinics {
        let appointments = state.store.appointments(&clinic.id, &AppointmentFilter::default())?;
        let statuses = state.store.pms_statuses(&appointments, clinic.pms.is_active())?;
        for (label, wanted) in [
            ("pending", PmsSyncState::Pending),
            ("synced", PmsSyncState::Synced),
            ("needs_attention", PmsSyncState::NeedsAttention),
            ("not_applicable", PmsSyncState::NotApplicable),
        ] {
            let n = statuses.iter().filter(|s| s.state == wanted).count();
            let _ = writeln!(
                out,
                "repbook_appointments{{clinic=\"{}\",pms_state=\"{label}\"}} {n}",
                clinic.id
            );
        }
    }
    let mail = state.store.messages_counts();
    let counters = &state.notifier.counters;
    let _ = writeln!(
        out,
        "# HELP repbook_mail_messages Messages in the notification outbox waiting to be sent, and parked (refused by the mail server, waiting for a person).\n# TYPE repbook_mail_messages gauge\nrepbook_mail_messages{{state=\"queued\"}} {}\nrepbook_mail_messages{{state=\"parked\"}} {}",
        mail.queued, mail.parked
    );
    let _ = writeln!(
        out,
        "# HELP repbook_mail_deliveries_total Attempts to send a message, by outcome.\n# TYPE repbook_mail_deliveries_total counter\nrepbook_mail_deliveries_total{{outcome=\"sent\"}} {}\nrepbook_mail_deliveries_total{{outcome=\"retried\"}} {}\nrepbook_mail_deliveries_total{{outcome=\"parked\"}} {}",
        counters.sent.load(std::sync::atomic::Ordering::Relaxed),
        counters.retried.load(std::sync::atomic::Ordering::Relaxed),
        counters.parked.load(std::sync::atomic::Ordering::Relaxed)
    );
    let hooks = &state.webhooks.counters;
    let _ = writeln!(
        out,
        "# HELP repbook_webhook_deliveries_total Attempts to deliver a webhook, by outcome.\n# TYPE repbook_webhook_deliveries_total counter\nrepbook_webhook_deliveries_total{{outcome=\"delivered\"}} {}\nrepbook_webhook_deliveries_total{{outcome=\"retried\"}} {}\nrepbook_webhook_deliveries_total{{outcome=\"parked\"}} {}",
        hooks.delivered.load(std::sync::atomic::Ordering::Relaxed),
        hooks.retried.load(std::sync::atomic::Ordering::Relaxed),
        hooks.parked.load(std::sync::atomic::Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP repbook_sync_site_paused 1 while a clinic's PMS site is offline and only probed.\n# TYPE repbook_sync_site_paused gauge"
    );
    for clinic in &clinics {
        let paused = state.sync.site_status(&clinic.id).paused as u8;
        let _ = writeln!(out, "repbook_sync_site_paused{{clinic=\"{}\"}} {paused}", clinic.id);
    }
    let _ = writeln!(
        out,
        "# HELP repbook_store_flushes_total Flushes (sled flush + fsync) the store has made; each acknowledged write waits for one that started after it.\n# TYPE repbook_store_flushes_total counter\nrepbook_store_flushes_total {}",
        state.store.flush_count()
    );
    let counters = &state.sync.counters;
    for (name, help, value) in [
        (
            "repbook_sync_delivered_total",
            "Deliveries the PMS accepted.",
            &counters.delivered,
        ),
        (
            "repbook_sync_retries_total",
            "Failed attempts scheduled for retry.",
            &counters.retried,
        ),
        (
            "repbook_sync_parked_total",
            "Deliveries parked for a person.",
            &counters.parked,
        ),
        (
            "repbook_sync_health_probes_total",
            "Health probes of paused sites.",
            &counters.probes,
        ),
        (
            "repbook_sync_reconciliations_total",
            "Reconciliation runs.",
            &counters.reconciliations,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            value.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP repbook_sync_deliveries_total Delivery attempts by outcome.\n# TYPE repbook_sync_deliveries_total counter"
    );
    for (outcome, value) in [
        ("delivered", &counters.delivered),
        ("retry", &counters.retried),
        ("parked", &counters.parked),
    ] {
        let _ = writeln!(
            out,
            "repbook_sync_deliveries_total{{outcome=\"{outcome}\"}} {}",
            value.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP repbook_sync_in_flight Deliveries being sent now, per clinic.\n# TYPE repbook_sync_in_flight gauge"
    );
    for clinic in &clinics {
        let status = state.sync.status(&clinic.id).ok();
        let _ = writeln!(
            out,
            "repbook_sync_in_flight{{clinic=\"{}\"}} {}",
            clinic.id,
            status.map(|s| s.in_flight).unwrap_or(0)
        );
    }
    state
        .app
        .availability()
        .render_metrics(&mut out, jiff::Timestamp::now());
    crate::metrics::global().render(&mut out);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
