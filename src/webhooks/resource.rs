//! Webhooks as a stored resource: created, read, replaced and deleted with an audit entry
//! each, their credentials sealed at rest (SPEC §6.5), and the webhooks the gateway keeps for
//! itself.

use std::sync::Arc;

use serde_json::json;

use super::{Webhook, WebhookError, WebhookSpec};
use crate::audit::{self, Change};
use crate::ids::new_id;
use crate::outbound::NetworkPolicy;
use crate::secrets::{self, Resealing, Sealable, Secrets, SecretsError};
use crate::store::webhooks::{MANAGED_PREFIX, WebhookRow};
use crate::store::{self, AnyConnection, Page, PageRequest, Store, StoreError};
use crate::timestamp::now_millis;
use crate::validation::Invalid;

impl Sealable for WebhookSpec {
    fn each_secret(
        &mut self,
        visit: &mut dyn FnMut(&mut String) -> Result<(), SecretsError>,
    ) -> Result<(), SecretsError> {
        self.endpoint.each_secret(visit)
    }
}

fn to_row(webhook: &Webhook, secrets: &Secrets) -> Result<WebhookRow, StoreError> {
    Ok(WebhookRow {
        id: webhook.id.clone(),
        name: webhook.spec.name.clone(),
        active: webhook.spec.active,
        config: secrets.seal(&webhook.spec)?,
        created_at: webhook.created_at,
        updated_at: webhook.updated_at,
    })
}

/// The stored webhook, its credentials opened.
pub fn from_row(row: &WebhookRow, secrets: &Secrets) -> Result<Webhook, StoreError> {
    let spec = secrets
        .open(&row.config)
        .map_err(|error| StoreError::unreadable("webhook", &row.id, error))?;
    Ok(Webhook::build(
        row.id.clone(),
        spec,
        row.created_at,
        row.updated_at,
    ))
}

/// Seals stored webhooks' credentials again under the current key (those in clear, or all),
/// reading them with any known key; returns how many were.
pub fn reseal_stored(
    conn: &mut AnyConnection,
    secrets: &Secrets,
    which: Resealing,
) -> Result<usize, StoreError> {
    let rows = store::webhooks::all(conn)?;
    let in_clear = |row: &WebhookRow| {
        secrets::holds_clear::<WebhookSpec>(&row.config)
            .map_err(|error| StoreError::unreadable("webhook", &row.id, error))
    };
    which.apply(rows, in_clear, |row| {
        store::webhooks::update(conn, &to_row(&from_row(&row, secrets)?, secrets)?).map(drop)
    })
}

/// Whether the gateway keeps this webhook for itself (it carries chat posts).
pub fn is_managed(id: &str) -> bool {
    id.starts_with(MANAGED_PREFIX)
}

/// Webhooks the gateway keeps for itself are hidden from the list and refused to `PUT` and
/// `DELETE`; their deliveries are in the log like any other's.
fn refuse_managed(id: &str) -> Result<(), WebhookError> {
    if is_managed(id) {
        return Err(WebhookError::Managed(id.to_owned()));
    }
    Ok(())
}

/// Stores a managed webhook as `spec` says, creating it or bringing it up to date (several
/// instances starting at once may race: the loser finds the row in place).
pub async fn ensure_managed(store: &Store, id: &str, spec: WebhookSpec) -> Result<(), StoreError> {
    let id = id.to_owned();
    let secrets = Arc::clone(store.secrets());
    store
        .write(move |conn| {
            let current = store::webhooks::find(conn, &id)?;
            // Sealed values differ at each sealing: compare what they hold.
            if let Some(row) = &current
                && from_row(row, &secrets)?.spec == spec
            {
                return Ok(());
            }
            store::secret_keys::record_sealing(conn, &secrets)?;
            let config = secrets.seal(&spec)?;
            let now = now_millis();
            let row = WebhookRow {
                id: id.clone(),
                name: spec.name.clone(),
                active: spec.active,
                config,
                created_at: current.as_ref().map_or(now, |row| row.created_at),
                updated_at: current
                    .as_ref()
                    .map_or(now, |row| now.max(row.updated_at + 1)),
            };
            match current {
                Some(_) => store::webhooks::update(conn, &row).map(|_| ()),
                None => match store::webhooks::insert(conn, &row) {
                    Err(error) if error.is_unique_violation() => Ok(()),
                    other => other,
                },
            }
        })
        .await
}

