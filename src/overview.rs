//! What the console's overview shows: open incidents by severity, the last day's failed
//! deliveries, each webhook's success rate over that day, the sources silent for a day and the
//! schedules due next. Every figure comes from an
//! indexed query (a partial index of unresolved incidents; ranges of the deliveries' primary
//! key and `(webhook_id, id)` index from a day ago) whose cost follows the open incidents and
//! the last day's deliveries, not the size of the whole history.

use std::collections::HashMap;

use crate::ids::id_bound_at;
use crate::model::incident_fields::SEVERITIES;
use crate::store::deliveries::{FAILED, SUCCEEDED};
use crate::store::{self, Store, StoreError};
use crate::timestamp::now_millis;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The overview lists this many webhooks by name; the webhooks page lists them all.
pub const WEBHOOKS_SHOWN: i64 = 100;
/// The overview lists the schedules due soonest, this many.
pub const SCHEDULES_SHOWN: i64 = 5;
/// The overview lists this many silent sources, the longest silent first.
pub const SILENT_SOURCES_SHOWN: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// Every severity, most severe first, with how many incidents are open or acknowledged.
    pub open_incidents: Vec<(String, i64)>,
    pub failed_last_day: i64,
    pub webhooks: Vec<WebhookHealth>,
    /// The enabled schedules due soonest, soonest first.
    pub schedules_due: Vec<DueSchedule>,
    /// Enabled sources that received nothing for a day or more (or never), longest first.
    pub silent_sources: Vec<SilentSource>,
    /// How many sources are silent, of which the first [`SILENT_SOURCES_SHOWN`] are listed.
    pub silent_total: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentSource {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// Unix milliseconds; `None` when it never received a request.
    pub last_received_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSchedule {
    pub id: String,
    pub name: String,
    /// Unix milliseconds.
    pub due_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHealth {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub succeeded: i64,
    pub failed: i64,
    pub pending: i64,
}

impl WebhookHealth {
    /// Succeeded out of settled deliveries in whole percent; `None` when none settled.
    pub fn success_percent(&self) -> Option<i64> {
        let settled = self.succeeded + self.failed;
        (settled > 0).then(|| self.succeeded * 100 / settled)
    }
}

pub async fn load(store: &Store) -> Result<Overview, StoreError> {
    let now = now_millis();
    let since = id_bound_at("dlv", now - DAY_MS);
    store
        .read(move |conn| {
            let severities = store::incidents::count_unresolved_by_severity(conn)?;
            let webhooks = store::webhooks::names(conn, WEBHOOKS_SHOWN)?;
            let ids: Vec<String> = webhooks.iter().map(|(id, _, _)| id.clone()).collect();
            let counts = store::deliveries::count_since_by_webhook(conn, &ids, &since)?;
            let failed = store::deliveries::count_failed_since(conn, &since)?;
            let mut overview = assemble(severities, &counts, webhooks, failed);
            overview.schedules_due = store::schedules::due_soonest(conn, SCHEDULES_SHOWN)?
                .into_iter()
                .map(|(id, name, due_at)| DueSchedule { id, name, due_at })
                .collect();
            let silent = silent_sources(conn, now - DAY_MS)?;
            overview.silent_total = silent.len();
            overview.silent_sources = silent.into_iter().take(SILENT_SOURCES_SHOWN).collect();
            Ok(overview)
        })
        .await
}

/// Enabled sources whose latest request is older than `cutoff` (or that have none), longest
/// silent first. Sources are few (each is a sender set up by hand), so all are read.
fn silent_sources(
    conn: &mut store::AnyConnection,
    cutoff: i64,
) -> Result<Vec<SilentSource>, StoreError> {
    let sources: Vec<_> = store::sources::all(conn)?
        .into_iter()
        .filter(|source| source.enabled)
        .collect();
    let ids: Vec<String> = sources.iter().map(|source| source.id.clone()).collect();
    let last: HashMap<String, Option<i64>> = store::sources::last_received_by_source(conn, &ids)?
        .into_iter()
        .collect();
    let mut silent: Vec<SilentSource> = sources
        .into_iter()
        .map(|source| SilentSource {
            last_received_at: last.get(&source.id).copied().flatten(),
            id: source.id,
            name: source.name,
            kind: source.kind,
        })
        .filter(|source| source.last_received_at.is_none_or(|at| at < cutoff))
        .collect();
    silent.sort_by_key(|source| (source.last_received_at, source.name.clone()));
    Ok(silent)
}

/// The webhooks `(id, name, active)` of a page of the webhooks list, each with its last 24
/// hours' counts and the status of its newest delivery (one indexed lookup per webhook).
pub async fn webhooks_health(
    store: &Store,
    webhooks: Vec<(String, String, bool)>,
) -> Result<Vec<(WebhookHealth, Option<String>)>, StoreError> {
    let since = id_bound_at("dlv", now_millis() - DAY_MS);
    store
        .read(move |conn| {
            let ids: Vec<String> = webhooks.iter().map(|(id, _, _)| id.clone()).collect();
            let counts = store::deliveries::count_since_by_webhook(conn, &ids, &since)?;
            with_counts(&counts, webhooks)
                .into_iter()
                .map(|health| {
                    let last = store::deliveries::last_status(conn, &health.id)?;
                    Ok((health, last))
                })
                .collect()
        })
        .await
}

/// Each webhook with its deliveries' counts by status, grouped from `(webhook, status, n)`.
fn with_counts(
    counts: &[(String, String, i64)],
    webhooks: Vec<(String, String, bool)>,
) -> Vec<WebhookHealth> {
    let mut per_webhook: HashMap<&str, (i64, i64, i64)> = HashMap::new();
    for (webhook, status, count) in counts {
        let entry = per_webhook.entry(webhook).or_default();
        match status.as_str() {
            SUCCEEDED => entry.0 += count,
            FAILED => entry.1 += count,
            _ => entry.2 += count,
        }
    }
    webhooks
        .into_iter()
        .map(|(id, name, active)| {
            let (succeeded, failed, pending) =
                per_webhook.get(id.as_str()).copied().unwrap_or_default();
            WebhookHealth {
                id,
                name,
                active,
                succeeded,
                failed,
                pending,
            }
        })
        .collect()
}

fn assemble(
    severities: Vec<(String, i64)>,
    counts: &[(String, String, i64)],
    webhooks: Vec<(String, String, bool)>,
    failed_last_day: i64,
) -> Overview {
    let open: HashMap<String, i64> = severities.into_iter().collect();
    let webhooks = with_counts(counts, webhooks);
    Overview {
        open_incidents: SEVERITIES
            .iter()
            .map(|severity| {
                (
                    severity.to_string(),
                    open.get(*severity).copied().unwrap_or(0),
                )
            })
            .collect(),
        failed_last_day,
        webhooks,
        schedules_due: Vec::new(),
        silent_sources: Vec::new(),
        silent_total: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_per_webhook_and_severity() {
        let counts = vec![
            ("whk_a".to_owned(), "succeeded".to_owned(), 3),
            ("whk_a".to_owned(), "failed".to_owned(), 1),
            ("whk_b".to_owned(), "pending".to_owned(), 2),
        ];
        let overview = assemble(
            vec![("warning".to_owned(), 4)],
            &counts,
            vec![
                ("whk_a".to_owned(), "a".to_owned(), true),
                ("whk_b".to_owned(), "b".to_owned(), false),
            ],
            3,
        );
        assert_eq!(overview.open_incidents[0], ("critical".to_owned(), 0));
        assert_eq!(overview.open_incidents[1], ("warning".to_owned(), 4));
        assert_eq!(overview.failed_last_day, 3);
        assert_eq!(overview.webhooks[0].success_percent(), Some(75));
        assert_eq!(overview.webhooks[1].success_percent(), None);
        assert_eq!(overview.webhooks[1].pending, 2);
    }
}
