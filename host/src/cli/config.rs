//! `repbook.toml` in the data dir: the server's settings for people who would rather not write long command
//! lines or unit files. One precedence, documented in README and `config show`: command-line flag, then
//! `REPBOOK_*` environment variable, then `repbook.toml`, then the built-in default. Its keys are the
//! `serve` flags' names in snake_case (`drain_secs = 20`); an unknown key is an error that names it.

use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Command, Subcommand};

use super::client::CliError;
use super::table;

pub const CONFIG_FILE: &str = "repbook.toml";

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The settings `repbook serve` would run with now, and where each comes from: flag, env (REPBOOK_*),
    /// file (repbook.toml in the data dir) or default, in that order of precedence. Secrets are hidden.
    Show {
        #[command(flatten)]
        serve: super::serve::ServeArgs,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Prints `config show`: every effective setting and where it came from.
pub fn show(
    parser: &Command,
    matches: &ArgMatches,
    file_keys: &[String],
    data_dir: &Path,
    json: bool,
) -> Result<(), CliError> {
    let Some(("config", config_matches)) = matches.subcommand() else {
        return Ok(());
    };
    let Some(("show", show_matches)) = config_matches.subcommand() else {
        return Ok(());
    };
    let mut settings = effective(parser, show_matches, file_keys);
    // In the order `serve --help` lists them (a file's keys would otherwise come last).
    let order = known_keys(parser);
    settings.sort_by_key(|s| order.iter().position(|k| *k == s.key));
    if json {
        println!("{}", serde_json::to_string_pretty(&settings).unwrap_or_default());
    } else {
        println!(
            "{}",
            table::printable(&format!(
                "Precedence: flag > REPBOOK_* env > {} > default.",
                data_dir.join(CONFIG_FILE).display()
            ))
        );
        let rows: Vec<Vec<String>> = settings
            .iter()
            .map(|s| {
                vec![
                    s.key.clone(),
                    s.value.clone().unwrap_or_else(|| "-".into()),
                    s.source.to_string(),
                ]
            })
            .collect();
        table::print(&["KEY", "VALUE", "SOURCE"], &rows);
    }
    Ok(())
}

/// The subcommands whose arguments the file supplies defaults for.
const CONFIGURED: [&[&str]; 2] = [&["serve"], &["config", "show"]];

/// Settings whose values `config show` never prints.
const SECRET_KEYS: [&str; 2] = ["token", "smtp_password"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: unknown key '{key}'; the keys are the serve flags in snake_case: {known}")]
    UnknownKey { path: PathBuf, key: String, known: String },
    #[error("{path}: '{key}' must be {expected}")]
    Type {
        path: PathBuf,
        key: String,
        expected: &'static str,
    },
}

fn serve_command(command: &Command) -> Option<&Command> {
    command.find_subcommand("serve")
}

/// The keys a file may set: every `serve` argument (flag names in snake_case).
pub fn known_keys(command: &Command) -> Vec<String> {
    serve_command(command)
        .map(|serve| {
            serve
                .get_arguments()
                .filter(|a| a.get_long().is_some() && !a.is_hide_set())
                .map(|a| a.get_id().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the data dir's file, if there is one, as (key, value) pairs in the form clap parses.
pub fn read(data_dir: &Path, command: &Command) -> Result<Vec<(String, String)>, ConfigError> {
    let path = data_dir.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let known = known_keys(command);
    let mut pairs = Vec::new();
    for (key, value) in table {
        if !known.contains(&key) {
            return Err(ConfigError::UnknownKey {
                path,
                key,
                known: known.join(", "),
            });
        }
        let text = match &value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => {
                let mut parts = Vec::new();
                for item in items {
                    match item {
                        toml::Value::String(s) => parts.push(s.clone()),
                        _ => {
                            return Err(ConfigError::Type {
                                path,
                                key,
                                expected: "a list of strings",
                            });
                        }
                    }
                }
                parts.join(",")
            }
            _ => {
                return Err(ConfigError::Type {
                    path,
                    key,
                    expected: "a string, a whole number, true/false or a list of strings",
                });
            }
        };
        pairs.push((key, text));
    }
    Ok(pairs)
}

/// Makes the file's values the defaults of the configured subcommands, so flags and environment variables
/// still win and clap still checks every value.
pub fn apply(command: Command, pairs: &[(String, String)]) -> Command {
    let mut command = command;
    for route in CONFIGURED {
        for (key, value) in pairs {
            // clap keeps defaults as &'static str; a handful of short strings, once per process.
            let value: &'static str = Box::leak(value.clone().into_boxed_str());
            command = mutate_path(command, route, key, value);
        }
    }
    command
}

fn mutate_path(command: Command, route: &[&str], key: &str, value: &'static str) -> Command {
    match route.split_first() {
        None => command.mut_arg(key, |arg| arg.default_value(value)),
        Some((first, rest)) => {
            let rest = rest.to_vec();
            let key = key.to_string();
            command.mut_subcommand(*first, move |sub| mutate_path(sub, &rest, &key, value))
        }
    }
}

/// One effective setting for `config show`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Effective {
    pub key: String,
    pub value: Option<String>,
    /// flag, env, file or default.
    pub source: &'static str,
}

/// The effective value and source of every serve setting, secrets masked.
pub fn effective(command: &Command, matches: &ArgMatches, file_keys: &[String]) -> Vec<Effective> {
    let Some(serve) = serve_command(command) else {
        return Vec::new();
    };
    let mut settings = Vec::new();
    for arg in serve.get_arguments().filter(|a| a.get_long().is_some()) {
        let id = arg.get_id().as_str();
        let raw: Option<Vec<String>> = matches
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy().to_string()).collect());
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable) => "env",
            Some(ValueSource::DefaultValue) if file_keys.iter().any(|k| k == id) => "file",
            Some(ValueSource::DefaultValue) => "default",
            _ => "unset",
        };
        let value = raw.map(|v| v.join(","));
        let value = if SECRET_KEYS.contains(&id) {
            value.map(|_| "(set; hidden)".to_string())
        } else {
            value
        };
        settings.push(Effective {
            key: id.to_string(),
            value,
            source,
        });
    }
    settings
}
