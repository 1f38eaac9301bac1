//! A source's page: its settings, the latest requests it received with what each became (or
//! why not), a page at a time, and a preview box that maps a pasted body through the same
//! domain function as `POST /api/v1/sources/{id}/preview`, storing nothing. The preview works
//! with its button alone; the page's script posts it with `?live=true` as the body is typed.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{chrome, kind_label};
use crate::api::AppState;
use crate::sources::{LoggedRequest, Source, SourceAuth, SourceRequest};
use crate::timestamp::to_rfc3339;
use crate::ui::error::UiError;
use crate::ui::pages;
use crate::ui::session::SignedIn;

/// Requests shown on one page of a source's log (of the hundred it keeps).
const REQUESTS_PER_PAGE: usize = 20;

#[derive(Debug, Deserialize)]
pub struct LogQuery {
    /// Requests older than this one (the previous page's last).
    before: Option<String>,
}

/// What the preview box sends. Read sessions may preview too: it changes nothing, and the API
/// lets `read` tokens preview.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct PreviewForm {
    #[serde(skip_serializing)]
    csrf: String,
    body: String,
    query: String,
    /// `Name: Value` lines.
    headers: String,
}

/// A request of the log as the page shows it.
#[derive(Debug, Serialize)]
struct RequestView {
    id: String,
    received_at: String,
    method: String,
    headers: String,
    body: String,
    body_truncated: bool,
    alerts: Vec<Value>,
    events: Vec<Value>,
    unmapped: Value,
}

impl From<LoggedRequest> for RequestView {
    fn from(logged: LoggedRequest) -> Self {
        let headers = logged
            .headers
            .as_object()
            .map_or_else(String::new, |headers| {
                headers
                    .iter()
                    .map(|(name, value)| format!("{name}: {}", value.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        Self {
            id: logged.id,
            received_at: logged.received_at,
            method: logged.method,
            headers,
            body: logged.body,
            body_truncated: logged.body_truncated,
            alerts: outcome_alerts(&logged.outcome),
            events: logged.outcome["events"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            unmapped: logged.outcome["unmapped"].clone(),
        }
    }
}

/// Each alert of an outcome with every field the page reads: the incident only when one was
/// opened or touched, the reason only when nothing was done.
fn outcome_alerts(outcome: &Value) -> Vec<Value> {
    let alerts = outcome["alerts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    alerts
        .iter()
        .map(|alert| {
            json!({
                "dedup_key": alert["dedup_key"], "result": alert["result"],
                "incident": alert["incident"], "reason": alert["reason"],
            })
        })
        .collect()
}

/// `GET /ui/sources/{id}`.
pub async fn page(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, UiError> {
    let body = render(&state, &session, &id, query.into_inner().before, None).await?;
    Ok(pages::html(&mut HttpResponse::Ok(), body))
}

#[derive(Debug, Deserialize)]
pub struct PreviewQuery {
    /// Set by the page's script: answer JSON in the shape the webhook form's preview has
    /// (`text`, or `error` with a `message`), not the page.
    #[serde(default)]
    live: bool,
}

/// `POST /ui/sources/{id}/preview`: the page with the preview of the posted body, or the
/// preview alone for the script.
pub async fn preview(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PreviewQuery>,
    form: web::Form<PreviewForm>,
) -> Result<HttpResponse, UiError> {
    session.check_form(&form.csrf)?;
    if query.live {
        let text = mapped(&state, &id, &form).await?;
        return Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "text": text, "error": null })));
    }
    let body = render(&state, &session, &id, None, Some(form.into_inner())).await?;
    Ok(pages::html(&mut HttpResponse::Ok(), body))
}

/// What the form's body would become at the source, as indented JSON, led by the reason when
/// it could not be mapped (and is kept whole instead).
async fn mapped(state: &AppState, id: &str, form: &PreviewForm) -> Result<String, UiError> {
    let request = SourceRequest {
        method: "POST".into(),
        headers: form
            .headers
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect(),
        query: form.query.trim().trim_start_matches('?').to_owned(),
        body: form.body.clone().into_bytes().into(),
        url_token: None,
    };
    let preview = state.sources.preview(id, request).await?;
    let items = serde_json::to_string_pretty(&preview.items).map_err(|e| UiError::internal(&e))?;
    Ok(match preview.unmapped {
        Some(reason) => {
            format!("Could not be mapped: {reason}\nIt would be kept whole as:\n{items}")
        }
        None => items,
    })
}

async fn render(
    state: &AppState,
    session: &crate::sessions::Session,
    id: &str,
    before: Option<String>,
    preview: Option<PreviewForm>,
) -> Result<String, UiError> {
    let source = state.sources.get(id).await?;
    let requests = state.sources.requests(id).await?;
    let (shown, older) = log_page(requests, before.as_deref());
    let preview = match preview {
        Some(form) => {
            let text = mapped(state, id, &form).await?;
            json!({ "form": form, "text": text })
        }
        None => json!({ "form": PreviewForm::default(), "text": null }),
    };
    let url = state.sources.url(&source, None);
    let page = json!({
        "source": facts(&source),
        "url": url,
        "steps": { "kind": source.spec.kind.as_str(), "label": kind_label(source.spec.kind.as_str()), "url": url },
        "requests": shown,
        "older": older,
        "preview": preview,
    });
    pages::render("source", &chrome(&source.spec.name, session), page)
}

/// The requests older than `before` (all when it is none), a page of them, and the id to ask
/// for the next page with when there are more.
fn log_page(
    requests: Vec<LoggedRequest>,
    before: Option<&str>,
) -> (Vec<RequestView>, Option<String>) {
    let mut rest = requests
        .into_iter()
        .filter(|request| before.is_none_or(|before| request.id.as_str() < before))
        .peekable();
    let shown: Vec<RequestView> = rest
        .by_ref()
        .take(REQUESTS_PER_PAGE)
        .map(RequestView::from)
        .collect();
    let older = rest
        .peek()
        .and_then(|_| shown.last().map(|request| request.id.clone()));
    (shown, older)
}

fn facts(source: &Source) -> Value {
    let spec = source.spec.masked();
    let auth = match &spec.auth {
        SourceAuth::UrlToken => "token in the URL".to_owned(),
        SourceAuth::Bearer { .. } => "Bearer token".to_owned(),
        SourceAuth::Basic { username, .. } => format!("Basic, user {username}"),
        SourceAuth::ApiKey { header, .. } => format!("API key in {header}"),
        SourceAuth::Hmac { scheme, .. } => {
            format!("signed ({})", json!(scheme).as_str().unwrap_or_default())
        }
    };
    json!({
        "id": source.id,
        "name": spec.name,
        "description": spec.description,
        "kind": kind_label(spec.kind.as_str()),
        "enabled": spec.enabled,
        "auth": auth,
        "url_token": spec.auth == SourceAuth::UrlToken,
        "mapping": spec.mapping.as_ref().and_then(|mapping| serde_json::to_string_pretty(mapping).ok()),
        "created_at": to_rfc3339(source.created_at),
        "updated_at": to_rfc3339(source.updated_at),
    })
}
