//! Webhooks (SPEC §6.2): where events are delivered, in which format, for which event types.

mod cache;
mod filter;
mod rendering;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

pub use cache::WebhookCache;
pub use filter::{CompiledFilter, Condition, Filter, MatchMode, Op};
pub use rendering::{MAX_TEMPLATE_BYTES, Rendering, body_kind, compile_template};

use crate::audit::{self, Change};
use crate::ids::new_id;
use crate::model::Event;
use crate::model::event_types::{matches, validate_pattern};
use crate::outbound::{Endpoint, NetworkPolicy};
use crate::secrets::{Sealable, Secrets, SecretsError};
use crate::store::webhooks::{MANAGED_PREFIX, WebhookRow};
use crate::store::{self, AnyConnection, Page, PageRequest, Store, StoreError};
use crate::timestamp::now_millis;
use crate::validation::Invalid;

/// What a client sends to create or replace a webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "active_by_default")]
    pub active: bool,
    pub endpoint: Endpoint,
    #[serde(default)]
    pub format: Format,
    /// The body for `format: custom`: a Handlebars template whose output follows the
    /// endpoint's `Content-Type` (JSON unless a form or `text/*` is configured).
    #[serde(default)]
    pub body_template: Option<String>,
    /// A template rendering the whole request as JSON (`method`, `url`, `headers`, `body`); it
    /// overrides `format` and `body_template`.
    #[serde(default)]
    pub request_template: Option<String>,
    /// A variable missing from the context fails the render instead of rendering empty.
    #[serde(default)]
    pub template_strict: bool,
    /// Event types or patterns (`incident.*`, `*`).
    pub events: Vec<String>,
    /// Which incident events pass: severities, statuses, sources, attribute conditions.
    #[serde(default)]
    pub filter: Filter,
    /// When incident events reach this webhook: always, or only once an incident is forwarded
    /// to it (every later event, or just the snapshot at that moment).
    #[serde(default)]
    pub forwarding: Forwarding,
    /// An answer to an incident event may patch that incident (All Quiet's `operations`).
    #[serde(default)]
    pub incident_updates: bool,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn active_by_default() -> bool {
    true
}

fn default_max_attempts() -> u32 {
    8
}

/// VergeOS allows 0 to 100 retries: 101 attempts.
pub const MAX_ATTEMPTS_LIMIT: u32 = 101;
const MAX_NAME_CHARS: usize = 100;

/// How an event becomes a request body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// The event itself, as JSON.
    #[default]
    Generic,
    Slack,
    Mattermost,
    Discord,
    /// The MessageCard of Office 365 connectors.
    Teams,
    /// An Adaptive Card in the Workflows wrapper.
    TeamsAdaptive,
    /// `body_template` renders the body.
    Custom,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Forwarding {
    /// Every matching incident event.
    #[default]
    Always,
    /// Nothing until the incident is forwarded to this webhook, then every matching event.
    AfterForwarding,
    /// Only the snapshot sent when the incident is forwarded to this webhook.
    OnlyOnForwarding,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: String,
    pub spec: WebhookSpec,
    pub created_at: i64,
    pub updated_at: i64,
    /// How events become requests; an error if a stored template no longer compiles (every
    /// delivery then fails with it, and `check-config` reports it).
    pub rendering: Result<Rendering, Invalid>,
    /// The filter, compiled; an error (reported by `check-config`) lets no incident event pass.
    pub filter: Result<CompiledFilter, Invalid>,
}

impl Webhook {
    /// A webhook with its templates and filter compiled.
    fn build(id: String, spec: WebhookSpec, created_at: i64, updated_at: i64) -> Self {
        Self {
            id,
            rendering: Rendering::compile(&spec),
            filter: spec.filter.compile(),
            spec,
            created_at,
            updated_at,
        }
    }

