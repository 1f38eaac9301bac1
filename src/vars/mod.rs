//! Global variables for templates (`{{vars.KEY}}`, Tactical RMM's `{{global.X}}`): stored in the
//! database, read by every render from a snapshot that is replaced at once after a local change
//! and at least every second otherwise, so other instances' changes arrive too.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::audit::{self, Change};
use crate::periodic;
use crate::store::vars::VarRow;
use crate::store::{self, Page, PageRequest, Store, StoreError};
use crate::templates::Globals;
use crate::timestamp::now_millis;
use crate::validation::Invalid;

pub const REFRESH_EVERY: Duration = Duration::from_secs(1);
const MAX_KEY_CHARS: usize = 64;
const MAX_VALUE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    pub key: String,
    pub value: Value,
    pub updated_by: String,
    pub updated_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum VarError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("no variable `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Vars {
    store: Store,
    snapshot: RwLock<Arc<Value>>,
    refreshes: periodic::RefreshOrder,
}

impl Vars {
    /// Loads the variables once; [`Vars::keep_fresh`] keeps them current.
    pub async fn load(store: Store) -> Result<Self, StoreError> {
        let vars = Self {
            store,
            snapshot: RwLock::new(Arc::new(Value::Object(Map::new()))),
            refreshes: periodic::RefreshOrder::default(),
        };
        vars.refresh().await?;
        Ok(vars)
    }

    /// The variables as an object of keys to values, as of the last refresh.
    pub fn snapshot(&self) -> Arc<Value> {
        Arc::clone(
            &self
                .snapshot
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    pub async fn refresh(&self) -> Result<(), StoreError> {
        let ticket = self.refreshes.begin();
        let rows = self.store.read(store::vars::all).await?;
        let object: Map<String, Value> = rows
            .into_iter()
            .map(|(key, value)| {
                let value = serde_json::from_str(&value).unwrap_or(Value::String(value));
                (key, value)
            })
            .collect();
        self.refreshes.install(ticket, || {
            *self
                .snapshot
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(Value::Object(object));
        });
        Ok(())
    }

    /// Refreshes every [`REFRESH_EVERY`] until `stop`.
    pub async fn keep_fresh(self: Arc<Self>, stop: CancellationToken) {
        periodic::every(REFRESH_EVERY, stop, || async {
            if let Err(error) = self.refresh().await {
                tracing::warn!(%error, "cannot refresh the template variables");
            }
        })
        .await;
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<Var>, VarError> {
        let rows = self
            .store
            .read(move |conn| store::vars::list(conn, &page))
            .await?;
        Ok(rows.map(from_row))
    }

    pub async fn get(&self, key: &str) -> Result<Var, VarError> {
        let key = key.to_owned();
        let row = self
            .store
            .read({
                let key = key.clone();
                move |conn| store::vars::find(conn, &key)
            })
            .await?;
        row.map(from_row).ok_or(VarError::NotFound(key))
    }

    /// Sets a variable; returns it and whether it is new.
    pub async fn put(&self, key: &str, value: Value, actor: &str) -> Result<(Var, bool), VarError> {
        validate_key(key)?;
        let text = value.to_string();
        if text.len() > MAX_VALUE_BYTES {
            return Err(Invalid::new(
                "value",
                format!("must be at most {MAX_VALUE_BYTES} bytes as JSON"),
            )
            .into());
        }
        let row = VarRow {
            key: key.to_owned(),
            value: text,
            updated_by: actor.to_owned(),
            updated_at: now_millis(),
        };
        let stored = row.clone();
        let existed = self
            .store
            .write(move |conn| {
                let existed = store::vars::put(conn, &row)?;
                let action = if existed {
                    "var.updated"
                } else {
                    "var.created"
                };
                record(conn, &row.updated_by, action, &row.key)?;
                Ok::<_, StoreError>(existed)
            })
            .await?;
        self.refresh_after_change().await;
        Ok((from_row(stored), !existed))
    }

    pub async fn delete(&self, key: &str, actor: &str) -> Result<(), VarError> {
        let (key, actor) = (key.to_owned(), actor.to_owned());
        self.store
            .write(move |conn| {
                if !store::vars::delete(conn, &key)? {
                    return Err(VarError::NotFound(key));
                }
                record(conn, &actor, "var.deleted", &key)?;
                Ok(())
            })
            .await?;
        self.refresh_after_change().await;
        Ok(())
    }

    /// The change is committed; a failed refresh only delays it until the next tick.
    async fn refresh_after_change(&self) {
        if let Err(error) = self.refresh().await {
            tracing::warn!(%error, "cannot refresh the template variables");
        }
    }
}

/// Where renders get what they read besides the event: the allow-listed environment
/// variables, read once at start, and the current variables.
#[derive(Clone)]
pub struct GlobalsSource {
    env: Arc<Value>,
    vars: Arc<Vars>,
}

impl GlobalsSource {
    pub fn new<'a>(env_allow: impl IntoIterator<Item = &'a str>, vars: Arc<Vars>) -> Self {
        Self {
            env: Globals::env_from(env_allow),
            vars,
        }
    }

    pub fn current(&self) -> Globals {
        Globals {
            env: Arc::clone(&self.env),
            vars: self.vars.snapshot(),
        }
    }
}

/// Keys are what a template path can name: letters, digits and `_`.
fn validate_key(key: &str) -> Result<(), Invalid> {
    let fits = !key.is_empty()
        && key.chars().count() <= MAX_KEY_CHARS
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if fits {
        Ok(())
    } else {
        Err(Invalid::new(
            "key",
            format!("must be 1 to {MAX_KEY_CHARS} letters, digits or `_`"),
        ))
    }
}

/// Values are audited by key only: they may hold anything.
fn record(
    conn: &mut store::AnyConnection,
    actor: &str,
    action: &str,
    key: &str,
) -> Result<(), StoreError> {
    audit::record(
        conn,
        Change {
            actor,
            action,
            resource_type: "var",
            resource_id: key,
            details: json!({ "key": key }),
        },
    )
}

fn from_row(row: VarRow) -> Var {
    Var {
        value: serde_json::from_str(&row.value).unwrap_or(Value::String(row.value)),
        key: row.key,
        updated_by: row.updated_by,
        updated_at: row.updated_at,
    }
}

#[cfg(test)]
mod tests {
    use super::validate_key;

    #[test]
    fn keys_are_template_path_segments() {
        assert!(validate_key("report_url").is_ok());
        assert!(validate_key("A1").is_ok());
        for bad in ["", "with-dash", "dot.ted", "space d", &"k".repeat(65)] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}
