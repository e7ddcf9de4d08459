//! The CLI as a client of a running server: the same clinic → staff → booking lifecycle, tables for people,
//! `--json` for scripts, and the server's message with a non-zero exit code on errors.

use crate::support;

use crate::support::{Server, cli, local_date_in};
use serde_json::Value;

fn json_of(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

#[tokio::test]
async fn cli_books_lists_moves_and_cancels_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let _server = Server::start(dir.path()).await;
    let data = dir.path();

    let clinic = json_of(&cli(
        data,
        &[
            "clinic",
            "create",
            "--name",
            "Glenelg GP",
            "--timezone",
            "Australia/Adelaide",
            "--state",
            "SA",
            "--duration",
            "20",
            "--json",
        ],
    ));
    let clinic_id = clinic["id"].as_str().unwrap();
    let ana = json_of(&cli(
        data,
        &[
            "staff",
            "add",
            "--clinic",
            clinic_id,
            "--first-name",
            "Ana",
            "--last-name",
            "Ng",
            "--ahpra",
            "MED0001234567",
            "--json",
        ],
    ));
    let ben = json_of(&cli(
        data,
        &[
            "staff",
            "add",
            "--clinic",
            clinic_id,
            "--first-name",
            "Ben",
            "--last-name",
            "Ode",
            "--ahpra",
            "MED0007654321",
            "--json",
        ],
    ));

    let table = cli(data, &["staff", "list", "--clinic", clinic_id]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(text.contains("Dr Ana Ng") && text.contains("MED0007654321"), "{text}");

    let day = local_date_in("Australia/Adelaide", 9);
    let booked = json_of(&cli(
        data,
        &[
            "appt",
            "book",
            "--clinic",
            clinic_id,
            "--practitioner",
            ana["id"].as_str().unwrap(),
            "--rep-name",
            "O'Brien'); DROP TABLE Appointments;--",
            "--rep-company",
            "Acme Pharma",
            "--rep-email",
            "ob@acme.test",
            "--start",
            &format!("{day}T12:30"),
            "--json",
        ],
    ));
    assert_eq!(booked["duration_minutes"], 20, "clinic default length");
    assert_eq!(booked["local_seconds"], 45_000);
    assert_eq!(booked["rep"]["name"], "O'Brien'); DROP TABLE Appointments;--");
    let id = booked["id"].as_str().unwrap();

    let clash = cli(
        data,
        &[
            "appt",
            "book",
            "--clinic",
            clinic_id,
            "--practitioner",
            ana["id"].as_str().unwrap(),
            "--rep-name",
            "Sam",
            "--rep-company",
            "Beta",
            "--start",
            &format!("{day}T12:40"),
        ],
    );
    assert_eq!(clash.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&clash.stderr);
    assert!(
        stderr.contains("overlapping_appointment") && stderr.contains(id),
        "{stderr}"
    );

    json_of(&cli(
        data,
        &[
            "appt",
            "book",
            "--clinic",
            clinic_id,
            "--practitioner",
            ben["id"].as_str().unwrap(),
            "--rep-name",
            "Sam",
            "--rep-company",
            "Beta",
            "--start",
            &format!("{day}T12:40"),
            "--json",
        ],
    ));

    let listed = json_of(&cli(
        data,
        &[
            "appt", "list", "--clinic", clinic_id, "--from", &day, "--to", &day, "--json",
        ],
    ));
    assert_eq!(listed["appointments"].as_array().unwrap().len(), 2);

    let moved = json_of(&cli(
        data,
        &[
            "appt",
            "move",
            id,
            "--start",
            &format!("{day}T15:00"),
            "--duration",
            "30",
            "--json",
        ],
    ));
    assert_eq!(moved["local_seconds"], 15 * 3600);
    assert_eq!(moved["version"], 2);
    let cancelled = json_of(&cli(data, &["appt", "cancel", id, "--json"]));
    assert_eq!(cancelled["status"], "cancelled");

    let table = cli(data, &["appt", "list", "--clinic", clinic_id, "--status", "booked"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("Sam (Beta)") && !text.contains(id), "{text}");

    let unreachable = support::cli(dir.path(), &["clinic", "list", "--server", "http://127.0.0.1:9"]);
    assert_eq!(unreachable.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("is `repbook serve` running?"));

    // People read names, not ids: the table shows the doctor, and an id typed with odd characters is sent
    // encoded (it reaches the server as one path segment and is simply not found).
    let table = cli(data, &["appt", "list", "--clinic", clinic_id]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("Dr Ben Ode"), "{text}");
    let odd = cli(data, &["appt", "show", "../clinics?x=1#y"]);
    assert_eq!(odd.status.code(), Some(1), "{}", String::from_utf8_lossy(&odd.stderr));
    assert!(String::from_utf8_lossy(&odd.stderr).contains("appointment_not_found"));
}

#[test]
fn version_names_the_connector_contracts_and_serve_help_shows_only_server_options() {
    let version = support::cli(std::path::Path::new("."), &["--version"]);
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(
        text.contains("repbook:pms@0.1.0") && text.contains("repbook:pms@0.2.0"),
        "{text}"
    );
    let help = support::cli(std::path::Path::new("."), &["serve", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--listen") && text.contains("--plugin-allow-loopback"),
        "{text}"
    );
    assert!(!text.contains("--json") && !text.contains("--server"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_speaks_to_people_about_validation_staff_sync_and_sync_status() {
    let setup = support::pms::start(support::pms::seed(1), &[]).await;
    let (sim, server) = (&setup.sim, &setup.server);
    let clinic = support::pms::ready_clinic(server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    let data = setup.dir.path();
    let text = |args: &[&str]| {
        let output = cli(data, args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            !text.trim_start().starts_with('{'),
            "{args:?} printed JSON to a person: {text}"
        );
        text
    };
    let validated = text(&["clinic", "validate", &clinic.id]);
    assert!(validated.contains("Site is valid: Practice 0 (online"), "{validated}");
    assert!(
        validated.contains("LOCATION") && validated.contains("Main"),
        "{validated}"
    );
    let synced = text(&["staff", "sync", "--clinic", &clinic.id]);
    assert!(synced.contains("2 synced") && synced.contains("Dr Ana Ng"), "{synced}");
    let day = local_date_in("Australia/Sydney", 9);
    cli(
        data,
        &[
            "appt",
            "book",
            "--clinic",
            &clinic.id,
            "--practitioner",
            &clinic.doctors[0].0,
            "--rep-name",
            "Jane",
            "--rep-company",
            "Acme",
            "--start",
            &format!("{day}T09:00"),
        ],
    );
    support::pms::wait_drained(server, &clinic.id, std::time::Duration::from_secs(20)).await;
    let status = text(&["sync", "status", "--clinic", &clinic.id]);
    assert!(status.contains("PMS sync on, connector halo-bp"), "{status}");
    assert!(status.contains("1 synced, 0 pending"), "{status}");
    let listed = text(&["appt", "list", "--clinic", &clinic.id]);
    assert!(listed.contains("Dr Ana Ng") && listed.contains("synced"), "{listed}");
    let json = cli(data, &["sync", "status", "--clinic", &clinic.id, "--json"]);
    let value: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["appointments"]["synced"], 1);
}

fn text_of(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[tokio::test]
async fn cli_publishes_times_for_categories_makes_links_and_runs_the_approval_queue() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let data = dir.path();
    let clinic = server.create_clinic("Fremantle GP", "Australia/Perth", "WA").await;
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;

    let added = text_of(&cli(
        data,
        &["category", "add", "--clinic", &clinic, "--name", "Specialist Services"],
    ));
    assert!(added.contains("Specialist Services"), "{added}");
    // Categories by name; the unknown one is named with the ones the clinic has.
    let day = local_date_in("Australia/Perth", 5);
    let weekday = support::booking::weekday(&day);
    let refused = cli(
        data,
        &[
            "times",
            "add",
            "--clinic",
            &clinic,
            "--weekday",
            weekday,
            "--start",
            "12:00",
            "--end",
            "13:00",
            "--category",
            "Specialist Servces",
        ],
    );
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("Specialist Servces") && message.contains("it has: Specialist Services"),
        "{message}"
    );
    let time = json_of(&cli(
        data,
        &[
            "times",
            "add",
            "--clinic",
            &clinic,
            "--weekday",
            weekday,
            "--start",
            "12:00",
            "--end",
            "13:00",
            "--slot-minutes",
            "30",
            "--practitioner",
            &ana,
            "--category",
            "specialist services",
            "--approval-required",
            "--json",
        ],
    ));
    assert_eq!(time["with"], "Dr Ana Ng");
    assert_eq!(time["categories"].as_array().unwrap().len(), 1);
    let listed = text_of(&cli(data, &["times", "list", "--clinic", &clinic]));
    assert!(
        listed.contains(&format!("{weekday}  12:00-13:00")) && listed.contains("approval"),
        "{listed}"
    );

    let link = text_of(&cli(
        data,
        &[
            "link",
            "create",
            "--clinic",
            &clinic,
            "--label",
            "Specialists",
            "--category",
            "Specialist Services",
        ],
    ));
    let url = link
        .lines()
        .find_map(|l| l.strip_prefix("Give reps this URL: "))
        .unwrap_or_else(|| panic!("{link}"))
        .to_string();
    assert!(
        url.starts_with(&format!("{}/book/", server.base)),
        "a full URL to hand out: {url}"
    );

    // A rep requests a time; staff see it in the queue and approve it from the CLI.
    let path = url.trim_start_matches(&server.base).to_string();
    let (status, booked) = support::booking::book(
        &server,
        &path,
        &format!("{day}T12:30"),
        Some(&ana),
        support::booking::rep("Ria", "Acme", "ria@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{booked}");
    let queue = text_of(&cli(
        data,
        &["appt", "list", "--clinic", &clinic, "--status", "requested"],
    ));
    assert!(queue.contains("Ria (Acme)") && queue.contains("requested"), "{queue}");
    let id = json_of(&cli(
        data,
        &["appt", "list", "--clinic", &clinic, "--status", "requested", "--json"],
    ))["appointments"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let approved = text_of(&cli(data, &["appt", "approve", &id]));
    assert!(approved.starts_with("booked"), "{approved}");
    let again = cli(data, &["appt", "decline", &id]);
    assert_eq!(again.status.code(), Some(1), "the server refuses, the CLI says so");

    let closed = text_of(&cli(
        data,
        &[
            "closed",
            "add",
            "--clinic",
            &clinic,
            "--date",
            &day,
            "--reason",
            "Staff training",
        ],
    ));
    assert!(closed.contains("Staff training"), "{closed}");
    let (_, open) = support::booking::public_get(&server, &format!("{path}/slots?from={day}&to={day}")).await;
    assert_eq!(open["slots"], serde_json::json!([]), "a closed day offers nothing");

    let revoked = text_of(&cli(
        data,
        &[
            "link",
            "revoke",
            "--clinic",
            &clinic,
            json_of(&cli(data, &["link", "list", "--clinic", &clinic, "--json"]))["links"][0]["id"]
                .as_str()
                .unwrap(),
        ],
    ));
    assert!(revoked.contains("Revoked"), "{revoked}");
    let links = text_of(&cli(data, &["link", "list", "--clinic", &clinic]));
    assert!(links.contains("revoked"), "{links}");

    let rules = json_of(&cli(
        data,
        &[
            "clinic",
            "update",
            &clinic,
            "--booking-lead-hours",
            "48",
            "--company-visit-interval-weeks",
            "6",
            "--visiting-instructions",
            "Sign in at reception",
            "--json",
        ],
    ));
    assert_eq!(rules["booking_lead_hours"], 48);
    assert_eq!(rules["company_visit_interval_weeks"], 6);
    let rules = json_of(&cli(
        data,
        &[
            "clinic",
            "update",
            &clinic,
            "--company-visit-interval-weeks",
            "0",
            "--json",
        ],
    ));
    assert_eq!(rules["company_visit_interval_weeks"], serde_json::Value::Null);
    assert_eq!(rules["visiting_instructions"], "Sign in at reception");
}

#[test]
fn cli_config_file_env_and_flags_apply_in_one_order_and_secrets_stay_hidden() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("repbook.toml"),
        "drain_secs = 25\nsync_concurrency = 7\nplugin_hosts = [\"api.haloconnect.io\", \"api.stage.haloconnect.io\"]\ntoken = \"a-very-long-token-from-the-config-file-0123456789\"\n",
    )
    .unwrap();
    let show = |env: &[(&str, &str)], flags: &[&str]| {
        let mut command = std::process::Command::new(support::BIN);
        command
            .arg("--data-dir")
            .arg(dir.path())
            .args(["config", "show", "--json"])
            .args(flags);
        for key in [
            "REPBOOK_TOKEN",
            "REPBOOK_DRAIN_SECS",
            "REPBOOK_SYNC_CONCURRENCY",
            "REPBOOK_LISTEN",
        ] {
            command.env_remove(key);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(!text.contains("a-very-long-token"), "a secret was printed: {text}");
        let settings = json_of(&output);
        let find = |key: &str| {
            let s = settings.as_array().unwrap().iter().find(|s| s["key"] == key).unwrap();
            (
                s["value"].as_str().unwrap_or("-").to_string(),
                s["source"].as_str().unwrap().to_string(),
            )
        };
        (
            find("drain_secs"),
            find("sync_concurrency"),
            find("plugin_hosts"),
            find("token"),
            find("listen"),
        )
    };
    let (drain, concurrency, hosts, token, listen) = show(&[], &[]);
    assert_eq!(drain, ("25".into(), "file".into()));
    assert_eq!(concurrency, ("7".into(), "file".into()));
    assert_eq!(
        hosts,
        ("api.haloconnect.io,api.stage.haloconnect.io".into(), "file".into())
    );
    assert_eq!(token, ("(set; hidden)".into(), "file".into()));
    assert_eq!(listen, ("127.0.0.1:7878".into(), "default".into()));
    let (drain, concurrency, ..) = show(&[("REPBOOK_DRAIN_SECS", "30")], &[]);
    assert_eq!(drain, ("30".into(), "env".into()), "env beats the file");
    assert_eq!(concurrency.1, "file");
    let (drain, ..) = show(&[("REPBOOK_DRAIN_SECS", "30")], &["--drain-secs", "40"]);
    assert_eq!(drain, ("40".into(), "flag".into()), "a flag beats env and file");

    // A wrong key or value is an error that names it, and the server does not start on it.
    std::fs::write(dir.path().join("repbook.toml"), "drain_secs = 25\ncolour = \"blue\"\n").unwrap();
    let output = cli(dir.path(), &["config", "show"]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("unknown key 'colour'") && message.contains("drain_secs"),
        "{message}"
    );
    let output = cli(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(2), "serve refuses the file too");
    std::fs::write(dir.path().join("repbook.toml"), "drain_secs = \"soon\"\n").unwrap();
    let output = cli(dir.path(), &["config", "show"]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("soon") && message.contains("drain-secs"), "{message}");
}

#[tokio::test]
async fn cli_serve_takes_its_settings_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("repbook.toml"),
        "public_writes_per_minute = 1\nlog_format = \"json\"\n",
    )
    .unwrap();
    let server = Server::start(dir.path()).await;
    // One write a minute from the file: the second rep write is refused before it is even read.
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let response = client
            .post(format!("{}/book/nothing/bookings", server.base))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, vec![400, 429]);
}
