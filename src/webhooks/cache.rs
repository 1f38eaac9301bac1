//! Parsed webhook configurations, reused while their `updated_at` is unchanged. Each use still
//! asks the database which webhooks exist and at which version, inside the caller's
//! transaction, so a change made by any process is seen at once; only the parsing is saved.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Webhook, from_row};
use crate::model::Event;
use crate::secrets::Secrets;
use crate::store::{self, AnyConnection, StoreError};

pub struct WebhookCache {
    parsed: Mutex<HashMap<String, Arc<Webhook>>>,
    /// Opens the credentials of the webhooks read.
    secrets: Arc<Secrets>,
}

impl WebhookCache {
    pub fn new(secrets: Arc<Secrets>) -> Self {
        Self {
            parsed: Mutex::default(),
            secrets,
        }
    }

    /// Active webhooks that accept `event` (its type, and their filters).
    pub fn subscribers(
        &self,
        conn: &mut AnyConnection,
        event: &Event,
    ) -> Result<Vec<Arc<Webhook>>, StoreError> {
        self.active_where(conn, |webhook| webhook.accepts(event))
    }

    /// Active webhooks subscribed to `event_type`, for an event that is not about an incident
    /// (only incident events have filters and forwarding modes to pass).
    pub fn subscribers_to(
        &self,
        conn: &mut AnyConnection,
        event_type: &str,
    ) -> Result<Vec<Arc<Webhook>>, StoreError> {
        self.active_where(conn, |webhook| webhook.subscribes_to(event_type))
    }

    fn active_where(
        &self,
        conn: &mut AnyConnection,
        wanted: impl Fn(&Webhook) -> bool,
    ) -> Result<Vec<Arc<Webhook>>, StoreError> {
        let versions = store::webhooks::active_versions(conn)?;
        Ok(self
            .resolve(conn, versions)?
            .into_iter()
            .filter(|webhook| wanted(webhook))
            .collect())
    }

    /// The webhooks with these ids that still exist.
    pub fn get_many(
        &self,
        conn: &mut AnyConnection,
        ids: &[String],
    ) -> Result<Vec<Arc<Webhook>>, StoreError> {
        let versions = store::webhooks::versions(conn, ids)?;
        self.resolve(conn, versions)
    }

    fn resolve(
        &self,
        conn: &mut AnyConnection,
        versions: Vec<(String, i64)>,
    ) -> Result<Vec<Arc<Webhook>>, StoreError> {
        let cached = |id: &str, updated_at: i64| {
            self.lock()
                .get(id)
                .filter(|webhook| webhook.updated_at == updated_at)
                .cloned()
        };
        let missing: Vec<String> = versions
            .iter()
            .filter(|(id, updated_at)| cached(id, *updated_at).is_none())
            .map(|(id, _)| id.clone())
            .collect();
        if !missing.is_empty() {
            for row in store::webhooks::find_many(conn, &missing)? {
                let webhook = Arc::new(from_row(&row, &self.secrets)?);
                self.lock().insert(webhook.id.clone(), webhook);
            }
        }
        Ok(versions
            .iter()
            .filter_map(|(id, updated_at)| cached(id, *updated_at))
            .collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Webhook>>> {
        // A panic while holding this lock cannot leave the map inconsistent: keep using it.
        self.parsed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
