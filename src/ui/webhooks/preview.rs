//! The webhook form's request preview and the test send, both through the API's machinery
//! (`delivery::preview`): the preview renders the form as it stands (unsaved) against a sample
//! event of the first subscribed type, a recent event or an incident as it is now; the test
//! sends the stored webhook's request for a sample event.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::{Value, json};

use super::chrome;
use super::form::{FieldError, WebhookForm};
use crate::api::AppState;
use crate::delivery::preview::{IncidentSnapshot, Preview, PreviewError, PreviewInput};
use crate::events::{self, EventError};
use crate::incidents::{self, IncidentError};
use crate::store::PageRequest;
use crate::store::incidents::IncidentFilter;
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

/// How many recent events and incidents the preview offers to render against.
const PREVIEW_CHOICES: i64 = 10;

/// One thing the preview can render against.
#[derive(Debug, Serialize)]
pub struct PreviewChoice {
    value: String,
    label: String,
    selected: bool,
}

/// The preview's choices besides the sample: the latest incidents and events.
#[derive(Debug, Serialize)]
pub struct PreviewChoices {
    incidents: Vec<PreviewChoice>,
    events: Vec<PreviewChoice>,
}

pub async fn choices(state: &AppState, chosen: &str) -> Result<PreviewChoices, UiError> {
    let latest = || PageRequest::new(Some(PREVIEW_CHOICES), None);
    let choice = |value: String, label: String| PreviewChoice {
        selected: value == chosen,
        value,
        label,
    };
    let incidents = incidents::list(&state.store, IncidentFilter::default(), latest()).await?;
    let events = events::list(&state.store, None, latest())
        .await
        .map_err(event_error)?;
    Ok(PreviewChoices {
        incidents: incidents
            .items
            .into_iter()
            .map(|incident| {
                let label = format!(
                    "#{} {} ({})",
                    incident.number, incident.title, incident.status
                );
                choice(format!("incident:{}", incident.id), label)
            })
            .collect(),
        events: events
            .items
            .into_iter()
            .map(|event| {
                let label = format!("{} · {}", event.event_type, event.occurred_at);
                choice(format!("event:{}", event.id), label)
            })
            .collect(),
    })
}

fn event_error(error: EventError) -> UiError {
    match error {
        EventError::Store(error) => error.into(),
        other => UiError::internal(&other),
    }
}

/// What the preview renders against, from the form's choice; a chosen event or incident that
/// is gone is a refusal beside the choice.
async fn input_for(
    state: &AppState,
    chosen: &str,
) -> Result<Result<(PreviewInput, Option<IncidentSnapshot>), FieldError>, UiError> {
    let gone = |what: &str| FieldError {
        field: "preview_with",
        message: format!("that {what} is no longer stored: choose another"),
    };
    if let Some(id) = chosen.strip_prefix("incident:") {
        return match incidents::get(&state.store, id).await {
            Ok(incident) => {
                let snapshot = IncidentSnapshot {
                    data: incident.to_value(),
                    id: incident.id,
                };
                Ok(Ok((PreviewInput::default(), Some(snapshot))))
            }
            Err(IncidentError::NotFound(_)) => Ok(Err(gone("incident"))),
            Err(error) => Err(error.into()),
        };
    }
    if let Some(id) = chosen.strip_prefix("event:") {
        return match events::get(&state.store, id).await {
            Ok(event) => {
                let event =
                    serde_json::to_value(event).map_err(|error| UiError::internal(&error))?;
                let input = PreviewInput {
                    event: Some(event),
                    ..PreviewInput::default()
                };
                Ok(Ok((input, None)))
            }
            Err(EventError::NotFound(_)) => Ok(Err(gone("event"))),
            Err(error) => Err(event_error(error)),
        };
    }
    Ok(Ok((sample(), None)))
}

/// The form's request for the event it chose as text, secrets masked; or the refusal of the
/// form (or of its template's render) placed beside its field.
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
    let (input, incident) = match input_for(state, &form.preview_with).await? {
        Ok(chosen) => chosen,
        Err(refused) => return Ok(Err(refused)),
    };
    match Preview::build(&draft, input, incident, &state.globals.current()) {
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
