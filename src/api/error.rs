//! The one place errors become HTTP responses, in the JSON shape of SPEC §2:
//! `{"error": {"code", "message", "field"}}`.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::chat::replies::answer::Post;
use crate::chat::replies::links::LinkError;
use crate::chat::routing::triggers::TriggerError;
use crate::chat::settings::SettingsError;
use crate::chat::trigger::Kind;
use crate::chat::{ChatError, UNAVAILABLE_TEXT};
use crate::delivery::log::LogError;
use crate::delivery::preview::PreviewError;
use crate::events::EventError;
use crate::incidents::IncidentError;
use crate::schedules::ScheduleError;
use crate::sources::SourceError;
use crate::store::StoreError;
use crate::tokens::{AuthError, TokenError};
use crate::validation::Invalid;
use crate::vars::VarError;
use crate::webhooks::WebhookError;

/// What a `503` asks the client to wait before trying again.
const RETRY_AFTER_SECONDS: &str = "5";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `malformed`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `payload_too_large`, `unsupported_media_type`, `validation_failed`, ...
    code: &'static str,
    message: String,
    /// The offending field, as a dotted path, when one is to blame.
    field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message).with_field(field)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// Well-formed but invalid; the message starts with the field, as in `name: must not be empty`.
    pub fn validation(field: &str, reason: impl fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("{field}: {reason}"),
        )
        .with_field(field)
    }

    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// Logs the cause and answers with a message that reveals nothing of it.
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the details",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            ));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                field: self.field.clone(),
            },
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        // Also when the pool's wait ran out because every connection is busy.
        if error.is_unavailable() {
            tracing::warn!(%error, "a request found the database unavailable");
            ApiError::unavailable("the database is unavailable; try again shortly")
        } else {
            ApiError::internal(&error)
        }
    }
}

/// The answer to a chat request (`/hooks/outgoing`, `/hooks/slash`) that needed the database
/// while it was away, shaped for what the chat server does with it (chat-protocols.md §4.2,
/// §6.4, §7; Mattermost's `DoCommandRequest` and `TriggerWebhook`):
///
/// - A slash command gets `200` with an ephemeral text. Mattermost accepts exactly `200`; for
///   any other status it shows the user only "Command with a trigger of … returned response
///   503" and keeps the body for its log; Slack likewise shows a generic failure. Neither
///   retries a slash command, so a `503` would tell the user less and gain nothing.
/// - An outgoing webhook gets `503` with `Retry-After`, the usual error body, and a `text`.
///   Mattermost ignores the status and posts `text` (so the channel learns the trigger was not
///   handled instead of hearing nothing; the unknown `error` key is ignored); Slack retries a
///   non-`200` outgoing webhook, which is what an outage wants.
pub fn chat_unavailable(kind: Kind, cause: &ChatError) -> HttpResponse {
    tracing::warn!(error = %cause, ?kind, "a chat request found the database unavailable");
    match kind {
        Kind::Slash => HttpResponse::Ok().json(Post {
            response_type: Some("ephemeral".to_owned()),
            text: Some(UNAVAILABLE_TEXT.to_owned()),
            ..Post::default()
        }),
        Kind::Outgoing => HttpResponse::ServiceUnavailable()
            .insert_header((
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            ))
            .json(OutgoingUnavailable {
                text: UNAVAILABLE_TEXT,
                error: ErrorDetail {
                    code: "unavailable",
                    message: UNAVAILABLE_TEXT.to_owned(),
                    field: None,
                },
            }),
    }
}

/// The error body of SPEC §2 with the `text` an outgoing webhook's answer posts.
#[derive(Serialize)]
struct OutgoingUnavailable {
    text: &'static str,
    error: ErrorDetail,
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::InvalidName(reason) => ApiError::validation("name", reason),
            TokenError::NameTaken(_) => ApiError::conflict("name", error.to_string()),
            TokenError::NotFound(_) => ApiError::not_found(error.to_string()),
            TokenError::Random(_) => ApiError::internal(&error),
            TokenError::Store(store) => store.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::InvalidToken => ApiError::unauthorized("the bearer token is not valid"),
            AuthError::Store(store) => store.into(),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::validation(&invalid.field, &invalid.reason)
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::Invalid(invalid) => invalid.into(),
            WebhookError::NameTaken(_) => ApiError::conflict("name", error.to_string()),
            WebhookError::NotFound(_) => ApiError::not_found(error.to_string()),
            WebhookError::Managed(_) => ApiError::forbidden(error.to_string()),
            WebhookError::InUse(_) => ApiError::conflict("id", error.to_string()),
            WebhookError::Store(store) => store.into(),
        }
    }
}

