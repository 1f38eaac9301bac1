//! Patches carried by webhook answers (SPEC §4.4): a webhook with `incident_updates` that
//! answers an incident event with All Quiet's `operations` patches that incident — once per
//! delivery, however often the delivery is retried or the answer repeated.
//!
//! The one file of incidents that knows the delivery engine: it implements the engine's
//! [`AnswerHandler`] seam, and writes the patch through an [`Outbox`] on the engine it is
//! handed.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::patch::{self, Operations, Patch};
use super::{Incident, IncidentError, find_by_id, locate};
use crate::delivery::{Answer, AnswerHandler, DeliveryEngine};
use crate::events::Outbox;
use crate::store::{self, Store};
use crate::timestamp::now_millis;
use crate::validation::Invalid;

pub struct AnswerPatches {
    store: Store,
}

impl AnswerPatches {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl AnswerHandler for AnswerPatches {
    fn handle<'a>(
        &'a self,
        engine: &'a DeliveryEngine,
        answer: Answer,
    ) -> BoxFuture<'a, Option<Value>> {
        Box::pin(async move {
            let body: Value = serde_json::from_slice(&answer.body).ok()?;
            let operations = body.get("operations")?.clone();
            let checked = serde_json::from_value::<Operations>(operations)
                .map_err(|error| Invalid::new("operations", error.to_string()))
                .and_then(Operations::check);
            let outcome = match checked {
                Ok(patch) => {
                    let outbox = Outbox::new(self.store.clone(), engine.clone());
                    patch_once(&outbox, answer, patch).await
                }
                Err(invalid) => Err(invalid.into()),
            };
            Some(match outcome {
                Ok(Some(incident)) => {
                    json!({"applied": true, "incident": incident.id, "status": incident.status})
                }
                Ok(None) => {
                    json!({"applied": false, "reason": "already applied for this delivery"})
                }
                Err(error) => json!({"applied": false, "reason": error.to_string()}),
            })
        })
    }
}

/// Applies the patch and marks the delivery's answer as applied, in one transaction; `None`
/// if an earlier answer to the same delivery was applied already.
async fn patch_once(
    outbox: &Outbox,
    answer: Answer,
    patch: Patch,
) -> Result<Option<Incident>, IncidentError> {
    let (id, locks) = locate(outbox.store(), &answer.incident_id).await?;
    outbox
        .write_retrying_locked(locks, move |tx| {
            let now = now_millis();
            let row = find_by_id(tx, &id)?;
            if !store::incidents::mark_answer_applied(tx, &answer.delivery_id, &row.id, now)? {
                return Ok(None);
            }
            let actor = format!("webhook:{}", answer.webhook_name);
            Ok::<_, IncidentError>(Some(patch::apply(tx, row, &patch, &actor, now)?))
        })
        .await
}
