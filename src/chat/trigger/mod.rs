//! The trigger resource (SPEC §3.1): which chat messages a trigger takes, how it authenticates
//! them, the services it forwards them to, and how their answers become replies.

mod reply;
mod service;
pub mod token;

use serde::{Deserialize, Serialize};
use url::Url;

pub use reply::{OnError, PostFormat, ReplyMode, ReplySpec};
pub use service::{BUILTIN_INCIDENTS, ServiceFormat, ServiceSpec};

use crate::outbound::NetworkPolicy;
use crate::outbound::secret::{mask, restore};
use crate::secrets::{Sealable, SecretsError};
use crate::validation::Invalid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub kind: Kind,
    /// Tokens the chat server sends: Mattermost's outgoing-webhook or command token, Slack's
    /// verification token. Write-only: shown masked.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// When set, every request must carry a valid `X-Slack-Signature`; `tokens` are not
    /// consulted. Write-only: shown masked.
    #[serde(default)]
    pub slack_signing_secret: Option<String>,
    /// `team_id` or `team_domain` values; empty means any team.
    #[serde(default)]
    pub teams: Vec<String>,
    /// `channel_id` or `channel_name` values; empty means any channel.
    #[serde(default)]
    pub channels: Vec<String>,
    /// First words (`#build`) or commands (`/build`).
    #[serde(default)]
    pub trigger_words: Vec<String>,
    #[serde(default)]
    pub trigger_when: TriggerWhen,
    #[serde(default = "yes")]
    pub case_sensitive: bool,
    pub services: Vec<ServiceSpec>,
    #[serde(default)]
    pub reply: ReplySpec,
    /// Service answers may carry `incident_id` and All Quiet `operations`.
    #[serde(default)]
    pub incident_updates: bool,
}

