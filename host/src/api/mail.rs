//! Admin routes for mail: how the server sends it, a test message, a clinic's messages with what the mail
//! server said, and retrying or cancelling a parked one.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::{AsFrontDesk, AsManager, AsOwner, AsStaff};
use super::error::ApiError;
use super::extract::{JsonBody, QueryParams};
use crate::app::state_word;
use crate::domain::{MessageKind, MessageState, OutgoingMessage};

/// How this server sends mail.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MailView {
    /// Whether mail goes out at all. Without it, nobody is mailed and a rep's booking through a link is
    /// booked at once: their address is not verified.
    pub sends_mail: bool,
    /// Where mail goes: `smtp://host:587`, or the folder the messages are written to.
    pub transport: Option<String>,
    pub from: Option<String>,
    /// Messages waiting to be sent, all clinics.
    pub queued: usize,
    /// Messages the mail server refused, waiting for a person, all clinics.
    pub parked: usize,
}

/// One message, as the admin page and `repbook mail list` show it (never its text: it may hold a rep's link).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: String,
    pub kind: MessageKind,
    pub to: Vec<String>,
    pub subject: String,
    pub state: MessageState,
    /// For people: "sent", "waiting to be sent", "parked", "cancelled".
    pub state_text: String,
    pub tries: u32,
    /// What the mail server last said (or why it could not be reached).
    pub last_reply: Option<String>,
    pub appointment_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub sent_at: Option<String>,
    /// While waiting: when the next try goes (RFC 3339).
    pub next_try_at: Option<String>,
}

impl From<&OutgoingMessage> for MessageView {
    fn from(message: &OutgoingMessage) -> Self {
        MessageView {
            id: message.id.clone(),
            kind: message.kind,
            to: message.to.clone(),
            subject: message.subject.clone(),
            state: message.state,
            state_text: state_word(message.state).to_string(),
            tries: message.tries,
            last_reply: message.last_reply.clone(),
            appointment_id: message.appointment_id.clone(),
            created_at: message.created_at.to_string(),
            sent_at: message.sent_at.map(|t| t.to_string()),
            next_try_at: (message.state == MessageState::Queued).then(|| message.next_try_at.to_string()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageList {
    pub messages: Vec<MessageView>,
    /// Present when there may be more: pass it as `cursor` for the next (older) page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    /// `next_cursor` of the page before.
    #[serde(default)]
    #[param(pattern = r"^[A-Za-z0-9]{1,64}$")]
    pub cursor: Option<String>,
    /// At most this many (default 100, at most 500).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
}

/// A test message's address.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailTest {
    #[schema(max_length = 254, pattern = "@email")]
    pub to: String,
}

/// What the mail server said to the test message.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MailTestResult {
    pub sent: bool,
    pub reply: String,
}

#[utoipa::path(operation_id = "mail_status",
    get,
    path = "/api/v1/mail",
    tag = "mail",
    summary = "How this server sends mail, and how many messages wait or are parked",
    responses((status = 200, description = "Done", body = MailView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn status(_role: AsStaff, State(state): State<AppState>) -> Json<MailView> {
    let status = state.app.mail_status();
    Json(MailView {
        sends_mail: status.sends_mail,
        transport: status.transport,
        from: status.from,
        queued: status.queued,
        parked: status.parked,
    })
}

#[utoipa::path(operation_id = "mail_test",
    post,
    path = "/api/v1/mail/test",
    tag = "mail",
    summary = "Send a test message now and answer what the mail server said",
    request_body = MailTest,
    responses((status = 200, description = "The mail server took it", body = MailTestResult), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn test(
    _role: AsOwner,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<MailTest>,
) -> Result<Json<MailTestResult>, ApiError> {
    let reply = state.app.mail_test(&body.to).await?;
    Ok(Json(MailTestResult { sent: true, reply }))
}

#[utoipa::path(operation_id = "mail_messages",
    get,
    path = "/api/v1/clinics/{clinic}/messages",
    tag = "mail",
    summary = "A clinic's messages, newest first, with what the mail server said",
    params(("clinic" = String, Path, description = "Clinic id"), MessageQuery),
    responses((status = 200, description = "Done", body = MessageList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    QueryParams(query): QueryParams<MessageQuery>,
) -> Result<Json<MessageList>, ApiError> {
    let (messages, next_cursor) = state.app.messages(&clinic_id, query.cursor.as_deref(), query.limit)?;
    Ok(Json(MessageList {
        messages: messages.iter().map(MessageView::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(operation_id = "mail_retry",
    post,
    path = "/api/v1/messages/{id}/retry",
    tag = "mail",
    summary = "Send a parked message again (after fixing what the mail server's reply says)",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, description = "Queued again", body = MessageView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn retry(
    _role: AsManager,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let message = state.app.retry_message(&id).await?;
    Ok(Json((&message).into()))
}

#[utoipa::path(operation_id = "mail_cancel",
    post,
    path = "/api/v1/messages/{id}/cancel",
    tag = "mail",
    summary = "Cancel a parked or waiting message",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, description = "Cancelled", body = MessageView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn cancel(
    _role: AsManager,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let message = state.app.cancel_message(&id).await?;
    Ok(Json((&message).into()))
}
