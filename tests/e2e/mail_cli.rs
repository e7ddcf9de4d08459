//! Mail from the command line and `doctor`, against a real SMTP server with STARTTLS and AUTH: `repbook mail
//! status|test|list|retry` print what the server said; `doctor` checks connect, TLS and sign-in in the same
//! words; a wrong password is a problem that names the server's answer and never shows the password; bad
//! mail settings refuse to start with what to fix.

use crate::support::smtp::{self, Smtp, Tls};
use crate::support::{self, Server, env_refs, local_date_in};

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

fn text(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_cli_status_test_list_retry_and_doctor_say_what_the_server_said() {
    let smtp = Smtp::start(Tls::Starttls).await;
    let dir = tempfile::tempdir().unwrap();
    let env = smtp.env(100);
    let log = dir.path().join("server.log");
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let data = dir.path().join("data");
    let server = Server::start_logged(&data, &env_refs(&env), Some(&log)).await;
    let clinic = server
        .create_clinic("Harbour Medical Centre", "Australia/Sydney", "NSW")
        .await;
    let doctor = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;

    let (out, _) = text(&support::cli(&data, &["mail", "status"]));
    assert!(
        out.contains(&format!(
            "Mail goes to smtp://127.0.0.1:{} from {}",
            smtp.port,
            smtp::FROM
        )),
        "{out}"
    );

    // A test message: the server's answer, and the message itself in the mailbox.
    let output = support::cli(&data, &["mail", "test", "--to", "it@harbour.test"]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{out}{err}");
    assert!(out.contains("took the message to it@harbour.test: 250"), "{out}");
    let mail = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mail[0].to(), ["it@harbour.test"]);
    assert_eq!(mail[0].0["from"][0]["address"], smtp::FROM);
    // A refused address: the server's words and a failing exit.
    smtp.set(json!({"mode": "ok", "reject_to": ["typo@harbour.test"]}));
    let output = support::cli(&data, &["mail", "test", "--to", "typo@harbour.test"]);
    let (out, err) = text(&output);
    assert!(!output.status.success(), "{out}");
    assert!(err.contains("550") && err.contains("User unknown"), "{err}");

    // A parked message: listed with the reply, sent again by hand after the fix.
    let day = local_date_in("Australia/Sydney", 6);
    let (status, body) = server
        .post(
            &format!("/api/v1/clinics/{clinic}/appointments"),
            json!({"practitioner_id": doctor, "start": format!("{day}T10:00"), "duration_minutes": 15,
                   "rep": {"name": "Ty Po", "company": "Acme", "email": "typo@harbour.test"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let (out, _) = text(&support::cli(
            &data,
            &["mail", "list", "--clinic", &clinic, "--parked", "--json"],
        ));
        let listed: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        if listed["messages"].as_array().is_some_and(|m| !m.is_empty()) {
            break listed;
        }
        assert!(Instant::now() < deadline, "never parked: {out}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let parked = &listed["messages"][0];
    let (out, _) = text(&support::cli(&data, &["mail", "list", "--clinic", &clinic, "--parked"]));
    assert!(
        out.contains("typo@harbour.test") && out.contains("User unknown"),
        "{out}"
    );
    let (out, _) = text(&support::cli(&data, &["doctor", "--clinic", &clinic]));
    assert!(
        out.contains("PROBLEM") && out.contains("messages") && out.contains("typo@harbour.test"),
        "{out}"
    );
    assert!(
        out.contains("accepts the connection"),
        "doctor checks the server as sending does: {out}"
    );
    smtp.set(json!({"mode": "ok"}));
    let output = support::cli(&data, &["mail", "retry", parked["id"].as_str().unwrap()]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{out}{err}");
    assert!(out.starts_with("Queued again"), "{out}");
    let mail = smtp.wait_for(2, Duration::from_secs(20)).await;
    assert!(mail[1].subject().starts_with("Booked: "), "{}", mail[1].subject());
    let output = support::cli(&data, &["mail", "retry", parked["id"].as_str().unwrap()]);
    let (_, err) = text(&output);
    assert!(!output.status.success());
    assert!(err.contains("only a parked or waiting message"), "{err}");
    drop(server);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains(smtp::PASSWORD), "the password is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_doctor_names_a_refused_sign_in_without_showing_the_password() {
    let smtp = Smtp::start(Tls::Implicit).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-password");
    std::fs::write(&wrong, "not-the-password-123").unwrap();
    let mut env = smtp.env(100);
    for (key, value) in env.iter_mut() {
        if *key == "REPBOOK_SMTP_PASSWORD_FILE" {
            *value = wrong.display().to_string();
        }
    }
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let server = Server::start_with_env(&data, &env_refs(&env)).await;
    let clinic = server.create_clinic("Harbour", "Australia/Sydney", "NSW").await;
    let output = support::cli(&data, &["doctor", "--clinic", &clinic]);
    let (out, _) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains(" mail "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("PROBLEM") && line.contains("535"),
        "the server's refusal: {line}"
    );
    assert!(!out.contains("not-the-password-123"));
    let output = support::cli(&data, &["mail", "test", "--to", "it@harbour.test"]);
    let (_, err) = text(&output);
    assert!(err.contains("535"), "{err}");
}

#[test]
fn mail_settings_that_cannot_work_refuse_to_start_and_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let start = |args: &[&str]| {
        let output = Command::new(support::BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(args)
            .env_remove("REPBOOK_TOKEN")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} started");
        String::from_utf8_lossy(&output.stderr).to_string()
    };
    let err = start(&[
        "--smtp-url",
        "smtp://mailer:hunter2@127.0.0.1:25",
        "--mail-from",
        "a@b.test",
    ]);
    assert!(
        err.contains("must not carry a password") && !err.contains("hunter2"),
        "{err}"
    );
    let err = start(&["--smtp-url", "smtp://127.0.0.1:25"]);
    assert!(err.contains("--mail-from is needed"), "{err}");
    let err = start(&["--smtp-url", "imap://127.0.0.1:143", "--mail-from", "a@b.test"]);
    assert!(err.contains("smtp://host:587?tls=required"), "{err}");
    let err = start(&[
        "--smtp-url",
        "smtps://127.0.0.1:465",
        "--mail-from",
        "a@b.test",
        "--smtp-ca-file",
        "/nonexistent.pem",
    ]);
    assert!(err.contains("cannot read --smtp-ca-file /nonexistent.pem"), "{err}");
    let err = start(&["--mail-dir", "/tmp", "--mail-from", "not an address"]);
    assert!(err.contains("is not an email address"), "{err}");
}
