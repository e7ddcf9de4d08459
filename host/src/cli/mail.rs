//! `repbook mail status|test|list|retry|cancel`: how the server sends mail, a test message with the mail
//! server's answer, a clinic's messages with what the server said, and retrying or cancelling a parked one.

use std::path::Path;

use clap::Subcommand;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{or_dash, say, show};
use super::table;
use crate::api::mail::{MailTest, MailTestResult, MailView, MessageList, MessageQuery, MessageView};

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// How the server sends mail, and how many messages wait or are parked.
    Status,
    /// Send a test message now and print what the mail server said.
    Test {
        #[arg(long)]
        to: String,
    },
    /// A clinic's messages, newest first, with what the mail server said.
    List {
        #[arg(long)]
        clinic: String,
        /// Only parked messages (the ones that wait for a person).
        #[arg(long)]
        parked: bool,
    },
    /// Send a parked message again, after fixing what the mail server's reply says.
    Retry { id: String },
    /// Cancel a parked or waiting message.
    Cancel { id: String },
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: MailCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        MailCommand::Status => {
            let status: MailView = client.get(&["mail"]).await?;
            show(args, &status, |s| {
                if s.sends_mail {
                    say(format!(
                        "Mail goes to {} from {}; {} waiting, {} parked.",
                        or_dash(s.transport.as_ref()),
                        or_dash(s.from.as_ref()),
                        s.queued,
                        s.parked
                    ));
                } else {
                    say(
                        "This server sends no mail: reps' addresses are not verified. Start it with --smtp-url and --mail-from (or --mail-dir).",
                    );
                }
            });
        }
        MailCommand::Test { to } => {
            let result: MailTestResult = client.post(&["mail", "test"], &MailTest { to: to.clone() }).await?;
            show(args, &result, |r| {
                say(format!("The mail server took the message to {to}: {}", r.reply))
            });
        }
        MailCommand::List { clinic, parked } => {
            let mut query = MessageQuery::default();
            let mut list: MessageList = client.get_query(&["clinics", &clinic, "messages"], &query).await?;
            while let Some(cursor) = list.next_cursor.take() {
                query.cursor = Some(cursor);
                let page: MessageList = client.get_query(&["clinics", &clinic, "messages"], &query).await?;
                list.messages.extend(page.messages);
                list.next_cursor = page.next_cursor;
            }
            if parked {
                list.messages.retain(|m| m.state == crate::domain::MessageState::Parked);
            }
            show(args, &list, |l| print_messages(&l.messages));
        }
        MailCommand::Retry { id } => {
            let message: MessageView = client.post(&["messages", &id, "retry"], &()).await?;
            show(args, &message, |m| {
                say(format!("Queued again: {} to {}.", m.subject, m.to.join(", ")))
            });
        }
        MailCommand::Cancel { id } => {
            let message: MessageView = client.post(&["messages", &id, "cancel"], &()).await?;
            show(args, &message, |m| {
                say(format!("Cancelled: {} to {}.", m.subject, m.to.join(", ")))
            });
        }
    }
    Ok(())
}

fn print_messages(messages: &[MessageView]) {
    let rows: Vec<Vec<String>> = messages
        .iter()
        .map(|m| {
            vec![
                m.created_at.chars().take(16).collect::<String>().replace('T', " "),
                m.to.join(", "),
                m.subject.clone(),
                m.state_text.clone(),
                m.tries.to_string(),
                or_dash(m.last_reply.as_ref()),
                m.id.clone(),
            ]
        })
        .collect();
    table::print(
        &["CREATED (UTC)", "TO", "SUBJECT", "STATE", "TRIES", "LAST REPLY", "ID"],
        &rows,
    );
}
