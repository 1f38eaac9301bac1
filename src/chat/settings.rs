//! The `chat.*` switches at runtime (`GET/PUT /api/v1/settings`): the configuration gives the
//! defaults, a stored value wins, and every instance picks up a change within a second. Reads
//! on the hot path are plain atomic loads.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::audit::{self, Change};
use crate::config::ChatConfig;
use crate::periodic;
use crate::store::settings::SettingRow;
use crate::store::{self, Store, StoreError};
use crate::timestamp::now_millis;
use crate::validation::Invalid;

const REFRESH_EVERY: Duration = Duration::from_secs(1);
const MAX_POST_CHARS_LIMIT: usize = 1_000_000;

/// The settings as shown and as changed: every key optional in a change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsDocument {
    #[serde(default)]
    pub chat: ChatSettingsDocument,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatSettingsDocument {
    /// Off: `/hooks/outgoing` and `/hooks/slash` answer `501`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Let service answers set `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_username_override: Option<bool>,
    /// Let service answers set `icon_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_icon_override: Option<bool>,
    /// Longer reply text is cut (synchronous replies) or split (asynchronous ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_post_chars: Option<usize>,
}

pub struct ChatSettings {
    store: Store,
    defaults: ChatConfig,
    enabled: AtomicBool,
    allow_username_override: AtomicBool,
    allow_icon_override: AtomicBool,
    max_post_chars: AtomicUsize,
    refreshes: periodic::RefreshOrder,
}

impl ChatSettings {
    pub async fn load(store: Store, defaults: ChatConfig) -> Result<Arc<Self>, StoreError> {
        let settings = Arc::new(Self {
            store,
            enabled: AtomicBool::new(defaults.enabled),
            allow_username_override: AtomicBool::new(defaults.allow_username_override),
            allow_icon_override: AtomicBool::new(defaults.allow_icon_override),
            max_post_chars: AtomicUsize::new(defaults.max_post_chars),
            refreshes: periodic::RefreshOrder::default(),
            defaults,
        });
        settings.refresh().await?;
        Ok(settings)
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn allow_username_override(&self) -> bool {
        self.allow_username_override.load(Ordering::Relaxed)
    }

    pub fn allow_icon_override(&self) -> bool {
        self.allow_icon_override.load(Ordering::Relaxed)
    }

    pub fn max_post_chars(&self) -> usize {
        self.max_post_chars.load(Ordering::Relaxed)
    }

    pub fn document(&self) -> SettingsDocument {
        SettingsDocument {
            chat: ChatSettingsDocument {
                enabled: Some(self.enabled()),
                allow_username_override: Some(self.allow_username_override()),
                allow_icon_override: Some(self.allow_icon_override()),
                max_post_chars: Some(self.max_post_chars()),
            },
        }
    }

    /// The configured defaults by key, as JSON values.
    fn defaults_document(&self) -> HashMap<&'static str, Value> {
        HashMap::from([
            ("chat.enabled", Value::from(self.defaults.enabled)),
            (
                "chat.allow_username_override",
                Value::from(self.defaults.allow_username_override),
            ),
            (
                "chat.allow_icon_override",
                Value::from(self.defaults.allow_icon_override),
            ),
            (
                "chat.max_post_chars",
                Value::from(self.defaults.max_post_chars),
            ),
        ])
    }

    /// Reads the stored values; what is not stored keeps its configured default.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let ticket = self.refreshes.begin();
        let rows = self.store.read(store::settings::all).await?;
        let mut current = ChatSettingsDocument::default();
        for (key, value) in rows {
            let Ok(value) = serde_json::from_str::<Value>(&value) else {
                continue;
            };
            match key.as_str() {
                "chat.enabled" => current.enabled = value.as_bool(),
                "chat.allow_username_override" => current.allow_username_override = value.as_bool(),
                "chat.allow_icon_override" => current.allow_icon_override = value.as_bool(),
                "chat.max_post_chars" => {
                    current.max_post_chars = value.as_u64().and_then(|n| usize::try_from(n).ok());
                }
                _ => {}
            }
        }
        self.refreshes.install(ticket, || self.apply(&current));
        Ok(())
    }

    /// Stored values over the configured defaults.
    fn apply(&self, current: &ChatSettingsDocument) {
        let defaults = &self.defaults;
        self.enabled.store(
            current.enabled.unwrap_or(defaults.enabled),
            Ordering::Relaxed,
        );
        self.allow_username_override.store(
            current
                .allow_username_override
                .unwrap_or(defaults.allow_username_override),
            Ordering::Relaxed,
        );
        self.allow_icon_override.store(
            current
                .allow_icon_override
                .unwrap_or(defaults.allow_icon_override),
            Ordering::Relaxed,
        );
        self.max_post_chars.store(
            current.max_post_chars.unwrap_or(defaults.max_post_chars),
            Ordering::Relaxed,
        );
    }

    pub async fn keep_fresh(self: Arc<Self>, stop: CancellationToken) {
        periodic::every(REFRESH_EVERY, stop, || async {
            if let Err(error) = self.refresh().await {
                tracing::warn!(%error, "cannot refresh the settings");
            }
        })
        .await;
    }

    /// Stores the keys `change` sets (the others keep their values), with an audit entry.
    pub async fn update(
        &self,
        change: SettingsDocument,
        actor: &str,
    ) -> Result<SettingsDocument, SettingsError> {
        let chat = change.chat;
        if let Some(max) = chat.max_post_chars
            && !(1..=MAX_POST_CHARS_LIMIT).contains(&max)
        {
            return Err(Invalid::new(
                "chat.max_post_chars",
                format!("must be between 1 and {MAX_POST_CHARS_LIMIT}"),
            )
            .into());
        }
        let values: Vec<(&str, Value)> = [
            ("chat.enabled", chat.enabled.map(Value::from)),
            (
                "chat.allow_username_override",
                chat.allow_username_override.map(Value::from),
            ),
            (
                "chat.allow_icon_override",
                chat.allow_icon_override.map(Value::from),
            ),
            ("chat.max_post_chars", chat.max_post_chars.map(Value::from)),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
        let rows: Vec<SettingRow> = values
            .iter()
            .map(|(key, value)| SettingRow {
                key: (*key).to_owned(),
                value: value.to_string(),
                updated_by: actor.to_owned(),
                updated_at: now_millis(),
            })
            .collect();
        let defaults = self.defaults_document();
        let actor = actor.to_owned();
        self.store
            .write(move |conn| {
                // What each key was (stored, or else its configured default), read in the
                // transaction that changes it, so the audit entry's `old` is exact.
                let stored: HashMap<String, String> =
                    store::settings::all(conn)?.into_iter().collect();
                let changes: Vec<Value> = values
                    .iter()
                    .map(|(key, new)| {
                        let old = stored
                            .get(*key)
                            .and_then(|text| serde_json::from_str::<Value>(text).ok())
                            .or_else(|| defaults.get(*key).cloned())
                            .unwrap_or(Value::Null);
                        json!({"field": key, "old": old, "new": new})
                    })
                    .collect();
                for row in &rows {
                    store::settings::put(conn, row)?;
                }
                let details = json!({ "changes": changes });
                audit::record(
                    conn,
                    Change::of(&actor, "settings.updated", "chat", details),
                )
            })
            .await?;
        self.refresh().await?;
        Ok(self.document())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
}
