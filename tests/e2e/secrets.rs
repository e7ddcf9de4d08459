//! Secrets at rest and on their way into repbook: the data dir is the service user's alone (fixed on start,
//! with a warning), connector secrets come from a file or standard input instead of the command line and
//! are never answered back, and a short API token is refused.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{BIN, Server, cli};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn secret_data_dir_and_store_files_are_narrowed_to_the_service_user_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let mut server = Server::start(&data).await;
        server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
        server.terminate(Duration::from_secs(20));
    }
    // An operator (or a restore from a careless copy) left it readable by everyone.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("store"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("store").join("db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let log = dir.path().join("server.log");
    let _server = Server::start_logged(&data, &[], Some(&log)).await;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("store")), 0o700);
    assert_eq!(mode(&data.join("store").join("db")), 0o600);
    assert_eq!(mode(&data.join("token")), 0o600);
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("readable by other users"), "the fix is logged: {said}");
    // Whatever the server creates later is private too (umask), e.g. the store's mark file.
    assert_eq!(mode(&data.join("store.mark")) & 0o077, 0);
}

#[tokio::test]
async fn secret_settings_come_from_a_file_or_standard_input_and_are_never_answered_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let key_file = dir.path().join("halo.key");
    std::fs::write(&key_file, "sk-from-a-file-0123456789\n").unwrap();
    let from_file = cli(
        dir.path(),
        &[
            "clinic",
            "set-pms",
            &clinic,
            "--connector",
            "halo-bp",
            "--setting-file",
            &format!("subscription_key={}", key_file.display()),
        ],
    );
    assert!(
        from_file.status.success(),
        "{}",
        String::from_utf8_lossy(&from_file.stderr)
    );

    // Standard input, as `pass show halo | repbook clinic set-pms ... --setting-file subscription_key=-`.
    let mut piped = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["clinic", "set-pms", &clinic, "--setting-file", "subscription_key=-"])
        .env_remove("REPBOOK_TOKEN")
        .env_remove("REPBOOK_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    piped
        .stdin
        .take()
        .unwrap()
        .write_all(b"sk-from-standard-input-9876543210\n")
        .unwrap();
    let piped = piped.wait_with_output().unwrap();
    assert!(piped.status.success(), "{}", String::from_utf8_lossy(&piped.stderr));

    for answer in [
        cli(dir.path(), &["clinic", "show", &clinic, "--json"]),
        cli(dir.path(), &["clinic", "show", &clinic]),
        cli(dir.path(), &["clinic", "list", "--json"]),
    ] {
        let text = String::from_utf8_lossy(&answer.stdout);
        assert!(answer.status.success());
        assert!(
            !text.contains("sk-from-a-file") && !text.contains("sk-from-standard-input"),
            "a secret was answered back: {text}"
        );
    }
    let (_, shown) = server.get(&format!("/api/v1/clinics/{clinic}")).await;
    assert!(!shown.to_string().contains("sk-from"), "{shown}");

    let empty = dir.path().join("empty.key");
    std::fs::write(&empty, "\n").unwrap();
    let refused = cli(
        dir.path(),
        &[
            "clinic",
            "set-pms",
            &clinic,
            "--setting-file",
            &format!("subscription_key={}", empty.display()),
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is empty"));
}

#[tokio::test]
async fn secret_a_short_api_token_is_refused_unless_the_operator_says_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let refused = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("REPBOOK_TOKEN", "hunter2")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("7 characters") && said.contains("at least 32") && said.contains("--insecure-token"),
        "{said}"
    );
    let server = Server::start_with_env(
        dir.path(),
        &[("REPBOOK_TOKEN", "hunter2"), ("REPBOOK_INSECURE_TOKEN", "true")],
    )
    .await;
    let (status, _) = server.get("/api/v1/clinics").await;
    assert_eq!(status, 200);
}
