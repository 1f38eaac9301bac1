//! `/ui/incidents`: the list (filters in the URL, keyset pages as the API pages) and one
//! incident's page (timeline, attributes, where it was forwarded). Both read through the same
//! domain functions as `/api/v1/incidents`; the changes are in `incident_actions`.

mod actions;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::api::AppState;
use crate::incidents::{self, Attribute, Incident, IncidentError, TimelineEntry};
use crate::model::incident_fields::{SEVERITIES, STATUSES};
use crate::sessions::Session;
use crate::store::PageRequest;
use crate::store::incidents::IncidentFilter;
use crate::ui::deliveries;
use crate::ui::error::UiError;
use crate::ui::pages::{self, Chrome, Templates};
use crate::ui::session::SignedIn;
use crate::webhooks;

pub const TEMPLATES: Templates = &[
    (
        "incidents",
        include_str!("../../../templates/ui/incidents/list.hbs"),
    ),
    (
        "incident",
        include_str!("../../../templates/ui/incidents/detail.hbs"),
    ),
];

/// Webhooks offered in the forward form: the first this many by name, as on the overview.
const FORWARD_CHOICES: i64 = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/incidents").route(web::get().to(list)))
        .service(web::resource("/incidents/{id}").route(web::get().to(show)))
        .configure(actions::routes);
}

/// The list's filters; empty fields (a form sends them) mean "any".
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    cursor: String,
}

fn present(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|value| !value.is_empty())
}

impl ListQuery {
    fn filter(&self) -> IncidentFilter {
        IncidentFilter {
            status: present(&self.status),
            severity: present(&self.severity),
            source: present(&self.source),
            dedup_key: None,
            title_contains: present(&self.q),
        }
    }

    /// The address of the page after this one: the same filters, the next cursor.
    fn next_href(&self, cursor: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        let filters = [
            ("status", &self.status),
            ("severity", &self.severity),
            ("source", &self.source),
            ("q", &self.q),
        ];
        for (key, value) in filters {
            if !value.is_empty() {
                query.append_pair(key, value);
            }
        }
        query.append_pair("cursor", cursor);
        format!("/ui/incidents?{}", query.finish())
    }
}

#[derive(Debug, Serialize)]
struct Row {
    number: i64,
    title: String,
    severity: String,
    status: String,
    status_class: &'static str,
    source: String,
    occurrences: i64,
    updated_at: String,
}

/// The badge colour of a status: open is the alarm, acknowledged someone is on it.
pub fn status_class(status: &str) -> &'static str {
    match status {
        "open" => "bad",
        "acknowledged" => "warn",
        _ => "ok",
    }
}

impl From<Incident> for Row {
    fn from(incident: Incident) -> Self {
        Self {
            status_class: status_class(&incident.status),
            number: incident.number,
            title: incident.title,
            severity: incident.severity,
            status: incident.status,
            source: incident.source,
            occurrences: incident.occurrences,
            updated_at: incident.updated_at,
        }
    }
}

/// A `<select>` option, marked when it is the current filter.
#[derive(Debug, Serialize)]
struct Choice {
    value: &'static str,
    selected: bool,
}

