//! The systemd unit in deploy/: `systemd-analyze verify` accepts it without a single warning (when this
//! machine has systemd-analyze), and it keeps the hardening and restart policy the README promises.

use crate::support;

use std::path::Path;

fn unit() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/repbook.service")).unwrap()
}

#[test]
fn deploy_service_unit_is_hardened_and_restarts_on_failure() {
    let unit = unit();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=repbook",
        "StateDirectoryMode=0700",
        "Restart=on-failure",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "Environment=REPBOOK_DATA_DIR=/var/lib/repbook",
        "ExecStart=/usr/local/bin/repbook serve",
    ] {
        assert!(
            unit.lines().any(|l| l.trim() == line),
            "deploy/repbook.service lacks {line}"
        );
    }
    assert!(
        !unit.lines().any(|l| l.trim() == "MemoryDenyWriteExecute=yes"),
        "wasmtime compiles connectors at run time: W^X memory would stop it"
    );
}

#[test]
fn deploy_service_unit_passes_systemd_analyze_verify() {
    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!("systemd-analyze is not on this machine; skipping its verification of deploy/repbook.service");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // verify checks that ExecStart's binary exists: point it at the one cargo built.
    let unit = unit().replace("/usr/local/bin/repbook", support::BIN);
    let path = dir.path().join("repbook.service");
    std::fs::write(&path, unit).unwrap();
    let output = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && complaints.trim().is_empty(),
        "systemd-analyze verify: {complaints}"
    );
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
