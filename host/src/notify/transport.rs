//! Handing a finished message to the outside: an SMTP server through lettre (`smtp://host:25`,
//! `smtp://host:587?tls=required` for STARTTLS, `smtps://host:465`; rustls on the ring the rest of repbook
//! uses), or a folder of `.eml` files (`--mail-dir`, the demo's and a newcomer's way to read what would be
//! sent). A file is named after its message, so a message written again after a crash replaces itself.

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::domain::OutgoingMessage;

/// How the server is configured to send mail (flags `--smtp-url`, `--smtp-user`, `--smtp-password-file`,
/// `--smtp-ca-file`, `--mail-from`, `--mail-dir`).
#[derive(Debug, Clone, Default)]
pub struct MailSettings {
    pub smtp_url: Option<String>,
    pub smtp_user: Option<String>,
    pub smtp_password: Option<String>,
    /// A PEM file of certificate authorities to trust beside the public ones (a private mail server).
    pub smtp_ca_file: Option<PathBuf>,
    pub mail_dir: Option<PathBuf>,
    pub mail_from: Option<String>,
    /// How long one conversation with the mail server may take.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error(
        "--smtp-url '{0}' is not a mail server address; write smtp://host:25, smtp://host:587?tls=required or smtps://host:465"
    )]
    Url(String),
    #[error("--smtp-url must not carry a password; give it with --smtp-password-file (or REPBOOK_SMTP_PASSWORD)")]
    PasswordInUrl,
    #[error("--mail-from is needed to send mail: the address mail comes from, e.g. visits@harbourgp.com.au")]
    NoFrom,
    #[error("--mail-from '{0}' is not an email address")]
    BadFrom(String),
    #[error("cannot read --smtp-ca-file {path}: {message}")]
    Ca { path: String, message: String },
    #[error("cannot prepare TLS for {host}: {message}")]
    Tls { host: String, message: String },
}

/// Why a message did not go: what the server said (or why it could not be reached), and whether trying
/// again later can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub transient: bool,
    pub reply: String,
}

enum Way {
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        shown: String,
    },
    Dir(PathBuf),
}

/// The configured way out, and the address mail comes from.
pub struct Mailer {
    way: Way,
    from: Address,
    /// How long one conversation may take, start to end: lettre bounds only the connect, and a server
    /// that accepts and then never answers must not hold a send slot for ever.
    timeout: Duration,
}

