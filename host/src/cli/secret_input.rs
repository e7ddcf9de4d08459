//! Secrets for connector settings from a file or standard input, so they never sit on a command line
//! (visible in `ps` and kept in shell history). A terminal is asked without echo.

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::Context;

/// The value of `key` from `path` (`-`: standard input), without its trailing line break.
pub fn read(key: &str, path: &str) -> anyhow::Result<String> {
    let text = if path == "-" {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprint!("{key}: ");
            let _ = std::io::stderr().flush();
            let line = without_echo(|| {
                let mut line = String::new();
                stdin.lock().read_line(&mut line).map(|_| line)
            })
            .context("cannot read from the terminal")?;
            eprintln!();
            line
        } else {
            let mut text = String::new();
            stdin
                .lock()
                .read_to_string(&mut text)
                .with_context(|| format!("cannot read {key} from standard input"))?;
            text
        }
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {key} from {path}"))?
    };
    let value = text.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        anyhow::bail!("{key}: {} is empty", if path == "-" { "standard input" } else { path });
    }
    Ok(value)
}

/// Runs `read` with the terminal's echo off, and always turns it back on.
#[cfg(unix)]
fn without_echo<T>(read: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    // SAFETY: tcgetattr/tcsetattr on standard input with a termios value the first call filled in.
    unsafe {
        let mut original: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(libc::STDIN_FILENO, &mut original) != 0 {
            return read();
        }
        let mut quiet = original;
        quiet.c_lflag &= !libc::ECHO;
        libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet);
        let result = read();
        libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &original);
        result
    }
}

#[cfg(not(unix))]
fn without_echo<T>(read: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    read()
}
