//! `repbook webhook list|add|update|remove|rotate|test|deliveries|retry`: a clinic's webhook endpoints, the
//! signing secret (printed once, at `add` and `rotate`), a test event, and the deliveries with what each
//! endpoint answered.

use std::path::Path;

use clap::Subcommand;
use reqwest::Method;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::{or_dash, say, show};
use super::table;
use crate::api::webhooks::{
    DeliveryList, DeliveryQuery, DeliveryView, EndpointList, EndpointView, EndpointWithSecret, Rotation,
};
use crate::domain::{EndpointPatch, EndpointRequest, EventKind};

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// A clinic's endpoints and the events each one gets.
    List {
        #[arg(long)]
        clinic: String,
    },
    /// Add an endpoint; prints its signing secret (whsec_...) this once.
    Add {
        #[arg(long)]
        clinic: String,
        /// https://... (http:// only to this machine, with --plugin-allow-loopback on the server).
        #[arg(long)]
        url: String,
        /// An event it wants (repeat, or comma-separated); none: all of them.
        #[arg(long = "event", value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Change an endpoint's URL or events, or switch it off and on.
    Update {
        #[arg(long)]
        clinic: String,
        id: String,
        #[arg(long)]
        url: Option<String>,
        #[arg(long = "event", value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// `true`: stop sending to it (what happens meanwhile is not delivered to it); `false`: start again.
        #[arg(long)]
        disabled: Option<bool>,
    },
    /// Remove an endpoint; its waiting deliveries are dropped.
    Remove {
        #[arg(long)]
        clinic: String,
        id: String,
    },
    /// A new signing secret (printed once); the current one keeps signing for the overlap.
    Rotate {
        #[arg(long)]
        clinic: String,
        id: String,
        /// Hours both secrets sign (0: the old one stops now).
        #[arg(long, default_value_t = 24)]
        overlap_hours: u32,
    },
    /// Queue a webhook.test delivery; `deliveries` shows what the endpoint answered.
    Test {
        #[arg(long)]
        clinic: String,
        id: String,
    },
    /// An endpoint's deliveries, newest first, with the endpoint's answers.
    Deliveries {
        #[arg(long)]
        clinic: String,
        id: String,
        /// Only parked ones (they wait for a person).
        #[arg(long)]
        parked: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Send a parked delivery again (the same webhook-id and body).
    Retry {
        #[arg(long)]
        clinic: String,
        id: String,
        /// The delivery's webhook-id (msg_...).
        delivery: String,
    },
}

/// Event names as typed, checked here so a typo is named before anything is sent.
fn parse_events(names: &[String]) -> Result<Vec<EventKind>, CliError> {
    names
        .iter()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
        .map(|name| {
            EventKind::SUBSCRIBABLE
                .iter()
                .copied()
                .find(|kind| kind.name() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = EventKind::SUBSCRIBABLE.iter().map(|k| k.name()).collect();
                    CliError::Local(anyhow::anyhow!(
                        "no event is called '{name}'; the events are {}",
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

pub async fn run(data_dir: &Path, args: &ClientArgs, command: WebhookCommand) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    match command {
        WebhookCommand::List { clinic } => {
            let list: EndpointList = client.get(&["clinics", &clinic, "webhooks"]).await?;
            show(args, &list, |l| print_endpoints(&l.endpoints));
        }
        WebhookCommand::Add {
            clinic,
            url,
            events,
            description,
        } => {
            let request = EndpointRequest {
                url,
                events: parse_events(&events)?,
                description,
                disabled: false,
            };
            let added: EndpointWithSecret = client.post(&["clinics", &clinic, "webhooks"], &request).await?;
            show(args, &added, print_secret);
        }
        WebhookCommand::Update {
            clinic,
            id,
            url,
            events,
            description,
            disabled,
        } => {
            let patch = EndpointPatch {
                url,
                events: if events.is_empty() {
                    None
                } else {
                    Some(parse_events(&events)?)
                },
                description,
                disabled,
            };
            let endpoint: EndpointView = client
                .call(Method::PATCH, &["clinics", &clinic, "webhooks", &id], &patch)
                .await?;
            show(args, &endpoint, |e| print_endpoints(std::slice::from_ref(e)));
        }
        WebhookCommand::Remove { clinic, id } => {
            client.delete(&["clinics", &clinic, "webhooks", &id]).await?;
            say(format!("Removed webhook endpoint {id}."));
        }
        WebhookCommand::Rotate {
            clinic,
            id,
            overlap_hours,
        } => {
            let body = Rotation {
                overlap_hours: Some(overlap_hours),
            };
            let rotated: EndpointWithSecret = client
                .post(&["clinics", &clinic, "webhooks", &id, "rotate"], &body)
                .await?;
            show(args, &rotated, print_secret);
        }
        WebhookCommand::Test { clinic, id } => {
            let delivery: DeliveryView = client.post(&["clinics", &clinic, "webhooks", &id, "test"], &()).await?;
            show(args, &delivery, |d| {
                say(format!(
                    "Queued test event {}; `repbook webhook deliveries --clinic {clinic} {id}` shows what the endpoint answers.",
                    d.id
                ))
            });
        }
        WebhookCommand::Deliveries {
            clinic,
            id,
            parked,
            limit,
        } => {
            let query = DeliveryQuery { limit: Some(limit) };
            let mut list: DeliveryList = client
                .get_query(&["clinics", &clinic, "webhooks", &id, "deliveries"], &query)
                .await?;
            if parked {
                list.deliveries
                    .retain(|d| d.state == crate::domain::DeliveryState::Parked);
            }
            show(args, &list, |l| print_deliveries(&l.deliveries));
        }
        WebhookCommand::Retry { clinic, id, delivery } => {
            let delivery: DeliveryView = client
                .post(
                    &["clinics", &clinic, "webhooks", &id, "deliveries", &delivery, "retry"],
                    &(),
                )
                .await?;
            show(args, &delivery, |d| {
                say(format!("Queued again: {} ({}).", d.id, d.kind.name()))
            });
        }
    }
    Ok(())
}

fn print_secret(added: &EndpointWithSecret) {
    say(format!(
        "Webhook endpoint {} sends to {}.\nSigning secret (shown only now; give it to the receiver): {}",
        added.endpoint.id, added.endpoint.url, added.secret
    ));
    if let Some(until) = &added.endpoint.previous_secret_retires_at {
        say(format!("The previous secret also signs until {until}."));
    }
}

fn print_endpoints(endpoints: &[EndpointView]) {
    let rows: Vec<Vec<String>> = endpoints
        .iter()
        .map(|e| {
            let events: Vec<&str> = e.events.iter().map(|k| k.name()).collect();
            vec![
                e.id.clone(),
                e.url.clone(),
                if e.disabled { "off".into() } else { "on".into() },
                if events.len() == EventKind::SUBSCRIBABLE.len() {
                    "all".into()
                } else {
                    events.join(",")
                },
                e.description.clone(),
            ]
        })
        .collect();
    table::print(&["ID", "URL", "SENDING", "EVENTS", "DESCRIPTION"], &rows);
}

fn print_deliveries(deliveries: &[DeliveryView]) {
    let rows: Vec<Vec<String>> = deliveries
        .iter()
        .map(|d| {
            let reply = d.last_reply.as_ref().map(|r| match r.status {
                Some(status) => format!("{status} {}", r.detail),
                None => r.detail.clone(),
            });
            vec![
                d.created_at.chars().take(19).collect::<String>().replace('T', " "),
                d.kind.name().to_string(),
                format!("{:?}", d.state).to_lowercase(),
                d.attempts.to_string(),
                or_dash(reply.as_ref()),
                d.id.clone(),
            ]
        })
        .collect();
    table::print(
        &["CREATED (UTC)", "TYPE", "STATE", "ATTEMPTS", "LAST REPLY", "WEBHOOK-ID"],
        &rows,
    );
}