fn yes() -> bool {
    true
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Outgoing webhooks: the first word of a message.
    #[default]
    Outgoing,
    /// Slash commands.
    Slash,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Outgoing => "outgoing",
            Kind::Slash => "slash",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerWhen {
    /// The first word equals a trigger word (Mattermost's `trigger_when: 0`).
    #[default]
    Exact,
    /// The first word starts with a trigger word (`trigger_when: 1`).
    Prefix,
}

pub(super) const MAX_NAME_CHARS: usize = 100;
const MAX_LIST: usize = 100;
const MAX_WORD_CHARS: usize = 128;
const MAX_SERVICES: usize = 10;
const MIN_SECRET_CHARS: usize = 16;
const MAX_SECRET_CHARS: usize = 256;

fn check_list(field: &str, values: &[String], what: &str) -> Result<(), Invalid> {
    if values.len() > MAX_LIST {
        return Err(Invalid::new(
            field,
            format!("takes at most {MAX_LIST} {what}"),
        ));
    }
    for (index, value) in values.iter().enumerate() {
        if value.is_empty() || value.chars().any(char::is_whitespace) {
            return Err(Invalid::new(
                format!("{field}[{index}]"),
                "must be non-empty and contain no whitespace",
            ));
        }
        if value.chars().count() > MAX_WORD_CHARS {
            return Err(Invalid::new(
                format!("{field}[{index}]"),
                format!("must be at most {MAX_WORD_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

fn check_secret(field: String, secret: &str) -> Result<(), Invalid> {
    let length = secret.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&length)
        || secret.chars().any(char::is_whitespace)
    {
        return Err(Invalid::new(
            field,
            format!(
                "must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters without whitespace"
            ),
        ));
    }
    Ok(())
}

impl TriggerSpec {
    /// Everything but the network check; returns the URLs the network check must pass.
    pub fn validate(&mut self) -> Result<Vec<(String, Url)>, Invalid> {
        self.name = self.name.trim().to_owned();
        let name_chars_ok = self
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if self.name.is_empty() || self.name.chars().count() > MAX_NAME_CHARS || !name_chars_ok {
            return Err(Invalid::new(
                "name",
                "must be 1 to 100 letters, digits, `-`, `_` or `.` (it is part of the trigger's URL)",
            ));
        }
        if self.name.starts_with("trg_") {
            return Err(Invalid::new(
                "name",
                "must not start with `trg_`, as ids do",
            ));
        }
        if self.tokens.is_empty() && self.slack_signing_secret.is_none() {
            return Err(Invalid::new(
                "tokens",
                "a trigger needs at least one token or a `slack_signing_secret`",
            ));
        }
        if self.tokens.len() > MAX_LIST {
            return Err(Invalid::new("tokens", "takes at most 100 tokens"));
        }
        // A stored token can only be one a replacement kept by echoing its mask (sent ones in
        // that form are refused: `check_sent_tokens`); it was checked when first sent.
        for (index, token) in self.tokens.iter().enumerate() {
            if token::is_hashed(token) {
                continue;
            }
            check_secret(format!("tokens[{index}]"), token)?;
        }
        if let Some(secret) = &self.slack_signing_secret {
            check_secret("slack_signing_secret".into(), secret)?;
        }
        check_list("teams", &self.teams, "teams")?;
        check_list("channels", &self.channels, "channels")?;
        check_list("trigger_words", &self.trigger_words, "trigger words")?;
        self.check_words()?;
        if self.services.is_empty() || self.services.len() > MAX_SERVICES {
            return Err(Invalid::new(
                "services",
                format!("needs 1 to {MAX_SERVICES} services"),
            ));
        }
        let mut urls = Vec::new();
        for (index, service) in self.services.iter_mut().enumerate() {
            let field = format!("services[{index}]");
            if let Some(url) = service.validate().map_err(|error| error.under(&field))? {
                urls.push((format!("{field}.endpoint.url"), url));
            }
        }
        if let Some(url) = self
            .reply
            .validate(self.kind)
            .map_err(|error| error.under("reply"))?
        {
            urls.push(("reply.post_url".into(), url));
        }
        Ok(urls)
    }

    fn check_words(&self) -> Result<(), Invalid> {
        match self.kind {
            Kind::Slash => {
                if self.trigger_words.is_empty() {
                    return Err(Invalid::new(
                        "trigger_words",
                        "a slash trigger needs at least one command, such as `/build`",
                    ));
                }
                if let Some(index) = self.trigger_words.iter().position(|w| !w.starts_with('/')) {
                    return Err(Invalid::new(
                        format!("trigger_words[{index}]"),
                        "slash commands start with `/`",
                    ));
                }
            }
            Kind::Outgoing if self.trigger_words.is_empty() && self.channels.is_empty() => {
                return Err(Invalid::new(
                    "trigger_words",
                    "an outgoing trigger needs trigger words, or channels to fire on every message in",
                ));
            }
            Kind::Outgoing => {}
        }
        Ok(())
    }

    /// Validates, then resolves every URL's host: a URL that points inside the network is
    /// refused when saved, not only when used.
    pub async fn validate_with_network(&mut self, policy: &NetworkPolicy) -> Result<(), Invalid> {
        for (field, url) in self.validate()? {
            policy
                .check_url(&url)
                .await
                .map_err(|error| Invalid::new(field, error.to_string()))?;
        }
        Ok(())
    }

    /// The specification as it may be shown and audited: every secret masked.
    pub fn masked(&self) -> TriggerSpec {
        let mut copy = self.clone();
        copy.tokens = self
            .tokens
            .iter()
            .map(|token| token::shown(token))
            .collect();
        copy.slack_signing_secret = self.slack_signing_secret.as_deref().map(mask);
        for service in &mut copy.services {
            service.endpoint = service.endpoint.masked();
        }
        copy
    }

    /// A replacement that echoes masked values back (as read from the API) keeps the stored
    /// secrets.
    pub fn keep_masked_secrets(&mut self, stored: &TriggerSpec) {
        // Masks show only a token's end: the token at the same place first, else the one
        // stored token with that mask (two with the same end stay as sent, and fail).
        for (index, token) in self.tokens.iter_mut().enumerate() {
            let masked = token.clone();
            let same_place = stored
                .tokens
                .get(index)
                .filter(|old| token::shown(old) == masked);
            let mut same_mask = stored
                .tokens
                .iter()
                .filter(|old| token::shown(old) == masked);
            let unique = match (same_mask.next(), same_mask.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            };
            if let Some(original) = same_place.or(unique) {
                *token = original.clone();
            }
        }
        if let (Some(secret), Some(old)) =
            (&mut self.slack_signing_secret, &stored.slack_signing_secret)
        {
            restore(secret, old);
        }
        // A service is the stored one with the same URL when only one has it (services removed
        // or reordered keep their secrets), else the one at the same place.
        for (index, service) in self.services.iter_mut().enumerate() {
            service.endpoint.normalize();
            let mut same_url = stored
                .services
                .iter()
                .filter(|old| old.endpoint.url == service.endpoint.url);
            let unique = match (same_url.next(), same_url.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            };
            if let Some(old) = unique.or_else(|| stored.services.get(index)) {
                service.endpoint.keep_masked_secrets(&old.endpoint);
            }
        }
    }
}

/// The Slack signing secret and the services' credentials are sealed at rest; the chat
/// tokens are hashed instead ([`TriggerSpec::hash_tokens`]), since they are only compared.
impl Sealable for TriggerSpec {
    fn each_secret(
        &mut self,
        visit: &mut dyn FnMut(&mut String) -> Result<(), SecretsError>,
    ) -> Result<(), SecretsError> {
        if let Some(secret) = &mut self.slack_signing_secret {
            visit(secret)?;
        }
        self.services
            .iter_mut()
            .try_for_each(|service| service.endpoint.each_secret(visit))
    }
}

impl TriggerSpec {
    /// Tokens come as the chat server sends them (or as their mask, in a replacement): one
    /// in the stored form would be stored unchecked, so it is refused.
    pub fn check_sent_tokens(&self) -> Result<(), Invalid> {
        match self.tokens.iter().position(|sent| token::is_hashed(sent)) {
            Some(index) => Err(Invalid::new(
                format!("tokens[{index}]"),
                "must be the token the chat server sends, not a stored digest",
            )),
            None => Ok(()),
        }
    }

    /// Puts every token in its stored form: a digest, and the end the API shows.
    pub fn hash_tokens(&mut self) {
        for stored in &mut self.tokens {
            *stored = token::hashed(stored);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn spec(value: Value) -> TriggerSpec {
        serde_json::from_value(value).unwrap()
    }

    fn base() -> Value {
        json!({"name": "build", "tokens": ["zmigewsanbbsdf59xnmduzypjc"], "trigger_words": ["#build"],
               "services": [{"endpoint": {"url": "https://ci.example.com/chat"}}]})
    }

    fn field_of(change: impl FnOnce(&mut Value)) -> String {
        let mut value = base();
        change(&mut value);
        spec(value).validate().unwrap_err().field
    }

    #[test]
    fn a_valid_trigger_names_the_urls_to_check() {
        let urls = spec(base()).validate().unwrap();
        assert_eq!(urls.len(), 1);
        assert_eq!(urls[0].0, "services[0].endpoint.url");
    }

    #[test]
    fn every_rule_names_its_field() {
        assert_eq!(field_of(|v| v["tokens"] = json!([])), "tokens");
        assert_eq!(field_of(|v| v["tokens"] = json!(["short"])), "tokens[0]");
        assert_eq!(
            field_of(|v| v["trigger_words"] = json!(["#a b"])),
            "trigger_words[0]"
        );
        assert_eq!(
            field_of(|v| v["trigger_words"] = json!([""])),
            "trigger_words[0]"
        );
        assert_eq!(
            field_of(|v| v["trigger_words"] = json!([])),
            "trigger_words"
        );
        assert_eq!(
            field_of(|v| {
                v["kind"] = json!("slash");
                v["trigger_words"] = json!(["/ok", "build"]);
            }),
            "trigger_words[1]"
        );
        assert_eq!(field_of(|v| v["services"] = json!([])), "services");
        assert_eq!(
            field_of(|v| v["services"][0]["endpoint"]["url"] = json!("ftp://x")),
            "services[0].endpoint.url"
        );
        assert_eq!(
            field_of(|v| v["services"][0]["format"] = json!("template")),
            "services[0].body_template"
        );
        assert_eq!(
            field_of(|v| v["reply"] = json!({"mode": "async"})),
            "reply.post_url"
        );
        assert_eq!(
            field_of(|v| v["reply"] = json!({"response_type": "in_channel"})),
            "reply.response_type"
        );
        assert_eq!(field_of(|v| v["name"] = json!("a b")), "name");
        assert_eq!(field_of(|v| v["name"] = json!("trg_1")), "name");
    }

    #[test]
    fn channel_only_outgoing_triggers_and_signed_triggers_are_valid() {
        let mut channel_only = base();
        channel_only["trigger_words"] = json!([]);
        channel_only["channels"] = json!(["town-square"]);
        assert!(spec(channel_only).validate().is_ok());
        let mut signed = base();
        signed["tokens"] = json!([]);
        signed["slack_signing_secret"] = json!("8f742231b10e8888abcd99yyyzzz85a5");
        assert!(spec(signed).validate().is_ok());
    }

    #[test]
    fn templates_that_do_not_compile_are_refused_with_their_position() {
        let mut value = base();
        value["reply"] = json!({"template": "{\"text\": \"{{#if x}}\"}"});
        let error = spec(value).validate().unwrap_err();
        assert_eq!(error.field, "reply.template");
    }

    #[test]
    fn secrets_are_masked_and_masked_echoes_keep_them() {
        let mut value = base();
        value["slack_signing_secret"] = json!("8f742231b10e8888abcd99yyyzzz85a5");
        let stored = spec(value);
        let masked = stored.masked();
        let shown = serde_json::to_string(&masked).unwrap();
        assert!(!shown.contains("zmigewsanbbsdf59"), "{shown}");
        assert!(
            shown.contains("…ypjc") && shown.contains("…85a5"),
            "{shown}"
        );
        let mut echoed = masked;
        echoed.keep_masked_secrets(&stored);
        assert_eq!(echoed, stored);
    }

    #[test]
    fn tokens_with_the_same_ending_are_restored_by_their_place() {
        let mut value = base();
        value["tokens"] = json!(["first-token-0000-abcd", "second-token-000-abcd"]);
        let stored = spec(value);
        let mut echoed = stored.masked();
        echoed.keep_masked_secrets(&stored);
        assert_eq!(echoed.tokens, stored.tokens);
        let mut reordered = stored.masked();
        reordered.tokens.reverse();
        reordered.tokens.push("…abcd".into());
        reordered.keep_masked_secrets(&stored);
        assert_eq!(reordered.tokens[2], "…abcd", "ambiguous: left as sent");
    }

    #[test]
    fn a_services_masked_secret_is_restored_from_the_stored_service_with_its_url() {
        let mut value = base();
        value["services"] = json!([
            {"endpoint": {"url": "https://a.example.com/chat", "auth": {"type": "bearer", "token": "token-of-service-a-1111"}}},
            {"endpoint": {"url": "https://b.example.com/chat", "auth": {"type": "bearer", "token": "token-of-service-b-2222"}}},
        ]);
        let stored = spec(value);
        let mut without_a = stored.masked();
        without_a.services.remove(0);
        without_a.keep_masked_secrets(&stored);
        assert_eq!(
            without_a.services[0], stored.services[1],
            "the first service removed"
        );
        let mut reordered = stored.masked();
        reordered.services.reverse();
        reordered.keep_masked_secrets(&stored);
        assert_eq!(
            reordered.services,
            [stored.services[1].clone(), stored.services[0].clone()]
        );
    }
}
