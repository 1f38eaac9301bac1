//! `/ui/audit`: who changed what and when, newest first, filtered by actor, resource and time,
//! a page at a time. Each entry shows its changes field by field (before and after) or, for a
//! creation or deletion, what it recorded. The log holds values already masked by the code that
//! wrote them (webhook, trigger and source secrets, token hints, variables by key only), so the
//! page shows them as stored.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::deliveries::view::parse_time;
use super::error::UiError;
use super::pages::{self, Chrome, Templates};
use super::session::SignedIn;
use crate::api::AppState;
use crate::audit::{self, AuditEntry};
use crate::store::PageRequest;
use crate::store::audit::AuditFilter;
use crate::timestamp::to_rfc3339;

pub const TEMPLATES: Templates = &[("audit", include_str!("../../templates/ui/audit.hbs"))];

/// The kinds of resource the log records, for the filter's choices.
const RESOURCE_TYPES: [&str; 7] = [
    "schedule", "settings", "source", "token", "trigger", "var", "webhook",
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit").route(web::get().to(list)));
}

/// The filters as the GET form sends them; an empty field filters nothing.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Filters {
    actor: String,
    resource_type: String,
    resource_id: String,
    /// From this time on (UTC, as `datetime-local` sends it, or RFC 3339).
    since: String,
    /// Before this time.
    until: String,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    filters: Filters,
    cursor: Option<String>,
}

fn some(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|value| !value.is_empty())
}

impl Filters {
    fn to_store(&self) -> Result<AuditFilter, UiError> {
        Ok(AuditFilter {
            resource_type: some(&self.resource_type),
            resource_id: some(&self.resource_id),
            actor: some(&self.actor),
            at_from: parse_time("since", &self.since)?,
            at_before: parse_time("until", &self.until)?,
        })
    }

    /// The list's address for these filters from `cursor` on.
    fn href(&self, cursor: &str) -> String {
        let pairs = [
            ("actor", &self.actor),
            ("resource_type", &self.resource_type),
            ("resource_id", &self.resource_id),
            ("since", &self.since),
            ("until", &self.until),
        ];
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().filter(|(_, value)| !value.trim().is_empty()))
            .append_pair("cursor", cursor)
            .finish();
        format!("/ui/audit?{query}")
    }
}

/// One field's change: before and after as text (`—` where there was or is none).
#[derive(Debug, Serialize)]
struct FieldChange {
    field: String,
    before: String,
    after: String,
}

#[derive(Debug, Serialize)]
struct EntryView {
    at: String,
    actor: String,
    action: String,
    resource_type: String,
    resource_id: String,
    changes: Vec<FieldChange>,
    /// What a creation, deletion or run recorded, as pretty JSON; empty when `changes` says it.
    details: String,
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "—".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

impl From<AuditEntry> for EntryView {
    fn from(entry: AuditEntry) -> Self {
        let changes: Vec<FieldChange> = entry.details["changes"]
            .as_array()
            .map(|changes| {
                changes
                    .iter()
                    .map(|change| FieldChange {
                        field: text(&change["field"]),
                        before: text(&change["old"]),
                        after: text(&change["new"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let details = if changes.is_empty() {
            serde_json::to_string_pretty(&entry.details).unwrap_or_default()
        } else {
            String::new()
        };
        Self {
            at: to_rfc3339(entry.at),
            actor: entry.actor,
            action: entry.action,
            resource_type: entry.resource_type,
            resource_id: entry.resource_id,
            changes,
            details,
        }
    }
}

async fn list(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let ListQuery { filters, cursor } = query.into_inner();
    let filter = filters.to_store()?;
    let filtered = filter != AuditFilter::default();
    let page = audit::list(&state.store, filter, PageRequest::new(None, cursor)).await?;
    let types: Vec<(&str, bool)> = RESOURCE_TYPES
        .iter()
        .map(|kind| (*kind, *kind == filters.resource_type))
        .collect();
    let body = json!({
        "entries": page.items.into_iter().map(EntryView::from).collect::<Vec<_>>(),
        "next_href": page.next_cursor.map(|cursor| filters.href(&cursor)),
        "filtered": filtered,
        "filters": filters,
        "types": types,
    });
    let chrome = Chrome::signed_in("Audit log", "audit", &session);
    pages::ok("audit", &chrome, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_shows_before_and_after_field_by_field() {
        let entry = AuditEntry {
            id: "aud_1".into(),
            at: 0,
            actor: "token:ops".into(),
            action: "schedule.updated".into(),
            resource_type: "schedule".into(),
            resource_id: "sch_1".into(),
            details: json!({"changes": [{"field": "cron", "old": "0 9 * * *", "new": null}]}),
        };
        let view = EntryView::from(entry);
        assert_eq!(view.changes[0].before, "0 9 * * *");
        assert_eq!(view.changes[0].after, "—");
        assert!(view.details.is_empty());
    }

    #[test]
    fn the_next_page_keeps_the_filters() {
        let filters = Filters {
            actor: "token:ops".into(),
            since: "2026-12-07T10:00".into(),
            ..Filters::default()
        };
        assert_eq!(
            filters.href("aud_9"),
            "/ui/audit?actor=token%3Aops&since=2026-12-07T10%3A00&cursor=aud_9"
        );
    }
}
