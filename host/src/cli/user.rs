//! `repbook user list|invite|role|disable|enable|reset-factors` and `repbook token list|create|revoke`:
//! the clinic's people and API tokens, through the same routes as the admin page's People tab and My
//! account. A person is named by their email address or their id.

use std::path::Path;

use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::show;
use super::table;
use crate::api::people::PeopleList;
use crate::api::tokens::TokenList;
use crate::app::{InviteRequest, Invited, MadeToken, NewToken, PersonPatch};
use crate::domain::{Grant, PersonView, Role};

/// A role as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    FrontDesk,
    Manager,
    Owner,
    /// No role (at that clinic, or no longer owner).
    None,
}

impl RoleArg {
    fn role(self) -> Option<Role> {
        match self {
            RoleArg::FrontDesk => Some(Role::FrontDesk),
            RoleArg::Manager => Some(Role::Manager),
            RoleArg::Owner => Some(Role::Owner),
            RoleArg::None => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// The people you may see (an owner: everyone), with their roles.
    List {
        /// Only the people of this clinic.
        #[arg(long)]
        clinic: Option<String>,
    },
    /// Invite an address: mailed when the server sends mail, else the link is printed once to pass on.
    Invite {
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The clinic of a front-desk or manager role (none for owner).
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// Set someone's role at a clinic (`--role none` takes it away); without --clinic, owner or none.
    Role {
        person: String,
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Disable an account: signed out everywhere at once, its tokens revoked.
    Disable { person: String },
    /// Let a disabled account sign in again.
    Enable { person: String },
    /// Remove someone's passkeys, authenticator app and recovery codes: they enrol again at their next sign-in.
    ResetFactors { person: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Your tokens (an owner: everyone's).
    List,
    /// A token for a script at one clinic, with a role no larger than yours (run with a personal token).
    Create {
        #[arg(long)]
        name: String,
        /// The clinic it acts at (none for an owner's host-wide token).
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Days until it stops (default 90, at most 366).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Revoke a token: it stops at once.
    Revoke { id: String },
}

fn roles_words(person: &PersonView) -> String {
    let words: Vec<String> = person
        .roles
        .iter()
        .map(|r| match &r.clinic_name {
            Some(name) => format!("{} at {name}", r.role.words()),
            None => r.role.words().to_string(),
        })
        .collect();
    if words.is_empty() {
        "no role".into()
    } else {
        words.join("; ")
    }
}

fn print_people(people: &[PersonView]) {
    let rows: Vec<Vec<String>> = people
        .iter()
        .map(|p| {
            let factors = match (p.factors.passkeys.len(), p.factors.totp) {
                (0, false) => "none".to_string(),
                (keys, totp) => [
                    (keys > 0).then(|| format!("{keys} passkey{}", if keys == 1 { "" } else { "s" })),
                    totp.then(|| "app".to_string()),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
            };
            vec![
                p.name.clone(),
                p.email.clone(),
                roles_words(p),
                format!("{:?}", p.state).to_lowercase(),
                factors,
                p.last_sign_in_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "never".into()),
                p.id.clone(),
            ]
        })
        .collect();
    table::print(
        &[
            "NAME",
            "EMAIL",
            "ROLES",
            "STATE",
            "SECOND FACTOR",
            "LAST SIGN-IN (UTC)",
            "ID",
        ],
        &rows,
    );
}

/// The person an email address or id names, among those the caller may see.
async fn find(client: &Client, who: &str) -> Result<PersonView, CliError> {
    let list: PeopleList = client.get(&["people"]).await?;
    let wanted = crate::domain::normalize_email(who);
    list.people
        .into_iter()
        .find(|p| p.id == who || p.email == wanted)
        .ok_or_else(|| {
            CliError::Local(anyhow::anyhow!(
                "nobody you may see is {who}; `repbook user list` shows who is"
            ))
        })
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: UserCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    let changed = |person: &PersonView| {
        print_people(std::slice::from_ref(person));
    };
    match command {
        UserCommand::List { clinic } => {
            let mut list: PeopleList = client.get(&["people"]).await?;
            if let Some(clinic) = &clinic {
                list.people
                    .retain(|p| p.roles.iter().any(|r| r.clinic.as_deref() == Some(clinic.as_str())));
            }
            show(args, &list, |l| print_people(&l.people));
        }
        UserCommand::Invite {
            email,
            role,
            clinic,
            name,
        } => {
            let role = role.role().ok_or_else(|| {
                CliError::Local(anyhow::anyhow!(
                    "--role none invites nobody: give front-desk, manager or owner"
                ))
            })?;
            let body = InviteRequest {
                email,
                role,
                clinic,
                name,
            };
            let invited: Invited = client.post(&["people"], &body).await?;
            show(args, &invited, |i| {
                print_people(std::slice::from_ref(&i.person));
                match (&i.invite_url, i.mailed, i.invited) {
                    (_, _, false) => println!("They had an account already: the role is theirs now."),
                    (_, true, _) => println!("Invitation mailed to {}.", i.person.email),
                    (Some(url), _, _) => {
                        println!("Pass this link on to them (it works once; it is shown only now):");
                        println!("{}", table::printable(&client.absolute(url)));
                    }
                    (None, false, true) => {}
                }
            });
        }
        UserCommand::Role { person, clinic, role } => {
            let found = find(&client, &person).await?;
            let mut roles: Vec<Grant> = found
                .roles
                .iter()
                .map(|r| Grant {
                    clinic: r.clinic.clone(),
                    role: r.role,
                })
                .collect();
            match (&clinic, role.role()) {
                (Some(clinic), Some(Role::Owner)) => {
                    return Err(CliError::Local(anyhow::anyhow!(
                        "owner is a role over the whole host: leave --clinic {clinic} out"
                    )));
                }
                (Some(clinic), role) => {
                    roles.retain(|g| g.clinic.as_deref() != Some(clinic.as_str()));
                    roles.extend(role.map(|role| Grant {
                        clinic: Some(clinic.clone()),
                        role,
                    }));
                }
                (None, Some(Role::Owner)) => roles.push(Grant {
                    clinic: None,
                    role: Role::Owner,
                }),
                (None, None) => roles.retain(|g| g.clinic.is_some()),
                (None, Some(_)) => {
                    return Err(CliError::Local(anyhow::anyhow!(
                        "a front-desk or manager role is at a clinic: add --clinic CLINIC"
                    )));
                }
            }
            let body = PersonPatch {
                roles: Some(roles),
                ..Default::default()
            };
            let updated: PersonView = client.patch(&["people", &found.id], &body).await?;
            show(args, &updated, changed);
        }
        UserCommand::Disable { person } => {
            let found = find(&client, &person).await?;
            let updated: PersonView = client.patch(&["people", &found.id], &json!({"disabled": true})).await?;
            show(args, &updated, |p| {
                changed(p);
                println!("Disabled: signed out everywhere, tokens revoked.");
            });
        }
        UserCommand::Enable { person } => {
            let found = find(&client, &person).await?;
            let updated: PersonView = client
                .patch(&["people", &found.id], &json!({"disabled": false}))
                .await?;
            show(args, &updated, changed);
        }
        UserCommand::ResetFactors { person } => {
            let found = find(&client, &person).await?;
            let updated: PersonView = client.post(&["people", &found.id, "reset-factors"], &json!({})).await?;
            show(args, &updated, |p| {
                changed(p);
                println!("Their second factors are gone; they add a new one at their next sign-in.");
            });
        }
    }
    Ok(())
}

fn print_tokens(tokens: &TokenList) {
    let rows: Vec<Vec<String>> = tokens
        .tokens
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.role.words().to_string(),
                t.clinic.clone().unwrap_or_else(|| "every clinic".into()),
                match t.revoked_at {
                    Some(at) => format!("revoked {at}"),
                    None => format!("until {}", t.expires_at),
                },
                t.last_used_at
                    .map(|at| format!("{at} from {}", t.last_used_from.clone().unwrap_or_default()))
                    .unwrap_or_else(|| "never".into()),
                t.id.clone(),
            ]
        })
        .collect();
    table::print(&["NAME", "ACTS AS", "CLINIC", "STATE", "LAST USED (UTC)", "ID"], &rows);
}

pub async fn token(data_dir: &Path, args: &ClientArgs, command: TokenCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        TokenCommand::List => {
            let list: TokenList = client.get(&["tokens"]).await?;
            show(args, &list, print_tokens);
        }
        TokenCommand::Create {
            name,
            clinic,
            role,
            days,
        } => {
            let role = role
                .role()
                .ok_or_else(|| CliError::Local(anyhow::anyhow!("a token acts as front-desk, manager or owner")))?;
            let body = NewToken {
                name,
                clinic,
                role,
                expires_days: days,
            };
            let made: MadeToken = client.post(&["tokens"], &body).await?;
            show(args, &made, |m| {
                println!(
                    "Token \"{}\" ({}), until {}:",
                    m.view.name,
                    m.view.role.words(),
                    m.view.expires_at
                );
                println!("{}", m.token);
                println!("It is shown only now; keep it where the script reads it (REPBOOK_TOKEN).");
            });
        }
        TokenCommand::Revoke { id } => {
            let revoked: crate::domain::ApiTokenView = client.delete_json(&["tokens", &id]).await?;
            show(args, &revoked, |t| {
                println!("Revoked \"{}\": it stops at once.", t.name)
            });
        }
    }
    Ok(())
}
