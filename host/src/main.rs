//! The `repbook` binary: logging set-up, then the CLI.

use std::process::ExitCode;

use repbook::cli::{Command, LogFormat};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our output goes away (`| head`).
    #[cfg(unix)]
    // SAFETY: `signal` only sets the process's disposition for SIGPIPE back to the default; no memory is
    // shared with it and nothing in this process relies on SIGPIPE being ignored.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let parsed = repbook::cli::parse();
    let (default_level, format) = match &parsed.cli.command {
        Command::Serve(args) => ("info", args.log_format),
        #[cfg(feature = "demo")]
        Command::Demo(_) => ("info", LogFormat::Text),
        _ => ("warn", LogFormat::Text),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(false).init(),
    }
    repbook::cli::run(parsed).await
}
