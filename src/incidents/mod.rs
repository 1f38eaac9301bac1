//! Incidents (SPEC §4): opened by alerts or directly, changed with a timeline that records who
//! changed what, and announced to webhooks as events in the same transaction as each change.

mod answers;
mod changes;
mod chat;
mod forward;
mod intake;
mod lifecycle;
mod model;
mod patch;

pub use answers::AnswerPatches;
pub use chat::IncidentCommands;
pub use forward::forward;
pub use intake::{
    AlertAction, AlertInput, AlertResult, AttributesInput, CheckedAlert, NewIncident, alert,
    apply as apply_alert, create,
};
pub use model::{Attribute, Incident, TimelineEntry, parse_severity};
pub use patch::{Operations, Patch, PatchError, PatchInput, patch};

use std::collections::HashMap;

use crate::model::incident_fields::STATUSES;
use crate::store::incidents::{IncidentFilter, IncidentRow};
use crate::store::{self, AnyConnection, Locks, Page, PageRequest, Store, StoreError, Transient};
use crate::validation::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("no incident `{0}`")]
    NotFound(String),
    #[error("no unresolved incident has the dedup_key `{0}`")]
    NoOpenIncident(String),
    #[error("an unresolved incident already has the dedup_key `{0}`")]
    DedupKeyTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Transient for IncidentError {
    fn is_transient(&self) -> bool {
        matches!(self, IncidentError::Store(error) if error.is_transient_conflict())
    }
}

/// An incident by id (`inc_…`) or by number, with its whole timeline. After a change this
/// answers the API (the change's event carries only the latest entries); it reads on the pool,
/// not in the writer.
pub async fn get(store: &Store, reference: &str) -> Result<Incident, IncidentError> {
    let reference = reference.to_owned();
    store
        .read(move |conn| {
            let row = find(conn, &reference)?.ok_or(IncidentError::NotFound(reference))?;
            Ok(with_timelines(conn, vec![row])?.remove(0))
        })
        .await
}

impl From<PatchError> for IncidentError {
    fn from(error: PatchError) -> Self {
        match error {
            PatchError::DedupKeyTaken(_) => {
                Invalid::new("operations.appendIntent.intent", error.to_string()).into()
            }
            PatchError::Store(store) => store.into(),
        }
    }
}

/// The id of the incident `reference` names, and the locks a change to it takes (read before
/// the change, which must declare them before it runs). The change reads the incident again
/// by id under those locks; what decides them, its dedup key or else its id, never changes.
async fn locate(store: &Store, reference: &str) -> Result<(String, Locks), IncidentError> {
    let reference = reference.to_owned();
    store
        .read(move |conn| {
            let row = find(conn, &reference)?.ok_or(IncidentError::NotFound(reference))?;
            Ok((row.id.clone(), Locks::incident(&row)))
        })
        .await
}

/// The incident `id`, read in the caller's transaction; `NotFound` if there is none.
fn find_by_id(conn: &mut AnyConnection, id: &str) -> Result<IncidentRow, IncidentError> {
    store::incidents::find(conn, id)?.ok_or_else(|| IncidentError::NotFound(id.to_owned()))
}

/// An incident row by id (`inc_…`) or by number.
fn find(conn: &mut AnyConnection, reference: &str) -> Result<Option<IncidentRow>, StoreError> {
    match reference.parse::<i64>() {
        Ok(number) => store::incidents::find_by_number(conn, number),
        Err(_) => store::incidents::find(conn, reference),
    }
}

/// Newest first, narrowed by `filter`; values of `status` and `severity` are checked.
pub async fn list(
    store: &Store,
    filter: IncidentFilter,
    page: PageRequest,
) -> Result<Page<Incident>, IncidentError> {
    if let Some(status) = &filter.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(Invalid::new("status", "must be open, acknowledged or resolved").into());
    }
    let filter = IncidentFilter {
        severity: filter
            .severity
            .as_deref()
            .map(parse_severity)
            .transpose()?
            .map(str::to_owned),
        ..filter
    };
    store
        .read(move |conn| {
            let rows = store::incidents::list(conn, &filter, &page)?;
            let next_cursor = rows.next_cursor;
            let items = with_timelines(conn, rows.items)?;
            Ok(Page { items, next_cursor })
        })
        .await
}

/// The incidents with their timelines, read in one query.
fn with_timelines(
    conn: &mut AnyConnection,
    rows: Vec<IncidentRow>,
) -> Result<Vec<Incident>, StoreError> {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let mut timelines: HashMap<String, Vec<_>> = HashMap::new();
    for entry in store::incidents::timelines(conn, &ids)? {
        timelines
            .entry(entry.incident_id.clone())
            .or_default()
            .push(entry);
    }
    rows.iter()
        .map(|row| Incident::from_rows(row, timelines.get(&row.id).map_or(&[][..], Vec::as_slice)))
        .collect()
}
