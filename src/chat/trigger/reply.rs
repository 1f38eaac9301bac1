//! How a trigger's service answers become replies.

use serde::{Deserialize, Serialize};
use url::Url;

use super::Kind;
use crate::outbound::endpoint::parse_url;
use crate::templates::OutputKind;
use crate::validation::Invalid;
use crate::webhooks::compile_template;

const MAX_ACK_CHARS: usize = 4000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplySpec {
    #[serde(default)]
    pub mode: ReplyMode,
    /// Maps `{request, response, service}` to the reply JSON, for services that know nothing
    /// of chat.
    #[serde(default)]
    pub template: Option<String>,
    /// `null` passes the service's own value; `comment` (outgoing) threads the reply,
    /// `in_channel` or `ephemeral` for slash commands.
    #[serde(default)]
    pub response_type: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub icon_url: Option<String>,
    /// An incoming-webhook URL asynchronous replies of outgoing triggers are posted to.
    #[serde(default)]
    pub post_url: Option<String>,
    #[serde(default)]
    pub post_format: PostFormat,
    /// The immediate answer in `async` mode (slash commands); `""` answers with an empty body.
    #[serde(default)]
    pub ack_text: Option<String>,
    #[serde(default)]
    pub on_error: OnError,
}

impl Default for ReplySpec {
    fn default() -> Self {
        Self {
            mode: ReplyMode::Sync,
            template: None,
            response_type: None,
            username: None,
            icon_url: None,
            post_url: None,
            post_format: PostFormat::Mattermost,
            ack_text: None,
            on_error: OnError::Post,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplyMode {
    /// Wait for the services and answer the chat's request with the joined reply.
    #[default]
    Sync,
    /// Answer at once, then post each service's reply when it arrives.
    Async,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostFormat {
    #[default]
    Mattermost,
    Slack,
    Discord,
    Teams,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// A failing service becomes a short line in the reply.
    #[default]
    Post,
    Silent,
}

impl ReplySpec {
    pub(super) fn validate(&self, kind: Kind) -> Result<Option<Url>, Invalid> {
        if let Some(source) = &self.template {
            compile_template("template", source, OutputKind::Json, false)?;
        }
        let allowed: &[&str] = match kind {
            Kind::Outgoing => &["comment", "post"],
            Kind::Slash => &["in_channel", "ephemeral"],
        };
        if let Some(response_type) = &self.response_type
            && !allowed.contains(&response_type.as_str())
        {
            return Err(Invalid::new(
                "response_type",
                format!(
                    "must be null or one of {} for {} triggers",
                    allowed.join(", "),
                    kind.as_str()
                ),
            ));
        }
        if let Some(icon) = &self.icon_url {
            parse_url(icon).map_err(|reason| Invalid::new("icon_url", reason))?;
        }
        if self
            .ack_text
            .as_ref()
            .is_some_and(|text| text.chars().count() > MAX_ACK_CHARS)
        {
            return Err(Invalid::new(
                "ack_text",
                format!("must be at most {MAX_ACK_CHARS} characters"),
            ));
        }
        if self
            .username
            .as_ref()
            .is_some_and(|name| name.trim().is_empty() || name.chars().count() > 64)
        {
            return Err(Invalid::new("username", "must be 1 to 64 characters"));
        }
        let post_url = self
            .post_url
            .as_deref()
            .map(|url| parse_url(url).map_err(|reason| Invalid::new("post_url", reason)))
            .transpose()?;
        if kind == Kind::Outgoing && self.mode == ReplyMode::Async && post_url.is_none() {
            return Err(Invalid::new(
                "post_url",
                "is required for asynchronous replies of outgoing triggers (an incoming-webhook URL)",
            ));
        }
        Ok(post_url)
    }
}
