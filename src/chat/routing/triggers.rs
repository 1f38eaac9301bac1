//! Triggers as a resource (`/api/v1/triggers`): created, read, replaced and deleted with an
//! audit entry each, and routed at once: the local routing table is rebuilt after every
//! change, and every instance rebuilds its own when the trigger generation moves.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::route::Route;
use super::table::{Index, RoutingTable};
use crate::audit::{self, Change};
use crate::chat::exchange::Verdict;
use crate::chat::trigger::{TriggerSpec, token};
use crate::ids::new_id;
use crate::outbound::NetworkPolicy;
use crate::periodic;
use crate::secrets::{self, Resealing, Secrets, SecretsError};
use crate::store::chat_exchanges::ExchangeFilter;
use crate::store::triggers::TriggerRow;
use crate::store::{self, AnyConnection, Page, PageRequest, Store, StoreError};
use crate::timestamp::now_millis;
use crate::validation::Invalid;

/// How often an instance looks for changes made through other instances.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub id: String,
    pub spec: TriggerSpec,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a trigger named `{0}` already exists")]
    NameTaken(String),
    #[error("no trigger with id `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored form: tokens hashed, other credentials sealed.
fn to_row(trigger: &Trigger, secrets: &Secrets) -> Result<TriggerRow, StoreError> {
    let mut spec = trigger.spec.clone();
    spec.hash_tokens();
    Ok(TriggerRow {
        id: trigger.id.clone(),
        name: trigger.spec.name.clone(),
        kind: trigger.spec.kind.as_str().to_owned(),
        enabled: trigger.spec.enabled,
        config: secrets.seal(&spec)?,
        created_at: trigger.created_at,
        updated_at: trigger.updated_at,
    })
}