fn choices(values: &[&'static str], current: &str) -> Vec<Choice> {
    values
        .iter()
        .map(|value| Choice {
            value,
            selected: *value == current,
        })
        .collect()
}

pub fn chrome<'a>(title: &'a str, session: &'a Session) -> Chrome<'a> {
    Chrome::signed_in(title, "incidents", session)
}

async fn list(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let query = query.into_inner();
    let request = PageRequest::new(None, present(&query.cursor));
    let page = incidents::list(&state.store, query.filter(), request).await?;
    let next_href = page.next_cursor.map(|cursor| query.next_href(&cursor));
    let filtered = [&query.status, &query.severity, &query.source, &query.q]
        .iter()
        .any(|value| !value.trim().is_empty());
    let view = serde_json::json!({
        "incidents": page.items.into_iter().map(Row::from).collect::<Vec<_>>(),
        "next_href": next_href,
        "statuses": choices(&STATUSES, &query.status),
        "severities": choices(&SEVERITIES, &query.severity),
        "source": query.source,
        "q": query.q,
        "filtered": filtered,
    });
    pages::ok("incidents", &chrome("Incidents", &session), view)
}

#[derive(Debug, Serialize)]
struct AttributeView {
    name: String,
    value: String,
    /// Set only for `http(s)` values, so a stored `javascript:` value never becomes a link.
    link: Option<String>,
}

impl From<Attribute> for AttributeView {
    fn from(attribute: Attribute) -> Self {
        let lower = attribute.value.to_ascii_lowercase();
        let link = (lower.starts_with("https://") || lower.starts_with("http://"))
            .then(|| attribute.value.clone());
        Self {
            name: attribute.name,
            value: attribute.value,
            link,
        }
    }
}

#[derive(Debug, Serialize)]
struct EntryView {
    at: String,
    intent: String,
    message: String,
    actor: String,
    /// The fields the entry changed, by name.
    changed: Vec<String>,
}

impl From<TimelineEntry> for EntryView {
    fn from(entry: TimelineEntry) -> Self {
        Self {
            changed: entry
                .changes
                .into_iter()
                .map(|change| change.field)
                .collect(),
            at: entry.at,
            intent: entry.intent,
            message: entry.message,
            actor: entry.actor,
        }
    }
}

#[derive(Debug, Serialize)]
struct WebhookChoice {
    id: String,
    name: String,
}

/// What a refused change leaves on the page: why, and the message typed, shown again.
#[derive(Debug, Default, Serialize)]
pub struct Refused {
    pub error: String,
    pub message: String,
}

/// One incident's page; `refused` (with `status`) when it answers a change that was refused.
pub async fn detail(
    state: &AppState,
    session: &Session,
    reference: &str,
    refused: Option<Refused>,
    status: StatusCode,
) -> Result<HttpResponse, UiError> {
    let incident = incidents::get(&state.store, reference).await?;
    let hooks = webhooks::list(&state.store, PageRequest::new(Some(FORWARD_CHOICES), None))
        .await
        .map_err(|error| match error {
            // an unavailable database is a 503 here as everywhere, not a logged failure
            webhooks::WebhookError::Store(error) => UiError::from(error),
            other => UiError::internal(&other),
        })?;
    let forward_to: Vec<WebhookChoice> = hooks
        .items
        .into_iter()
        .map(|hook| WebhookChoice {
            id: hook.id,
            name: hook.spec.name,
        })
        .collect();
    let title = format!("#{} {}", incident.number, incident.title);
    let view = serde_json::json!({
        "status_class": status_class(&incident.status),
        "resolved": incident.status == "resolved",
        "open": incident.status == "open",
        "attributes": incident.attributes.iter().cloned().map(AttributeView::from).collect::<Vec<_>>(),
        "timeline": incident.timeline.iter().cloned().rev().map(EntryView::from).collect::<Vec<_>>(),
        "incident": incident,
        "webhooks": forward_to,
        "deliveries": deliveries::of_incident(state, &incident.id).await?,
        "refused": refused,
    });
    let body = pages::render("incident", &chrome(&title, session), view)?;
    Ok(pages::html(&mut HttpResponse::build(status), body))
}

async fn show(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    detail(&state, &session, &id, None, StatusCode::OK).await
}

impl From<IncidentError> for UiError {
    fn from(error: IncidentError) -> Self {
        match error {
            IncidentError::NotFound(_) | IncidentError::NoOpenIncident(_) => {
                UiError::not_found(error.to_string())
            }
            IncidentError::Invalid(_) => UiError::Page {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                title: "Invalid request",
                message: error.to_string(),
            },
            IncidentError::DedupKeyTaken(_) => UiError::Page {
                status: StatusCode::CONFLICT,
                title: "Conflict",
                message: error.to_string(),
            },
            IncidentError::Store(error) => error.into(),
        }
    }
}