/// Runs one conversation with the mail server within `limit`.
async fn within<T>(
    limit: Duration,
    conversation: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, SendFailure> {
    match tokio::time::timeout(limit, conversation).await {
        Ok(answer) => answer.map_err(|error| failure(&error)),
        Err(_) => Err(SendFailure {
            transient: true,
            reply: format!(
                "the mail server did not answer within {} s (timed out)",
                limit.as_secs()
            ),
        }),
    }
}

fn tls_parameters(host: &str, ca: Option<&PathBuf>) -> Result<TlsParameters, MailSetupError> {
    let mut builder = TlsParameters::builder(host.to_string());
    if let Some(path) = ca {
        let pem = std::fs::read(path).map_err(|e| MailSetupError::Ca {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| MailSetupError::Ca {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|e| MailSetupError::Tls {
        host: host.to_string(),
        message: e.to_string(),
    })
}

impl Mailer {
    /// The mailer the settings describe; `None` when mail is not configured (neither a server nor a folder).
    pub fn from_settings(settings: &MailSettings) -> Result<Option<Mailer>, MailSetupError> {
        if settings.smtp_url.is_none() && settings.mail_dir.is_none() {
            return Ok(None);
        }
        let from = settings.mail_from.as_deref().ok_or(MailSetupError::NoFrom)?;
        let from: Address = from
            .trim()
            .parse()
            .map_err(|_| MailSetupError::BadFrom(from.to_string()))?;
        let way = match (&settings.smtp_url, &settings.mail_dir) {
            (Some(text), _) => {
                let url = url::Url::parse(text).map_err(|_| MailSetupError::Url(text.clone()))?;
                if url.password().is_some() {
                    return Err(MailSetupError::PasswordInUrl);
                }
                let host = url
                    .host_str()
                    .ok_or_else(|| MailSetupError::Url(text.clone()))?
                    .to_string();
                let tls_mode = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_string());
                let (port, tls) = match (url.scheme(), tls_mode.as_deref()) {
                    ("smtps", _) => (
                        465,
                        Tls::Wrapper(tls_parameters(&host, settings.smtp_ca_file.as_ref())?),
                    ),
                    ("smtp", Some("required")) => (
                        587,
                        Tls::Required(tls_parameters(&host, settings.smtp_ca_file.as_ref())?),
                    ),
                    ("smtp", Some("opportunistic")) => (
                        587,
                        Tls::Opportunistic(tls_parameters(&host, settings.smtp_ca_file.as_ref())?),
                    ),
                    ("smtp", None | Some("none")) => (25, Tls::None),
                    _ => return Err(MailSetupError::Url(text.clone())),
                };
                let port = url.port().unwrap_or(port);
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
                    .port(port)
                    .tls(tls)
                    .timeout(Some(settings.timeout));
                let user = settings
                    .smtp_user
                    .clone()
                    .or_else(|| (!url.username().is_empty()).then(|| url.username().to_string()));
                if let (Some(user), Some(password)) = (user, &settings.smtp_password) {
                    builder = builder.credentials(Credentials::new(user, password.clone()));
                }
                // What logs and `doctor` may show: never the password.
                let shown = format!("{}://{host}:{port}", url.scheme());
                Way::Smtp {
                    transport: Box::new(builder.build()),
                    shown,
                }
            }
            (None, Some(dir)) => Way::Dir(dir.clone()),
            (None, None) => return Ok(None),
        };
        Ok(Some(Mailer {
            way,
            from,
            timeout: settings.timeout,
        }))
    }

    /// Where mail goes, for people: `smtp://mail.example.com:587` or the folder.
    pub fn describe(&self) -> String {
        match &self.way {
            Way::Smtp { shown, .. } => shown.clone(),
            Way::Dir(dir) => format!("the folder {}", dir.display()),
        }
    }

    pub fn from(&self) -> &Address {
        &self.from
    }

    /// Hands one message over; the answer is what the server said.
    pub async fn send(&self, message: &OutgoingMessage) -> Result<String, SendFailure> {
        let body = message.body.as_deref().ok_or_else(|| SendFailure {
            transient: false,
            reply: "the message's text is gone (it was sent or cancelled before)".into(),
        })?;
        match &self.way {
            Way::Smtp { transport, .. } => {
                let to: Vec<Address> = message.to.iter().filter_map(|a| a.parse().ok()).collect();
                let envelope = Envelope::new(Some(self.from.clone()), to).map_err(|e| SendFailure {
                    transient: false,
                    reply: format!("no address to send to: {e}"),
                })?;
                let response = within(self.timeout, transport.send_raw(&envelope, body)).await?;
                Ok(reply_text(response.code().to_string(), response.message()))
            }
            Way::Dir(dir) => write_file(dir, &message.id, body).map(|path| format!("written to {}", path.display())),
        }
    }

    /// Connects, starts TLS and signs in as sending would, and sends nothing: what `doctor` and
    /// `mail test` say about the server.
    pub async fn check(&self) -> Result<String, SendFailure> {
        match &self.way {
            Way::Smtp { transport, shown } => match within(self.timeout, transport.test_connection()).await? {
                true => Ok(format!(
                    "{shown} accepts the connection (TLS and sign-in as configured)"
                )),
                false => Err(SendFailure {
                    transient: true,
                    reply: format!("{shown} did not accept the connection"),
                }),
            },
            Way::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| SendFailure {
                    transient: false,
                    reply: format!("cannot write to {}: {e}", dir.display()),
                })?;
                Ok(format!("messages are written to {}", dir.display()))
            }
        }
    }
}

fn reply_text<'a>(code: String, lines: impl Iterator<Item = &'a str>) -> String {
    let text: Vec<&str> = lines.collect();
    format!("{code} {}", text.join(" ")).trim().to_string()
}

/// lettre's error as the answer a person reads, and whether it is worth trying again: a 4xx reply, a
/// refused or dropped connection or a timeout may pass; a 5xx reply (an address the server refuses, a
/// sign-in it rejects) needs a person.
fn failure(error: &lettre::transport::smtp::Error) -> SendFailure {
    let transient = !error.is_permanent();
    let reply = match error.status() {
        // lettre says "permanent error (550): 5.1.1 ..."; people read the server's own line.
        Some(code) => {
            let text = error.to_string();
            let said = text.split_once("): ").map_or(text.as_str(), |(_, said)| said);
            format!("{code} {said}")
        }
        None if error.is_timeout() => format!("the mail server did not answer in time ({error})"),
        None if error.is_tls() => format!("TLS with the mail server failed: {error}"),
        None => format!("cannot talk to the mail server: {error}"),
    };
    SendFailure { transient, reply }
}

fn write_file(dir: &std::path::Path, id: &str, body: &[u8]) -> Result<PathBuf, SendFailure> {
    let failed = |e: std::io::Error| SendFailure {
        transient: true,
        reply: format!("cannot write to {}: {e}", dir.display()),
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let path = dir.join(format!("{id}.eml"));
    let partial = dir.join(format!(".{id}.eml.partial"));
    std::fs::write(&partial, body).map_err(failed)?;
    std::fs::rename(&partial, &path).map_err(failed)?;
    Ok(path)
}
