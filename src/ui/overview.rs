//! `/ui`: open incidents by severity, the last day's failed deliveries, webhooks' success, the
//! sources silent for a day and the schedules due next.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::error::UiError;
use super::pages::{self, Chrome};
use super::session::SignedIn;
use crate::api::AppState;
use crate::overview::{self, WebhookHealth};
use crate::timestamp::to_rfc3339;

#[derive(Debug, Serialize)]
struct OverviewPage {
    open_incidents: Vec<SeverityCount>,
    open_total: i64,
    failed_last_day: i64,
    webhooks: Vec<WebhookRow>,
    webhooks_shown: i64,
    schedules_due: Vec<DueRow>,
    silent_sources: Vec<SilentRow>,
    silent_total: usize,
    silent_shown: usize,
}

#[derive(Debug, Serialize)]
struct SilentRow {
    id: String,
    name: String,
    kind: String,
    /// RFC 3339, UTC; none when it never received a request.
    last_received_at: Option<String>,
}

#[derive(Debug, Serialize)]
struct DueRow {
    id: String,
    name: String,
    /// RFC 3339, UTC.
    due_at: String,
}

#[derive(Debug, Serialize)]
struct SeverityCount {
    severity: String,
    count: i64,
}

#[derive(Debug, Serialize)]
struct WebhookRow {
    name: String,
    active: bool,
    succeeded: i64,
    failed: i64,
    pending: i64,
    /// Succeeded out of settled deliveries, as `97 %`; none when nothing settled.
    success: Option<String>,
    /// For the badge: `ok` at 99 % or more, `warn` from 90 %, `bad` below.
    health: &'static str,
}

/// A success rate as shown (`97 %`) and its badge: `ok` at 99 % or more, `warn` from 90 %,
/// `bad` below, `none` when nothing settled.
pub fn success_badge(percent: Option<i64>) -> (Option<String>, &'static str) {
    let badge = match percent {
        None => "none",
        Some(99..) => "ok",
        Some(90..) => "warn",
        Some(_) => "bad",
    };
    (percent.map(|percent| format!("{percent} %")), badge)
}

impl From<WebhookHealth> for WebhookRow {
    fn from(webhook: WebhookHealth) -> Self {
        let (success, health) = success_badge(webhook.success_percent());
        Self {
            health,
            success,
            name: webhook.name,
            active: webhook.active,
            succeeded: webhook.succeeded,
            failed: webhook.failed,
            pending: webhook.pending,
        }
    }
}

pub async fn show(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    let overview = overview::load(&state.store).await?;
    let page = OverviewPage {
        open_total: overview.open_incidents.iter().map(|(_, count)| count).sum(),
        open_incidents: overview
            .open_incidents
            .into_iter()
            .map(|(severity, count)| SeverityCount { severity, count })
            .collect(),
        failed_last_day: overview.failed_last_day,
        webhooks: overview
            .webhooks
            .into_iter()
            .map(WebhookRow::from)
            .collect(),
        webhooks_shown: overview::WEBHOOKS_SHOWN,
        schedules_due: overview
            .schedules_due
            .into_iter()
            .map(|due| DueRow {
                id: due.id,
                name: due.name,
                due_at: to_rfc3339(due.due_at),
            })
            .collect(),
        silent_sources: overview
            .silent_sources
            .into_iter()
            .map(|source| SilentRow {
                id: source.id,
                name: source.name,
                kind: source.kind,
                last_received_at: source.last_received_at.map(to_rfc3339),
            })
            .collect(),
        silent_total: overview.silent_total,
        silent_shown: overview::SILENT_SOURCES_SHOWN,
    };
    let chrome = Chrome::signed_in("Overview", "overview", &session);
    pages::ok("overview", &chrome, page)
}
