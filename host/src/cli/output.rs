//! What every client command shares for its answer: JSON for scripts (`--json`) or a summary for people,
//! every line through `table::printable`.

use serde::Serialize;

use super::ClientArgs;
use super::client::CliError;
use super::table::printable;

/// Prints `value` as JSON for scripts, or through `render` for people.
pub fn show<T: Serialize>(args: &ClientArgs, value: &T, render: impl FnOnce(&T)) {
    if args.json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    } else {
        render(value);
    }
}

/// A failure on this side (a file that cannot be read, an argument that does not parse).
pub fn local(message: String) -> CliError {
    CliError::Local(anyhow::anyhow!(message))
}

pub fn say(line: impl AsRef<str>) {
    println!("{}", printable(line.as_ref()));
}

pub fn or_dash(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}