/// The stored trigger, its credentials opened (its tokens stay hashed).
fn from_row(row: &TriggerRow, secrets: &Secrets) -> Result<Trigger, StoreError> {
    let spec = secrets
        .open(&row.config)
        .map_err(|error| StoreError::unreadable("trigger", &row.id, error))?;
    Ok(Trigger {
        id: row.id.clone(),
        spec,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Hashes stored triggers' tokens and seals their credentials again under the current key
/// (those with a credential or token in clear, or all), reading them with any known key;
/// returns how many were.
pub fn reseal_stored(
    conn: &mut AnyConnection,
    secrets: &Secrets,
    which: Resealing,
) -> Result<usize, StoreError> {
    let rows = store::triggers::all(conn)?;
    which.apply(rows, in_clear, |row| {
        store::triggers::update(conn, &to_row(&from_row(&row, secrets)?, secrets)?).map(drop)
    })
}

/// Whether a stored trigger holds a credential in clear or a token not hashed.
fn in_clear(row: &TriggerRow) -> Result<bool, StoreError> {
    let unreadable = |error| StoreError::unreadable("trigger", &row.id, error);
    let spec: TriggerSpec =
        serde_json::from_str(&row.config).map_err(|error| unreadable(SecretsError::Json(error)))?;
    Ok(spec.tokens.iter().any(|stored| !token::is_hashed(stored))
        || secrets::holds_clear::<TriggerSpec>(&row.config).map_err(unreadable)?)
}

/// The trigger resource and the routing table it feeds.
#[derive(Clone)]
pub struct Triggers {
    store: Store,
    routing: Arc<RoutingTable>,
}

impl Triggers {
    /// Builds the routing table from the stored triggers.
    pub async fn load(store: Store) -> Result<Self, StoreError> {
        let triggers = Self {
            store,
            routing: Arc::new(RoutingTable::default()),
        };
        triggers.rebuild().await?;
        Ok(triggers)
    }

    pub fn routing(&self) -> &Arc<RoutingTable> {
        &self.routing
    }

    /// Reads every trigger and installs a new index.
    pub async fn rebuild(&self) -> Result<(), StoreError> {
        let (rows, generation) = self
            .store
            .read(|conn| {
                let generation = store::triggers::generation(conn)?;
                Ok::<_, StoreError>((store::triggers::all(conn)?, generation))
            })
            .await?;
        let mut routes = Vec::with_capacity(rows.len());
        for row in &rows {
            let trigger = from_row(row, self.store.secrets())?;
            match Route::compile(trigger.id, trigger.spec, trigger.updated_at) {
                Ok(route) => routes.push(Arc::new(route)),
                Err(invalid) => {
                    tracing::error!(trigger = %row.name, %invalid, "a stored trigger cannot be routed");
                }
            }
        }
        self.routing.install(Index::build(routes), generation);
        Ok(())
    }

    /// Rebuilds whenever another instance changed triggers, until `stop`.
    pub async fn keep_fresh(self, stop: CancellationToken) {
        periodic::every(REFRESH_EVERY, stop, || async {
            let seen = self.store.read(store::triggers::generation).await;
            let stale = seen
                .as_ref()
                .map_or(true, |generation| *generation != self.routing.generation());
            if stale && let Err(error) = self.rebuild().await {
                tracing::warn!(%error, "cannot refresh the routing table");
            }
        })
        .await;
    }

    async fn changed(&self) {
        if let Err(error) = self.rebuild().await {
            tracing::error!(%error, "cannot rebuild the routing table; retrying within a second");
        }
    }

    pub async fn create(
        &self,
        policy: &NetworkPolicy,
        mut spec: TriggerSpec,
        actor: &str,
    ) -> Result<Trigger, TriggerError> {
        spec.check_sent_tokens()?;
        spec.validate_with_network(policy).await?;
        let now = now_millis();
        let trigger = Trigger {
            id: new_id("trg"),
            spec,
            created_at: now,
            updated_at: now,
        };
        let actor = actor.to_owned();
        let secrets = Arc::clone(self.store.secrets());
        let created = self
            .store
            .write(move |conn| {
                store::secret_keys::record_sealing(conn, &secrets)?;
                store::triggers::insert(conn, &to_row(&trigger, &secrets)?).map_err(|error| {
                    error.unique_or(|| TriggerError::NameTaken(trigger.spec.name.clone()))
                })?;
                let details = json!({ "trigger": trigger.spec.masked() });
                audit::record(
                    conn,
                    Change::of(&actor, "trigger.created", &trigger.id, details),
                )?;
                Ok::<_, TriggerError>(trigger)
            })
            .await?;
        self.changed().await;
        Ok(created)
    }

    pub async fn get(&self, id: &str) -> Result<Trigger, TriggerError> {
        let id = id.to_owned();
        let secrets = Arc::clone(self.store.secrets());
        self.store
            .read(move |conn| {
                let row = store::triggers::find(conn, &id)?.ok_or(TriggerError::NotFound(id))?;
                Ok(from_row(&row, &secrets)?)
            })
            .await
    }

    /// The exchange log, newest first: of one trigger (which must exist) or of the whole
    /// gateway. The filter's `outcome` is checked (`422` naming `outcome`).
    pub async fn exchanges(&self, filter: ExchangeFilter) -> Result<Vec<Value>, TriggerError> {
        if let Some(outcome) = &filter.outcome
            && !Verdict::ALL
                .iter()
                .any(|verdict| verdict.as_str() == outcome)
        {
            let known: Vec<&str> = Verdict::ALL
                .iter()
                .map(|verdict| verdict.as_str())
                .collect();
            let reason = format!("must be one of {}", known.join(", "));
            return Err(Invalid::new("outcome", reason).into());
        }
        self.store
            .read(move |conn| {
                if let Some(Some(id)) = &filter.trigger_id
                    && store::triggers::find(conn, id)?.is_none()
                {
                    return Err(TriggerError::NotFound(id.clone()));
                }
                let rows = store::chat_exchanges::list(conn, &filter)?;
                let records = rows.iter().map(|row| {
                    serde_json::from_str(&row.record).map_err(|error| {
                        StoreError::Corrupt(format!("chat exchange {}: {error}", row.id))
                    })
                });
                Ok(records.collect::<Result<_, _>>()?)
            })
            .await
    }

    /// The latest request of each of `ids` that received one: when (Unix milliseconds) and its
    /// outcome, by trigger id.
    pub async fn last_requests(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<(String, i64, String)>, TriggerError> {
        Ok(self
            .store
            .read(move |conn| store::chat_exchanges::latest_of(conn, &ids))
            .await?)
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<Trigger>, TriggerError> {
        let secrets = Arc::clone(self.store.secrets());
        self.store
            .read(move |conn| {
                Ok(store::triggers::list(conn, &page)?.try_map(|row| from_row(row, &secrets))?)
            })
            .await
    }

    /// Replaces a trigger's whole specification. Secrets sent back masked keep their value.
    pub async fn replace(
        &self,
        policy: &NetworkPolicy,
        id: &str,
        mut spec: TriggerSpec,
        actor: &str,
    ) -> Result<Trigger, TriggerError> {
        let current = self.get(id).await?;
        spec.check_sent_tokens()?;
        spec.keep_masked_secrets(&current.spec);
        spec.validate_with_network(policy).await?;
        let updated = Trigger {
            id: current.id.clone(),
            spec,
            created_at: current.created_at,
            updated_at: now_millis().max(current.updated_at + 1),
        };
        let actor = actor.to_owned();
        let secrets = Arc::clone(self.store.secrets());
        let replaced = self
            .store
            .write(move |conn| {
                store::secret_keys::record_sealing(conn, &secrets)?;
                let row = to_row(&updated, &secrets)?;
                let found = store::triggers::update(conn, &row).map_err(|error| {
                    error.unique_or(|| TriggerError::NameTaken(row.name.clone()))
                })?;
                if !found {
                    return Err(TriggerError::NotFound(row.id));
                }
                let details = audit::changes(&current.spec.masked(), &updated.spec.masked());
                audit::record(
                    conn,
                    Change::of(&actor, "trigger.updated", &row.id, details),
                )?;
                Ok(updated)
            })
            .await?;
        self.changed().await;
        Ok(replaced)
    }

    pub async fn delete(&self, id: &str, actor: &str) -> Result<(), TriggerError> {
        let (id, actor) = (id.to_owned(), actor.to_owned());
        self.store
            .write(move |conn| {
                let row = store::triggers::find(conn, &id)?
                    .ok_or_else(|| TriggerError::NotFound(id.clone()))?;
                store::triggers::delete(conn, &id)?;
                let details = json!({ "name": row.name });
                audit::record(conn, Change::of(&actor, "trigger.deleted", &id, details))?;
                Ok::<_, TriggerError>(())
            })
            .await?;
        self.changed().await;
        Ok(())
    }
}