impl From<SourceError> for ApiError {
    fn from(error: SourceError) -> Self {
        match error {
            SourceError::Invalid(invalid) => invalid.into(),
            SourceError::NameTaken(_) => ApiError::conflict("name", error.to_string()),
            SourceError::NotFound(_) => ApiError::not_found(error.to_string()),
            SourceError::Unauthorized => ApiError::unauthorized("not authenticated"),
            SourceError::Random(_) => ApiError::internal(&error),
            SourceError::Store(store) => store.into(),
        }
    }
}

impl From<ScheduleError> for ApiError {
    fn from(error: ScheduleError) -> Self {
        match error {
            ScheduleError::Invalid(invalid) => invalid.into(),
            ScheduleError::NameTaken(_) => ApiError::conflict("name", error.to_string()),
            ScheduleError::NotFound(_) => ApiError::not_found(error.to_string()),
            ScheduleError::Store(store) => store.into(),
        }
    }
}

impl From<IncidentError> for ApiError {
    fn from(error: IncidentError) -> Self {
        match error {
            IncidentError::Invalid(invalid) => invalid.into(),
            IncidentError::NotFound(_) | IncidentError::NoOpenIncident(_) => {
                ApiError::not_found(error.to_string())
            }
            IncidentError::DedupKeyTaken(_) => ApiError::conflict("dedup_key", error.to_string()),
            IncidentError::Store(store) => store.into(),
        }
    }
}

impl From<VarError> for ApiError {
    fn from(error: VarError) -> Self {
        match error {
            VarError::Invalid(invalid) => invalid.into(),
            VarError::NotFound(_) => ApiError::not_found(error.to_string()),
            VarError::Store(store) => store.into(),
        }
    }
}

impl From<EventError> for ApiError {
    fn from(error: EventError) -> Self {
        match error {
            EventError::Invalid(invalid) => invalid.into(),
            EventError::NotFound(_) => ApiError::not_found(error.to_string()),
            EventError::Store(store) => store.into(),
        }
    }
}

impl From<PreviewError> for ApiError {
    fn from(error: PreviewError) -> Self {
        match error {
            PreviewError::Invalid(invalid) => invalid.into(),
            PreviewError::Render(render) => ApiError::validation(render.field(), render),
            PreviewError::Encode(_) => ApiError::internal(&error),
        }
    }
}

impl From<LogError> for ApiError {
    fn from(error: LogError) -> Self {
        match error {
            LogError::NotFound(_) => ApiError::not_found(error.to_string()),
            LogError::InFlight(_) => ApiError::conflict("id", error.to_string()),
            LogError::Store(store) => store.into(),
        }
    }
}

impl From<TriggerError> for ApiError {
    fn from(error: TriggerError) -> Self {
        match error {
            TriggerError::Invalid(invalid) => invalid.into(),
            TriggerError::NameTaken(_) => ApiError::conflict("name", error.to_string()),
            TriggerError::NotFound(_) => ApiError::not_found(error.to_string()),
            TriggerError::Store(store) => store.into(),
        }
    }
}

impl From<SettingsError> for ApiError {
    fn from(error: SettingsError) -> Self {
        match error {
            SettingsError::Invalid(invalid) => invalid.into(),
            SettingsError::Store(store) => store.into(),
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(error: ChatError) -> Self {
        match error {
            ChatError::Disabled => ApiError::not_implemented(error.to_string()),
            ChatError::Malformed(_) => ApiError::malformed(error.to_string()),
            ChatError::Unauthorized => ApiError::unauthorized("not authenticated"),
            ChatError::Link(LinkError::Unknown) => ApiError::not_found(error.to_string()),
            ChatError::Link(LinkError::Exhausted) => ApiError::malformed(error.to_string()),
            ChatError::Link(LinkError::Corrupt(_)) => ApiError::internal(&error),
            ChatError::Link(LinkError::Store(store)) | ChatError::Store(store) => store.into(),
        }
    }
}
