//! `repbook demo`: the seed's whole flow on one machine with no account. Starts the Halo + Bp simulator on
//! loopback, installs the halo-bp connector, prepares a demo clinic wired to the simulator, and serves.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use crate::domain::{Clinic, NewClinic, NewPractitioner, PmsSettingsUpdate, Practitioner, new_id};
use crate::plugins::PluginConfig;
use crate::server::{self, ServerConfig};
use clap::Args;

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, env = "REPBOOK_LISTEN", default_value = crate::server::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// API token to require (default: the data dir's token file).
    #[arg(long, env = "REPBOOK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The halo-bp component to install (built by `make plugins`).
    #[arg(long)]
    pub component: Option<PathBuf>,
}

pub const DEMO_CLINIC: &str = "Harbour Medical Centre (demo)";
/// The demo's owner account, made on the first run.
pub const DEMO_OWNER: &str = "owner@harbour-medical.demo";

pub fn default_component() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release/halo_bp.wasm")
}

pub async fn run(data_dir: PathBuf, args: DemoArgs) -> anyhow::Result<()> {
    let component = args.component.clone().unwrap_or_else(default_component);
    let args_token_given = args.token.as_deref().is_some_and(|t| !t.trim().is_empty());
    let bytes = std::fs::read(&component).with_context(|| {
        format!(
            "cannot read the halo-bp component {}; build it with `make plugins`",
            component.display()
        )
    })?;
    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let seed = halo_sim::Seed::demo();
    let subscription_key = seed.subscription_keys.first().cloned().unwrap_or_default();
    let sim = halo_sim::serve(sim_listener, seed)?;

    let config = ServerConfig {
        data_dir: data_dir.clone(),
        listen: args.listen,
        token: args.token.clone(),
        plugins: PluginConfig {
            allow_loopback: true,
            ..Default::default()
        },
        sync: Default::default(),
        store: Default::default(),
        drain: std::time::Duration::from_secs(10),
        public_limits: Default::default(),
        availability: Default::default(),
        connections: Default::default(),
        tls: None,
        public: false,
        insecure_token: false,
        housekeeping_every: std::time::Duration::from_secs(60),
        audit_retention: std::time::Duration::from_secs(365 * 24 * 3600),
        test_clock_file: None,
        test_claim_delay: std::time::Duration::ZERO,
        mail: crate::notify::MailSettings {
            mail_dir: Some(data_dir.join("mail")),
            mail_from: Some("visits@harbour-medical.demo".into()),
            timeout: std::time::Duration::from_secs(20),
            ..Default::default()
        },
        public_url: None,
        admin_url: None,
        notify: Default::default(),
        webhooks: Default::default(),
        // As a clinic's server asks, a second factor for everyone; the demo's owner may put it off once.
        accounts: crate::app::AccountPolicy {
            demo_skip_enrolment: true,
            ..Default::default()
        },
        sign_in_throttle: Default::default(),
        wrong_tokens_per_minute: 20,
    };
    let running = server::start(config).await?;
    let state = &running.state;
    let installed = state.plugins.install(&bytes).await?;
    if !installed.activated {
        state.plugins.activate(&installed.name, &installed.version).await?;
    }

    let store = &state.store;
    let clinic = match store.clinics()?.into_iter().find(|c| c.name == DEMO_CLINIC) {
        Some(clinic) => clinic,
        None => {
            let clinic = Clinic::create(
                new_id(),
                NewClinic {
                    name: DEMO_CLINIC.into(),
                    timezone: "Australia/Sydney".into(),
                    state: "NSW".into(),
                    appointment_duration_minutes: 20,
                },
                jiff::Timestamp::now(),
            )?;
            store.put_clinic(&clinic)?;
            for (first, last, ahpra) in [
                ("Ana", "Ng", "MED0001234567"),
                ("Ben", "Okafor", "MED0007654321"),
                ("Chloe", "Singh", "MED0005550010"),
            ] {
                let doctor = Practitioner::create(
                    new_id(),
                    clinic.id.clone(),
                    NewPractitioner {
                        title: "Dr".into(),
                        first_name: first.into(),
                        last_name: last.into(),
                        ahpra: ahpra.into(),
                    },
                )?;
                store.put_practitioner(&doctor)?;
            }
            publish_demo_times(store, &clinic)?;
            clinic
        }
    };
    // Only the link's digest is kept: each run gives the demo link a fresh URL to print.
    let link = match store.links(&clinic.id)?.into_iter().find(|l| l.revoked_at.is_none()) {
        Some(mut link) => {
            let capability = crate::app::new_capability()?;
            link.capability_sha256 = crate::domain::digest(&capability);
            store.put_link(&link)?;
            Some(crate::domain::BookingLink::url(&capability))
        }
        None => None,
    };
    // The simulator is new on every run, so its address is set again each time.
    let update: PmsSettingsUpdate = serde_json::from_value(json!({
        "connector": "halo-bp", "send_via": "halo-link", "enabled": true, "site_id": "12345", "pairing_code": "ABC123",
        "settings": {"base_url": sim.url(), "subscription_key": subscription_key, "rep_visit_type_code": "126",
                     "ahpra_column": "REGISTRATIONNO"},
    }))?;
    store
        .update_clinic(&clinic.id, |c| {
            c.pms.site_cache.clear();
            if c.notify.notify_email.is_empty() {
                c.notify.notify_email = vec!["practice@harbour-medical.demo".into()];
            }
            c.pms.apply(update).map_err(crate::app::AppError::from)
        })
        .await?;

    // `localhost`, not the address: passkeys belong to a name, and browsers treat localhost as secure.
    let base = format!("http://localhost:{}", running.addr.port());
    let owner_link = state.app.demo_owner_link(DEMO_OWNER, "Demo Owner").await?;
    let token = state.token.to_string();
    // A token given through the environment is not in the data dir's token file: the CLI needs it too.
    let token_from_env = args_token_given;
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "repbook".into());
    let cli = format!("{exe} --data-dir {}", data_dir.display());
    let id = &clinic.id;
    if token_from_env {
        println!("\nThe host token came from REPBOOK_TOKEN; in the other terminal run: export REPBOOK_TOKEN={token}");
    }
    println!(
        "\nrepbook demo is running at {base}\nHost token (the CLI's, on this machine): {token}\nHalo + Bp simulator: {} (Bp Site ID 12345, pairing code ABC123)\n\
         Admin page: {base}/ : open this one-time link (this machine only) to sign in as the demo's owner \
         ({DEMO_OWNER}), choose a password and add a passkey or an authenticator app, as a clinic would:\n  {base}{owner_link}\n\
         A rep's booking link: {base}{}\n\
         Demo clinic {id} (Australia/Sydney), with three doctors (Dr Chloe Singh's AHPRA number is mistyped).\n\n\
         Try, in another terminal:\n  {cli} clinic validate {id}\n  {cli} staff sync --clinic {id}\n  \
         {cli} clinic set-pms {id} --location-id 1 && {cli} appt book --clinic {id} --practitioner STAFF_ID --rep-name \"Jane Citizen\" --rep-company \"Acme Pharma\" --start YYYY-MM-DDTHH:MM\n\
         Then see what Bp holds: curl {}/_sim/sites/12345/appointments\n\n\
         Mail is not sent in the demo: every message (the rep's confirmation link, booked, reminders, the practice's \
         notices) is written to {} as an .eml file; open one in a mail program or a text editor.\n",
        sim.url(),
        link.unwrap_or_default(),
        sim.url(),
        data_dir.join("mail").display()
    );
    server::shutdown_signal().await;
    running.stop().await?;
    drop(sim);
    Ok(())
}

