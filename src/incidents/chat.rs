//! Incidents from chat: patches that chat services answer with (`incident_id` and
//! `operations`), and the built-in commands of a `builtin:incidents` service, so a team can
//! work an incident from the channel with no service of its own.

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::model::Incident;
use super::patch::{Operations, PatchInput, patch};
use super::{IncidentError, NewIncident, create, get, list};
use crate::chat::UNAVAILABLE_TEXT;
use crate::chat::incidents::IncidentDesk;
use crate::events::Outbox;
use crate::store::PageRequest;
use crate::store::incidents::IncidentFilter;

/// At most this many incidents are listed in one post.
const LISTED: i64 = 20;
/// `show` ends with this many of the latest timeline entries.
const SHOWN_ENTRIES: usize = 5;

pub const HELP: &str = "Incident commands:\n\
    `list` — unresolved incidents\n\
    `show N` — incident N with its latest timeline entries\n\
    `ack N` — acknowledge incident N\n\
    `resolve N [message]` — resolve incident N\n\
    `comment N message` — add a comment to incident N\n\
    `open title` — open an incident\n\
    `help` — this list";

pub struct IncidentCommands {
    outbox: Outbox,
}

impl IncidentCommands {
    pub fn new(outbox: Outbox) -> Self {
        Self { outbox }
    }

    async fn apply(
        &self,
        reference: &str,
        operations: Operations,
        actor: &str,
    ) -> Result<Incident, IncidentError> {
        patch(&self.outbox, reference, PatchInput { operations }, actor).await
    }

    async fn intent(
        &self,
        reference: &str,
        intent: &str,
        message: &str,
        actor: &str,
    ) -> Result<Incident, IncidentError> {
        let operations: Operations = serde_json::from_value(serde_json::json!({
            "appendIntent": {"intent": intent, "message": message}
        }))
        .map_err(|error| crate::validation::Invalid::new("operations", error.to_string()))?;
        self.apply(reference, operations, actor).await
    }

    async fn unresolved(&self) -> Result<Vec<Incident>, IncidentError> {
        let mut found = Vec::new();
        for status in ["open", "acknowledged"] {
            let filter = IncidentFilter {
                status: Some(status.into()),
                ..IncidentFilter::default()
            };
            let page = list(
                self.outbox.store(),
                filter,
                PageRequest::new(Some(LISTED), None),
            )
            .await?;
            found.extend(page.items);
        }
        found.sort_by_key(|incident| std::cmp::Reverse(incident.number));
        found.truncate(usize::try_from(LISTED).unwrap_or(usize::MAX));
        Ok(found)
    }

    async fn run(&self, text: &str, actor: &str) -> Result<String, IncidentError> {
        let text = text.trim();
        let (verb, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let rest = rest.trim();
        let (number, message) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let message = message.trim();
        Ok(match (verb.to_lowercase().as_str(), number) {
            ("" | "help", _) => HELP.to_owned(),
            ("list", _) => listing(&self.unresolved().await?),
            (_, "") if verb != "open" => format!("`{verb}` needs an incident number.\n\n{HELP}"),
            ("show", number) => shown(&get(self.outbox.store(), number).await?),
            ("ack" | "acknowledge", number) => {
                let incident = self.intent(number, "Acknowledged", message, actor).await?;
                format!("Acknowledged {}", headline(&incident))
            }
            ("resolve", number) => {
                let incident = self.intent(number, "Resolved", message, actor).await?;
                format!("Resolved {}", headline(&incident))
            }
            ("comment", _) if message.is_empty() => "`comment N message` needs a message.".into(),
            ("comment", number) => {
                let incident = self.intent(number, "Commented", message, actor).await?;
                format!("Commented on {}", headline(&incident))
            }
            ("open", _) => {
                let input = NewIncident {
                    title: rest.to_owned(),
                    description: String::new(),
                    severity: None,
                    source: Some("chat".into()),
                    dedup_key: None,
                    attributes: None,
                };
                let incident = create(&self.outbox, input, actor).await?;
                format!("Opened {}", headline(&incident))
            }
            _ => format!("I don't know `{verb}`.\n\n{HELP}"),
        })
    }
}

/// `#12 CPU high on web-1 (critical, open)`
fn headline(incident: &Incident) -> String {
    format!(
        "#{} {} ({}, {})",
        incident.number, incident.title, incident.severity, incident.status
    )
}

fn listing(incidents: &[Incident]) -> String {
    if incidents.is_empty() {
        return "No unresolved incidents.".into();
    }
    let lines: Vec<String> = incidents
        .iter()
        .map(|incident| format!("- {}", headline(incident)))
        .collect();
    format!("Unresolved incidents:\n{}", lines.join("\n"))
}

fn shown(incident: &Incident) -> String {
    let mut lines = vec![
        format!("**{}**", headline(incident)),
        format!(
            "source {}, {} occurrence(s), opened {}",
            incident.source, incident.occurrences, incident.created_at
        ),
    ];
    if !incident.description.is_empty() {
        lines.push(incident.description.clone());
    }
    lines.extend(
        incident
            .attributes
            .iter()
            .filter(|attribute| !attribute.hide_in_previews)
            .map(|attribute| format!("- {}: {}", attribute.name, attribute.value)),
    );
    let latest = incident.timeline.len().saturating_sub(SHOWN_ENTRIES);
    lines.extend(incident.timeline[latest..].iter().map(|entry| {
        let message = if entry.message.is_empty() {
            String::new()
        } else {
            format!(": {}", entry.message)
        };
        format!(
            "> {} {} by {}{message}",
            entry.at, entry.intent, entry.actor
        )
    }));
    lines.join("\n")
}

/// What a user reads when a command or a patch is refused.
fn reason(error: &IncidentError) -> String {
    match error {
        IncidentError::Store(store) if store.is_unavailable() => UNAVAILABLE_TEXT.into(),
        IncidentError::Store(_) => {
            "the incident store failed; the server log has the details".into()
        }
        other => other.to_string(),
    }
}

/// The user reads only [`reason`]; the log has the store's error. An outage is expected to
/// pass (a warning); any other store failure is a fault (an error).
fn log_store_failure(error: &IncidentError, what: &'static str) {
    match error {
        IncidentError::Store(store) if store.is_unavailable() => {
            tracing::warn!(error = %store, "{what}: the database is unavailable");
        }
        IncidentError::Store(store) => tracing::error!(error = %store, "{what}"),
        _ => {}
    }
}

impl IncidentDesk for IncidentCommands {
    fn patch<'a>(
        &'a self,
        reference: &'a str,
        operations: Value,
        actor: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let operations: Operations = serde_json::from_value(operations)
                .map_err(|error| format!("operations: {error}"))?;
            self.apply(reference, operations, actor)
                .await
                .map(|_| ())
                .map_err(|error| {
                    log_store_failure(&error, "a chat patch failed");
                    reason(&error)
                })
        })
    }

    fn command<'a>(&'a self, text: &'a str, actor: &'a str) -> BoxFuture<'a, String> {
        Box::pin(async move {
            self.run(text, actor).await.unwrap_or_else(|error| {
                log_store_failure(&error, "an incident command failed");
                reason(&error)
            })
        })
    }
}