    /// Whether `event` is delivered to this webhook: its type is subscribed to and, for an
    /// incident event, the incident passes the filter.
    pub fn accepts(&self, event: &Event) -> bool {
        if !self.subscribes_to(&event.event_type) {
            return false;
        }
        if !event.event_type.starts_with("incident.") {
            return true;
        }
        let forwarded_here = || {
            event
                .data
                .get("forwarded_to")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(self.id.as_str())))
        };
        let in_mode = match self.spec.forwarding {
            Forwarding::Always => true,
            Forwarding::AfterForwarding => forwarded_here(),
            Forwarding::OnlyOnForwarding => false,
        };
        in_mode
            && self
                .filter
                .as_ref()
                .is_ok_and(|filter| filter.accepts_incident(&event.data))
    }

    pub fn subscribes_to(&self, event_type: &str) -> bool {
        self.spec.active
            && self
                .spec
                .events
                .iter()
                .any(|pattern| matches(pattern, event_type))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a webhook named `{0}` already exists")]
    NameTaken(String),
    #[error("no webhook with id `{0}`")]
    NotFound(String),
    #[error("the webhook `{0}` is managed by Switchyard and cannot be changed")]
    Managed(String),
    #[error(
        "the schedule `{0}` fires to this webhook: delete the schedule or give it another webhook first"
    )]
    InUse(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WebhookSpec {
    /// Everything but the network check: names, subscriptions, the endpoint's form.
    fn validate(&mut self) -> Result<url::Url, Invalid> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() || self.name.chars().count() > MAX_NAME_CHARS {
            return Err(Invalid::new("name", "must be 1 to 100 characters"));
        }
        if self.events.is_empty() {
            return Err(Invalid::new(
                "events",
                "needs at least one event type or pattern",
            ));
        }
        for (index, pattern) in self.events.iter().enumerate() {
            validate_pattern(pattern)
                .map_err(|reason| Invalid::new(format!("events[{index}]"), reason))?;
        }
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            return Err(Invalid::new(
                "max_attempts",
                format!(
                    "must be between 1 and {MAX_ATTEMPTS_LIMIT} (retries = attempts − 1: 0 to {} retries)",
                    MAX_ATTEMPTS_LIMIT - 1
                ),
            ));
        }
        self.endpoint.normalize();
        let url = self
            .endpoint
            .validate()
            .map_err(|error| error.under("endpoint"))?;
        Rendering::compile(self)?;
        self.filter.compile()?;
        Ok(url)
    }

    /// Validates, then resolves the endpoint's host: a URL that points inside the network is
    /// refused when saved, not only when sent.
    async fn validate_with_network(&mut self, policy: &NetworkPolicy) -> Result<(), Invalid> {
        let url = self.validate()?;
        policy
            .check_url(&url)
            .await
            .map_err(|error| Invalid::new("endpoint.url", error.to_string()))
    }

    /// The specification as it may be shown and audited: secrets masked.
    pub fn masked(&self) -> WebhookSpec {
        WebhookSpec {
            endpoint: self.endpoint.masked(),
            ..self.clone()
        }
    }
}

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

/// Seals every stored webhook's credentials under the current key, reading them with any
/// known key: for the first start after an upgrade and for a key rotation.
pub fn reseal_stored(conn: &mut AnyConnection, secrets: &Secrets) -> Result<usize, StoreError> {
    let rows = store::webhooks::all(conn)?;
    for row in &rows {
        let resealed = to_row(&from_row(row, secrets)?, secrets)?;
        store::webhooks::update(conn, &resealed)?;
    }
    Ok(rows.len())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> WebhookSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn specs_are_checked_field_by_field() {
        let base = json!({"name": "ops", "endpoint": {"url": "https://hooks.example.com/x"}, "events": ["incident.*"]});
        assert!(spec(base.clone()).validate().is_ok());
        let cases = [
            ("name", json!("  ")),
            ("events", json!([])),
            ("events[1]", json!(["incident.*", "incident.exploded"])),
            ("max_attempts", json!(0)),
            ("endpoint.url", json!({"url": "gopher://x"})),
        ];
        for (field, value) in cases {
            let mut bad = base.clone();
            let key = field.split(['[', '.']).next().unwrap();
            bad[key] = value;
            assert_eq!(spec(bad).validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn inactive_webhooks_subscribe_to_nothing() {
        let mut webhook = Webhook::build(
            "whk_1".into(),
            spec(
                json!({"name": "a", "endpoint": {"url": "https://a.example"}, "events": ["object.*"]}),
            ),
            0,
            0,
        );
        assert!(webhook.subscribes_to("object.created"));
        assert!(!webhook.subscribes_to("incident.created"));
        webhook.spec.active = false;
        assert!(!webhook.subscribes_to("object.created"));
    }
}
