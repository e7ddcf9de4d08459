//! The `repbook` binary: logging set-up, then the CLI.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = repbook::cli::Cli::parse();
    let default_level = if matches!(
        cli.command,
        repbook::cli::Command::Serve(_) | repbook::cli::Command::Demo(_)
    ) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)))
        .with_writer(std::io::stderr)
        .init();
    repbook::cli::run(cli).await
}
