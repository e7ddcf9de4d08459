//! `repbook doctor [--clinic C]`: the setup guide's checks, in order, with what to do; exits 0 only when
//! everything holds.

use std::path::Path;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{local, say, show};
use crate::api::model::ClinicList;

/// Runs `doctor` on one clinic or all; `Ok(healthy)`.
pub async fn run(data_dir: &Path, args: &ClientArgs, clinic: Option<String>) -> Result<bool, CliError> {
    let client = Client::discover(data_dir, args)?;
    let ids = match clinic {
        Some(id) => vec![id],
        None => {
            let list: ClinicList = client.get(&["clinics"]).await?;
            if list.clinics.is_empty() {
                return Err(local("there are no clinics yet; add one first".into()));
            }
            list.clinics.into_iter().map(|c| c.id).collect()
        }
    };
    let mut reports = Vec::new();
    for id in ids {
        let report: crate::app::DoctorReport = client.get(&["clinics", &id, "doctor"]).await?;
        reports.push(report);
    }
    let healthy = reports.iter().all(|r| r.healthy);
    show(args, &reports, |reports| {
        for report in reports {
            print_doctor(report);
        }
    });
    Ok(healthy)
}

fn print_doctor(report: &crate::app::DoctorReport) {
    use crate::app::CheckStatus;
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
