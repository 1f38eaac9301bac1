//! Webhooks (SPEC §6.2): where events are delivered, in which format, for which event types.

mod cache;
mod filter;
mod rendering;
mod resource;

use serde::{Deserialize, Serialize};

pub use cache::WebhookCache;
pub use filter::{CompiledFilter, Condition, Filter, MatchMode, Op};
pub use rendering::{MAX_TEMPLATE_BYTES, Rendering, body_kind, compile_template};
pub use resource::{
    create, delete, draft, ensure_managed, first_broken, from_row, get, is_managed, list, replace,
    reseal_stored,
};

use crate::model::Event;
use crate::model::event_types::{matches, validate_pattern};
use crate::outbound::{Endpoint, NetworkPolicy};
use crate::store::StoreError;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
