//! `repbook sso add|list|remove|test|policy`: the host's sign-in providers (Microsoft Entra ID, Google, any
//! OpenID Provider) and whether passwords still sign in. The client secret comes from a file or standard
//! input (never the command line) and is never printed; `add` prints the redirect URI to register at the
//! provider and checks the provider at once.

use std::path::Path;

use clap::{Subcommand, ValueEnum};
use reqwest::Method;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{or_dash, say, show};
use super::{secret_input, table};
use crate::api::sso::SsoProviderList;
use crate::app::{PolicyRequest, PolicyView};
use crate::domain::{EmailClaim, NewSsoProvider, SsoProviderView};
use crate::identity::oidc::DiscoveryReport;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EmailClaimArg {
    /// `email` with `email_verified: true` (Google and most providers).
    EmailVerified,
    /// Entra ID: `email` with the `xms_edov` optional claim true.
    XmsEdov,
    /// Entra ID: the `upn` claim (the sign-in name).
    Upn,
}

impl From<EmailClaimArg> for EmailClaim {
    fn from(arg: EmailClaimArg) -> EmailClaim {
        match arg {
            EmailClaimArg::EmailVerified => EmailClaim::EmailVerified,
            EmailClaimArg::XmsEdov => EmailClaim::XmsEdov,
            EmailClaimArg::Upn => EmailClaim::Upn,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SsoCommand {
    /// The providers, with the redirect URI each one needs registered.
    List,
    /// Add a provider; prints the redirect URI to register there, then checks the provider.
    Add {
        /// What the button says after "Sign in with": "Microsoft 365", "Google".
        #[arg(long)]
        name: String,
        /// https://login.microsoftonline.com/TENANT-ID/v2.0, https://accounts.google.com, ...
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        client_id: String,
        /// A file holding the client secret (`-`: standard input; a terminal is asked without echo).
        #[arg(long, value_name = "FILE")]
        client_secret_file: String,
        /// Which claim vouches for a person's address at their first sign-in.
        #[arg(long, value_enum, default_value = "email-verified")]
        email_claim: EmailClaimArg,
    },
    /// Remove a provider (its people's links stay, should the same issuer come back).
    Remove { id: String },
    /// Read a provider's discovery document and keys now.
    Test { id: String },
    /// Show the sign-in policy, or change it: `--sso-only --break-glass OWNER-EMAIL`, or `--allow-passwords`.
    Policy {
        /// Single sign-on only: passwords work for the break-glass owner alone (with their passkey).
        #[arg(long, conflicts_with = "allow_passwords", requires = "break_glass")]
        sso_only: bool,
        #[arg(long)]
        allow_passwords: bool,
        /// The owner who keeps a password and passkey for when the providers are down.
        #[arg(long, value_name = "EMAIL")]
        break_glass: Option<String>,
    },
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: SsoCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        SsoCommand::List => {
            let list: SsoProviderList = client.get(&["sso", "providers"]).await?;
            show(args, &list, |l| print_providers(&l.providers));
        }
        SsoCommand::Add {
            name,
            issuer,
            client_id,
            client_secret_file,
            email_claim,
        } => {
            let client_secret = secret_input::read("client secret", &client_secret_file).map_err(CliError::Local)?;
            let request = NewSsoProvider {
                name,
                issuer,
                client_id,
                client_secret,
                email_claim: email_claim.into(),
            };
            let added: SsoProviderView = client.post(&["sso", "providers"], &request).await?;
            show(args, &added, |p| {
                say(format!("Added {} ({}).", p.name, p.id));
                say(format!(
                    "Register this redirect URI at the provider (a Web platform): {}",
                    p.redirect_uri
                ));
            });
            match client
                .post::<DiscoveryReport, _>(&["sso", "providers", &added.id, "test"], &())
                .await
            {
                Ok(report) => {
                    if !args.json {
                        print_report(&report)
                    }
                }
                Err(error) => {
                    say(format!("The provider could not be checked yet: {error}"));
                    say(format!("`repbook sso test {}` tries again.", added.id));
                }
            }
        }
        SsoCommand::Remove { id } => {
            let removed: SsoProviderView = client.delete_json(&["sso", "providers", &id]).await?;
            show(args, &removed, |p| say(format!("Removed {} ({}).", p.name, p.id)));
        }
        SsoCommand::Test { id } => {
            let report: DiscoveryReport = client.post(&["sso", "providers", &id, "test"], &()).await?;
            show(args, &report, print_report);
        }
        SsoCommand::Policy {
            sso_only,
            allow_passwords,
            break_glass,
        } => {
            let policy: PolicyView = if sso_only || allow_passwords || break_glass.is_some() {
                let current: PolicyView = client.get(&["sso", "policy"]).await?;
                let request = PolicyRequest {
                    password_sign_in: if sso_only {
                        false
                    } else {
                        allow_passwords || current.password_sign_in
                    },
                    break_glass: break_glass.or(current.break_glass),
                };
                client.call(Method::PUT, &["sso", "policy"], &request).await?
            } else {
                client.get(&["sso", "policy"]).await?
            };
            show(args, &policy, |p| {
                say(if p.password_sign_in {
                    "Passwords sign in (with a second factor), as do the providers.".to_string()
                } else {
                    "Single sign-on only: passwords work for the break-glass owner alone, with their passkey."
                        .to_string()
                });
                say(format!("Break-glass owner: {}", or_dash(p.break_glass.as_deref())));
            });
        }
    }
    Ok(())
}

fn print_providers(providers: &[SsoProviderView]) {
    let rows: Vec<Vec<String>> = providers
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.name.clone(),
                p.issuer.clone(),
                p.client_id.clone(),
                p.email_claim.words().to_string(),
                p.redirect_uri.clone(),
            ]
        })
        .collect();
    table::print(
        &["ID", "NAME", "ISSUER", "CLIENT ID", "ADDRESS FROM", "REDIRECT URI"],
        &rows,
    );
}

fn print_report(report: &DiscoveryReport) {
    say(format!("Reachable: {}", report.issuer));
    say(format!("  signs in at {}", report.authorization_endpoint));
    say(format!("  tokens from {}", report.token_endpoint));
    say(format!("  {} signing key(s) at {}", report.keys, report.jwks_uri));
    say(format!(
        "  ID token algorithms accepted: {}",
        report.algorithms.join(", ")
    ));
}
