//! The delivery log as the API shows it, and sending deliveries again by hand.

use serde_json::Value;

use super::DeliveryEngine;
use crate::store::deliveries::{AttemptRow, PENDING, Requeue};
use crate::store::delivery_log::{self, DeliveryFilter, LoggedRow};
use crate::store::{self, Page, PageRequest, Store, StoreError};
use crate::timestamp::now_millis;

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub webhook_name: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    /// When the next attempt is due, for a pending delivery nobody is sending right now.
    pub next_attempt_at: Option<i64>,
    /// A process is sending it at this moment.
    pub in_flight: bool,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub attempt: i32,
    pub initiated_by: String,
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: String,
    /// Method, URL, headers (credentials and signatures masked), body up to 64 KiB.
    pub request: Value,
    /// Status, headers, body up to 64 KiB; absent when no answer came.
    pub response: Option<Value>,
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("no delivery with id `{0}`")]
    NotFound(String),
    #[error("delivery `{0}` is being sent right now; try again when this attempt is recorded")]
    InFlight(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LoggedRow> for Delivery {
    fn from(logged: LoggedRow) -> Self {
        let row = logged.delivery;
        let in_flight = row.lease_owner.is_some();
        let waiting = row.status == PENDING && !in_flight;
        Self {
            id: row.id,
            event_id: row.event_id,
            webhook_id: row.webhook_id,
            webhook_name: logged.webhook_name,
            event_type: logged.event_type,
            status: row.status,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            next_attempt_at: waiting.then_some(row.next_attempt_at),
            in_flight,
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl From<AttemptRow> for Attempt {
    fn from(row: AttemptRow) -> Self {
        let parse = |text: &str| serde_json::from_str(text).unwrap_or(Value::Null);
        Self {
            attempt: row.attempt,
            initiated_by: row.initiated_by,
            started_at: row.started_at,
            duration_ms: row.duration_ms,
            outcome: row.outcome,
            request: parse(&row.request),
            response: row.response.as_deref().map(parse),
            error: row.error,
        }
    }
}

pub async fn list(
    store: &Store,
    filter: DeliveryFilter,
    page: PageRequest,
) -> Result<Page<Delivery>, LogError> {
    let rows = store
        .read(move |conn| delivery_log::list(conn, &filter, &page))
        .await?;
    Ok(rows.map(Delivery::from))
}

pub async fn get(store: &Store, id: &str) -> Result<(Delivery, Vec<Attempt>), LogError> {
    let id = id.to_owned();
    store
        .read(move |conn| {
            let row =
                delivery_log::find(conn, &id)?.ok_or_else(|| LogError::NotFound(id.clone()))?;
            let attempts = delivery_log::attempts_of(conn, &id)?;
            Ok((
                row.into(),
                attempts.into_iter().map(Attempt::from).collect(),
            ))
        })
        .await
}

/// Sends one delivery again now: a finished one gets one more attempt, a waiting one is
/// brought forward.
pub async fn retry(store: &Store, engine: &DeliveryEngine, id: &str) -> Result<Delivery, LogError> {
    let id = id.to_owned();
    let delivery = store
        .write(move |conn| {
            let row =
                delivery_log::find(conn, &id)?.ok_or_else(|| LogError::NotFound(id.clone()))?;
            if row.delivery.lease_owner.is_some() {
                return Err(LogError::InFlight(id));
            }
            store::deliveries::requeue(conn, Requeue::One(&id), now_millis())?;
            let row =
                delivery_log::find(conn, &id)?.ok_or_else(|| LogError::NotFound(id.clone()))?;
            Ok(Delivery::from(row))
        })
        .await?;
    engine.wake();
    Ok(delivery)
}

/// Sends a webhook's deliveries in `status` created since `since` again; returns how many.
pub async fn replay(
    store: &Store,
    engine: &DeliveryEngine,
    webhook_id: &str,
    status: &str,
    since: i64,
) -> Result<usize, LogError> {
    let (webhook_id, status) = (webhook_id.to_owned(), status.to_owned());
    let queued = store
        .write(move |conn| {
            let which = Requeue::OfWebhook {
                webhook_id: &webhook_id,
                status: &status,
                since,
            };
            store::deliveries::requeue(conn, which, now_millis())
        })
        .await?;
    engine.wake();
    Ok(queued)
}