/// What a clinic publishes for reps, so the demo's booking link has something to book: a visitor category,
/// Tuesday lunches with Dr Ng for specialist reps, Thursday lunches with the whole clinic (approval
/// required) for every rep, and one link that sees both.
fn publish_demo_times(store: &crate::store::Store, clinic: &Clinic) -> anyhow::Result<()> {
    use crate::domain::{BookingLink, NewBookingLink, NewCategory, NewPublishedTime, PublishedTime, VisitorCategory};
    let ana = store
        .staff(&clinic.id)?
        .into_iter()
        .find(|p| p.last_name == "Ng")
        .map(|p| p.id)
        .context("the demo clinic has no Dr Ng")?;
    let specialist = VisitorCategory::create(
        new_id(),
        clinic.id.clone(),
        NewCategory {
            name: "Specialist Services".into(),
        },
    )?;
    store.put_category(&specialist)?;
    let times = [
        (
            "tue",
            "12:30",
            "13:30",
            Some(ana.clone()),
            vec![specialist.id.clone()],
            false,
        ),
        ("thu", "12:00", "13:00", None, vec![], true),
    ];
    for (weekday, start, end, practitioner_id, categories, approval_required) in times {
        let new = NewPublishedTime {
            weekday: weekday.into(),
            start: start.into(),
            end: end.into(),
            slot_minutes: None,
            practitioner_id,
            categories,
            approval_required,
            from: None,
            until: None,
        };
        store.put_published_time(&PublishedTime::create(
            new_id(),
            clinic.id.clone(),
            new,
            clinic.appointment_duration_minutes,
        )?)?;
    }
    let mut with_rules = clinic.clone();
    with_rules.booking.clinic_visit_practitioner_id = Some(ana);
    with_rules.booking.visiting_instructions =
        "Please sign in at reception; lunch visits are in the staff room upstairs.".into();
    store.put_clinic(&with_rules)?;
    let link = NewBookingLink {
        label: "Demo reps".into(),
        categories: vec![specialist.id],
    };
    store.put_link(&BookingLink::create(
        new_id(),
        clinic.id.clone(),
        link,
        &crate::app::new_capability()?,
        jiff::Timestamp::now(),
    )?)?;
    Ok(())
}
