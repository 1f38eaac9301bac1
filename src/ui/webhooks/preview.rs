//! The webhook form's request preview and the test send, both through the API's machinery
//! (`delivery::preview`) with a sample event of the first subscribed type: the preview renders
//! the form as it stands (unsaved), the test sends the stored webhook's request.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::{Value, json};

use super::chrome;
use super::form::{FieldError, WebhookForm};
use crate::api::AppState;
use crate::delivery::preview::{Preview, PreviewError, PreviewInput};
use crate::ui::error::UiError;
use crate::ui::pages;
use crate::ui::session::SignedIn;
use crate::webhooks::{self, WebhookError};

/// What the script of the form page receives: the request as text, or why there is none.
#[derive(Debug, Serialize)]
struct LiveAnswer {
    text: Option<String>,
    error: Option<FieldError>,
}

fn sample() -> PreviewInput {
    PreviewInput {
        sample: true,
        ..PreviewInput::default()
    }
}

/// The form's request for a sample event as text, secrets masked; or the refusal of the form
/// (or of its template's render) placed beside its field.
pub async fn render(
    state: &AppState,
    id: Option<&str>,
    form: &WebhookForm,
) -> Result<Result<String, FieldError>, UiError> {
    let spec = match form.to_spec() {
        Ok(spec) => spec,
        Err(invalid) => return Ok(Err(FieldError::of(&invalid))),
    };
    let draft = match webhooks::draft(&state.store, id, spec).await {
        Ok(draft) => draft,
        Err(WebhookError::Invalid(invalid)) => return Ok(Err(FieldError::of(&invalid))),
        Err(error) => return Err(error.into()),
    };
    match Preview::build(&draft, sample(), None, &state.globals.current()) {
        Ok(preview) => Ok(Ok(request_text(&preview.to_json()))),
        Err(PreviewError::Invalid(invalid)) => Ok(Err(FieldError::of(&invalid))),
        Err(error) => Ok(Err(FieldError {
            field: "form",
            message: error.to_string(),
        })),
    }
}

/// `POST /ui/webhooks/preview`: the live preview, as JSON for the form page's script.
pub async fn live(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    form: web::Form<WebhookForm>,
    query: web::Query<IdQuery>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let answer = match render(&state, query.id.as_deref(), &form).await? {
        Ok(text) => LiveAnswer {
            text: Some(text),
            error: None,
        },
        Err(error) => LiveAnswer {
            text: None,
            error: Some(error),
        },
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}

#[derive(Debug, serde::Deserialize)]
pub struct IdQuery {
    id: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct TestForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/webhooks/{id}/test`: sends the stored webhook's request for a sample event now
/// and shows the answer (status, headers, body) and how long it took.
pub async fn test(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<TestForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let webhook = webhooks::get(&state.store, &id).await?;
    let preview = Preview::build(&webhook, sample(), None, &state.globals.current())
        .map_err(|error| UiError::bad_request(error.to_string()))?;
    let result = preview
        .send(&state.clients, state.config.outbound.default_timeout_ms)
        .await;
    let shown = result.to_json();
    let response = &shown["response"];
    let page = json!({
        "id": webhook.id,
        "name": webhook.spec.name,
        "request": request_text(&shown["request"]),
        "status": response["status"],
        "ok": response["status"].as_u64().is_some_and(|status| (200..300).contains(&status)),
        "headers": header_lines(&response["headers"]),
        "body": response["body"],
        "error": shown["error"],
        "duration_ms": shown["duration_ms"],
    });
    pages::ok("webhook_test", &chrome("Test sent", &session), page)
}

/// A shown request (`method`, `url`, `headers`, `body`) as it would travel: the request line,
/// header lines, a blank line, the body.
pub fn request_text(request: &Value) -> String {
    let method = request["method"].as_str().unwrap_or_default();
    let url = request["url"].as_str().unwrap_or_default();
    let body = request["body"].as_str().unwrap_or_default();
    format!(
        "{method} {url}\n{}\n\n{body}",
        header_lines(&request["headers"])
    )
}

fn header_lines(headers: &Value) -> String {
    let Some(headers) = headers.as_object() else {
        return String::new();
    };
    headers
        .iter()
        .map(|(name, value)| match value {
            Value::String(text) => format!("{name}: {text}"),
            other => format!("{name}: {other}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
