//! The one place console errors become responses: an HTML error page with the status, or a
//! redirect to the sign-in page when there is no session (as `api::error` maps to JSON).

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use super::pages;
use crate::sessions::SessionError;
use crate::store::StoreError;
use crate::tokens::TokenError;
use crate::webhooks::WebhookError;

/// How long a client told `429` should wait, in seconds: one rate-limit window.
const RATE_LIMIT_RETRY_SECONDS: &str = "60";
const UNAVAILABLE_RETRY_SECONDS: &str = "5";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiError {
    /// No session, or it ended: back to the sign-in page.
    SignedOut,
    Page {
        status: StatusCode,
        title: &'static str,
        message: String,
    },
}

impl UiError {
    fn page(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self::Page {
            status,
            title,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::page(StatusCode::BAD_REQUEST, "Bad request", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::page(StatusCode::FORBIDDEN, "Not allowed", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::page(StatusCode::NOT_FOUND, "Not found", message)
    }

    /// Logs the cause and shows a page that reveals nothing of it.
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(error = %cause, "console request failed");
        Self::page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server log has the details.",
        )
    }

    fn unavailable() -> Self {
        Self::page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Database unavailable",
            "The database cannot be reached right now. Try again shortly.",
        )
    }
}

impl fmt::Display for UiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UiError::SignedOut => f.write_str("not signed in"),
            UiError::Page {
                status, message, ..
            } => write!(f, "{}: {message}", status.as_u16()),
        }
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::SignedOut => StatusCode::SEE_OTHER,
            UiError::Page { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let UiError::Page {
            status,
            title,
            message,
        } = self
        else {
            return pages::redirect(pages::SIGN_IN_PATH);
        };
        let mut response = HttpResponse::build(*status);
        match *status {
            StatusCode::TOO_MANY_REQUESTS => {
                response.insert_header((
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RATE_LIMIT_RETRY_SECONDS),
                ));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                response.insert_header((
                    header::RETRY_AFTER,
                    HeaderValue::from_static(UNAVAILABLE_RETRY_SECONDS),
                ));
            }
            _ => {}
        }
        pages::html(&mut response, pages::error_page(*status, title, message))
    }
}

impl From<StoreError> for UiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "a console request found the database unavailable");
            UiError::unavailable()
        } else {
            UiError::internal(&error)
        }
    }
}

impl From<SessionError> for UiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::SignedOut => UiError::SignedOut,
            SessionError::FormToken | SessionError::ReadOnly => {
                UiError::forbidden(error.to_string())
            }
            SessionError::TooManyAttempts => UiError::page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                error.to_string(),
            ),
            SessionError::InvalidToken | SessionError::ScopeCannotSignIn(_) => UiError::page(
                StatusCode::UNAUTHORIZED,
                "Cannot sign in",
                error.to_string(),
            ),
            SessionError::Store(error) => error.into(),
            SessionError::Random(error) => UiError::internal(&error),
        }
    }
}

impl From<TokenError> for UiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::NotFound(_) => UiError::not_found(error.to_string()),
            TokenError::InvalidName(_) => UiError::page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid name",
                format!("name: {error}"),
            ),
            TokenError::NameTaken(_) => {
                UiError::page(StatusCode::CONFLICT, "Name taken", error.to_string())
            }
            TokenError::Store(error) => error.into(),
            TokenError::Random(error) => UiError::internal(&error),
        }
    }
}

impl From<WebhookError> for UiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::NotFound(_) => UiError::not_found(error.to_string()),
            WebhookError::Invalid(_) => UiError::page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid webhook",
                error.to_string(),
            ),
            WebhookError::NameTaken(_) | WebhookError::InUse(_) => {
                UiError::page(StatusCode::CONFLICT, "Conflict", error.to_string())
            }
            WebhookError::Managed(_) => UiError::forbidden(error.to_string()),
            WebhookError::Store(error) => error.into(),
        }
    }
}