pub async fn create(
    store: &Store,
    policy: &NetworkPolicy,
    mut spec: WebhookSpec,
    actor: &str,
) -> Result<Webhook, WebhookError> {
    spec.validate_with_network(policy).await?;
    let now = now_millis();
    let webhook = Webhook::build(new_id("whk"), spec, now, now);
    let actor = actor.to_owned();
    let secrets = Arc::clone(store.secrets());
    store
        .write(move |conn| {
            store::secret_keys::record_sealing(conn, &secrets)?;
            store::webhooks::insert(conn, &to_row(&webhook, &secrets)?).map_err(|error| {
                error.unique_or(|| WebhookError::NameTaken(webhook.spec.name.clone()))
            })?;
            let details = json!({ "webhook": webhook.spec.masked() });
            audit::record(
                conn,
                Change::of(&actor, "webhook.created", &webhook.id, details),
            )?;
            Ok(webhook)
        })
        .await
}

pub async fn get(store: &Store, id: &str) -> Result<Webhook, WebhookError> {
    let id = id.to_owned();
    let secrets = Arc::clone(store.secrets());
    store
        .read(move |conn| {
            let row = store::webhooks::find(conn, &id)?.ok_or(WebhookError::NotFound(id))?;
            Ok(from_row(&row, &secrets)?)
        })
        .await
}

pub async fn list(store: &Store, page: PageRequest) -> Result<Page<Webhook>, WebhookError> {
    let secrets = Arc::clone(store.secrets());
    store
        .read(move |conn| {
            Ok(store::webhooks::list(conn, &page)?.try_map(|row| from_row(row, &secrets))?)
        })
        .await
}

/// Replaces a webhook's whole specification. Secrets sent back masked keep their stored value.
pub async fn replace(
    store: &Store,
    policy: &NetworkPolicy,
    id: &str,
    mut spec: WebhookSpec,
    actor: &str,
) -> Result<Webhook, WebhookError> {
    refuse_managed(id)?;
    let current = get(store, id).await?;
    spec.endpoint.normalize();
    spec.endpoint.keep_masked_secrets(&current.spec.endpoint);
    spec.validate_with_network(policy).await?;
    let updated = Webhook::build(
        current.id.clone(),
        spec,
        current.created_at,
        now_millis().max(current.updated_at + 1),
    );
    let actor = actor.to_owned();
    let secrets = Arc::clone(store.secrets());
    store
        .write(move |conn| {
            store::secret_keys::record_sealing(conn, &secrets)?;
            let row = to_row(&updated, &secrets)?;
            let found = store::webhooks::update(conn, &row)
                .map_err(|error| error.unique_or(|| WebhookError::NameTaken(row.name.clone())))?;
            if !found {
                return Err(WebhookError::NotFound(row.id));
            }
            let details = audit::changes(&current.spec.masked(), &updated.spec.masked());
            audit::record(
                conn,
                Change::of(&actor, "webhook.updated", &row.id, details),
            )?;
            Ok(updated)
        })
        .await
}

/// A webhook not stored, as a form would save it, for previewing its request: checked like a
/// save except for the network, and, when it edits `id`, with masked secrets kept as stored.
pub async fn draft(
    store: &Store,
    id: Option<&str>,
    mut spec: WebhookSpec,
) -> Result<Webhook, WebhookError> {
    spec.endpoint.normalize();
    if let Some(id) = id {
        let current = get(store, id).await?;
        spec.endpoint.keep_masked_secrets(&current.spec.endpoint);
    }
    spec.validate()?;
    let id = id.map_or_else(|| "whk_preview".to_owned(), str::to_owned);
    Ok(Webhook::build(id, spec, 0, 0))
}

/// Deletes a webhook with its deliveries and their log; refused while a schedule fires to it.
pub async fn delete(store: &Store, id: &str, actor: &str) -> Result<(), WebhookError> {
    refuse_managed(id)?;
    let (id, actor) = (id.to_owned(), actor.to_owned());
    store
        .write(move |conn| {
            let row = store::webhooks::find(conn, &id)?
                .ok_or_else(|| WebhookError::NotFound(id.clone()))?;
            if let Some(schedule) = store::schedules::name_using_webhook(conn, &id)? {
                return Err(WebhookError::InUse(schedule));
            }
            store::webhooks::delete(conn, &id)?;
            let details = json!({ "name": row.name });
            audit::record(conn, Change::of(&actor, "webhook.deleted", &id, details))?;
            Ok(())
        })
        .await
}

/// The first stored webhook whose templates do not compile, with the reason; for
/// `check-config`, since a template that compiled when saved may not after an upgrade.
pub fn first_broken(conn: &mut AnyConnection) -> Result<Option<(String, Invalid)>, StoreError> {
    for row in store::webhooks::all(conn)? {
        if is_managed(&row.id) {
            continue;
        }
        // Templates and filters hold no credentials: they are checked without opening any.
        let spec: WebhookSpec = serde_json::from_str(&row.config)
            .map_err(|error| StoreError::Corrupt(format!("webhook {}: {error}", row.id)))?;
        let webhook = Webhook::build(row.id.clone(), spec, row.created_at, row.updated_at);
        if let Err(invalid) = webhook.rendering.and(webhook.filter) {
            return Ok(Some((row.name, invalid)));
        }
    }
    Ok(None)
}
