//! Forwarding an incident to a webhook (`POST /api/v1/incidents/{id}/forward`, SPEC §6.2).

use super::changes::{self, Entry};
use super::{Incident, IncidentError, find_by_id, get, locate};
use crate::events::Outbox;
use crate::store::StoreError;
use crate::store::incidents::IncidentRow;
use crate::timestamp::now_millis;
use crate::validation::Invalid;

/// Forwards an incident to a webhook: it joins `forwarded_to`, the timeline records it, and
/// `incident.forwarded` (the incident with its timeline) goes to that webhook whatever its
/// subscriptions — and from then on to its `after_forwarding` deliveries.
pub async fn forward(
    outbox: &Outbox,
    reference: &str,
    webhook_id: &str,
    actor: &str,
) -> Result<Incident, IncidentError> {
    let (id, locks) = locate(outbox.store(), reference).await?;
    let (webhook_id, actor) = (webhook_id.to_owned(), actor.to_owned());
    let forwarded = outbox
        .write_retrying_locked(locks, move |tx| {
            let row = find_by_id(tx, &id)?;
            let webhook = tx
                .webhook(&webhook_id)?
                .ok_or_else(|| Invalid::new("webhook", format!("no webhook `{webhook_id}`")))?;
            let mut forwarded_to: Vec<String> = serde_json::from_str(&row.forwarded_to)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if !forwarded_to.contains(&webhook.id) {
                forwarded_to.push(webhook.id.clone());
            }
            let now = now_millis();
            let updated = IncidentRow {
                forwarded_to: serde_json::to_string(&forwarded_to)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                updated_at: now,
                ..row.clone()
            };
            let message = format!("to {}", webhook.spec.name);
            let entry = Entry {
                intent: "forwarded",
                message: &message,
                actor: &actor,
                at: now,
            };
            Ok::<_, IncidentError>(changes::forward(tx, &row, updated, &entry, &webhook.id)?)
        })
        .await?;
    get(outbox.store(), &forwarded.id).await
}
