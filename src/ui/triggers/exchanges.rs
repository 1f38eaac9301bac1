//! `/ui/triggers/{id}/exchanges`: the trigger's chat exchange log (the latest hundred requests
//! the API's `exchanges` returns), newest first, a page at a time: `before` is the id of the
//! last exchange shown, as the deliveries page's cursor.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::chat_view::PostView;
use super::chrome;
use crate::api::AppState;
use crate::chat::exchange::Verdict;
use crate::store::chat_exchanges::ExchangeFilter;
use crate::ui::error::UiError;
use crate::ui::pages;
use crate::ui::session::SignedIn;
use crate::ui::webhooks::preview::request_text;

const PAGE_SIZE: usize = 20;

#[derive(Debug, Deserialize)]
pub struct LogQuery {
    /// Only exchanges with this outcome; empty for all.
    #[serde(default)]
    outcome: String,
    /// Only exchanges older than this one.
    before: Option<String>,
}

/// One exchange as the page shows it; chat text and bodies are escaped by the template, the
/// reply's Markdown by [`PostView`].
#[derive(Debug, Serialize)]
struct ExchangeView {
    id: String,
    received_at: Value,
    outcome: Value,
    badge: &'static str,
    reason: Value,
    user: Value,
    channel: Value,
    command: Value,
    text: Value,
    trigger_word: Value,
    services: Vec<ServiceView>,
    reply: Option<PostView>,
    posts: Vec<PostView>,
}

#[derive(Debug, Serialize)]
struct ServiceView {
    service: Value,
    outcome: Value,
    error: Value,
    status: Value,
    latency_ms: Value,
    request: Option<String>,
    answer: Value,
}

/// The badge colour of an outcome.
pub(super) fn badge(outcome: &str) -> &'static str {
    match outcome {
        "forwarded" => "ok",
        "ignored" | "disabled" => "muted",
        _ => "bad",
    }
}

fn view(record: &Value) -> ExchangeView {
    let outcome = record["outcome"].as_str().unwrap_or_default();
    // A user or channel by name, else by id.
    let named = |value: &Value| match &value["name"] {
        Value::Null => value["id"].clone(),
        name => name.clone(),
    };
    ExchangeView {
        id: record["id"].as_str().unwrap_or_default().to_owned(),
        received_at: record["received_at"].clone(),
        outcome: json!(outcome),
        badge: badge(outcome),
        reason: record["reason"].clone(),
        user: named(&record["user"]),
        channel: named(&record["channel"]),
        command: record["command"].clone(),
        text: record["text"].clone(),
        trigger_word: record["trigger_word"].clone(),
        services: record["services"]
            .as_array()
            .map(|calls| calls.iter().map(service_view).collect())
            .unwrap_or_default(),
        reply: record["reply"]
            .is_object()
            .then(|| PostView::of(&record["reply"])),
        posts: record["posts"]
            .as_array()
            .map(|posts| posts.iter().map(PostView::of).collect())
            .unwrap_or_default(),
    }
}

fn service_view(call: &Value) -> ServiceView {
    ServiceView {
        service: call["service"].clone(),
        outcome: call["outcome"].clone(),
        error: call["error"].clone(),
        status: call["status"].clone(),
        latency_ms: call["latency_ms"].clone(),
        request: call["request"]
            .is_object()
            .then(|| request_text(&call["request"])),
        answer: call["answer"]["body"].clone(),
    }
}

pub async fn list(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, UiError> {
    let LogQuery { outcome, before } = query.into_inner();
    let triggers = state.gateway.triggers();
    let trigger = triggers.get(&id).await?;
    let filter = ExchangeFilter {
        trigger_id: Some(Some(trigger.id.clone())),
        outcome: (!outcome.is_empty()).then(|| outcome.clone()),
    };
    let records = triggers.exchanges(filter).await?;
    let newer_than_cursor = |record: &&Value| {
        before
            .as_deref()
            .is_none_or(|before| record["id"].as_str().is_some_and(|id| id < before))
    };
    let mut shown: Vec<ExchangeView> = records
        .iter()
        .filter(newer_than_cursor)
        .take(PAGE_SIZE + 1)
        .map(view)
        .collect();
    let next = (shown.len() > PAGE_SIZE).then(|| {
        shown.truncate(PAGE_SIZE);
        shown.last().map(|last| last.id.clone())
    });
    let outcomes: Vec<_> = Verdict::ALL
        .iter()
        .map(|verdict| json!({ "name": verdict.as_str(), "selected": verdict.as_str() == outcome }))
        .collect();
    let page = json!({
        "id": trigger.id,
        "name": trigger.spec.name,
        "exchanges": shown,
        "outcomes": outcomes,
        "outcome": outcome,
        "next": next.flatten(),
    });
    pages::ok(
        "trigger_exchanges",
        &chrome("Chat exchanges", &session),
        page,
    )
}
