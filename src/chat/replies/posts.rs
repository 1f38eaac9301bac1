//! Posts made after the chat's request was answered (SPEC §3.4 `async`, and `response_url`):
//! where they go, their body in that destination's format, and their way out through the
//! delivery engine, so they are retried and logged like any delivery.
//!
//! Every post is a `chat.reply` event delivered to one webhook the gateway keeps for itself:
//! its request template sends the event's `body` to the event's `url`, and the URL passes the
//! SSRF guard at every send like any other.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::answer::Post;
use crate::chat::inbound::message::{ChatMessage, Platform};
use crate::chat::routing::route::Route;
use crate::chat::trigger::{Kind, PostFormat};
use crate::events::{self, NewEvent, PreparedEvent, Transaction};
use crate::outbound::Endpoint;
use crate::store::StoreError;
use crate::templates::slack_markup::slack_to_markdown;
use crate::templates::text::truncate;
use crate::timestamp::now_millis;
use crate::webhooks::{Forwarding, WebhookSpec};

/// The webhook that carries chat posts.
pub const REPLIES_WEBHOOK: &str = "whk_system_chat_replies";
pub const REPLY_EVENT: &str = "chat.reply";
/// Split posts go out this far apart, in order, within chat platforms' rate of about one
/// message a second per webhook.
const POST_SPACING_MS: i64 = 1000;
const POST_ATTEMPTS: u32 = 5;
const DISCORD_CONTENT_CHARS: usize = 2000;
const DISCORD_EMBEDS: usize = 10;

/// The definition of [`REPLIES_WEBHOOK`].
pub fn replies_webhook() -> WebhookSpec {
    WebhookSpec {
        name: "switchyard-chat-replies".into(),
        description: "Posts of chat replies made after the chat's request was answered \
                      (asynchronous replies and response_url posts). Managed by Switchyard."
            .into(),
        active: true,
        endpoint: Endpoint {
            url: "https://chat-replies.switchyard.invalid/".into(),
            method: crate::outbound::HttpMethod::Post,
            headers: Default::default(),
            auth: Default::default(),
            signing: Default::default(),
            timeout_ms: None,
            allow_insecure_tls: false,
        },
        format: Default::default(),
        body_template: None,
        request_template: Some(
            r#"{"url": {{json event.data.url}}, "body": {"json": {{json event.data.body}}}}"#
                .into(),
        ),
        template_strict: true,
        events: Vec::new(),
        filter: Default::default(),
        forwarding: Forwarding::Always,
        incident_updates: false,
        max_attempts: POST_ATTEMPTS,
    }
}

/// How a destination wants its posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostStyle {
    /// A chat's `response_url`: Mattermost's command response, which Slack reads too.
    CommandResponse,
    Mattermost,
    Slack,
    Discord,
    Teams,
}

impl From<PostFormat> for PostStyle {
    fn from(format: PostFormat) -> Self {
        match format {
            PostFormat::Mattermost => PostStyle::Mattermost,
            PostFormat::Slack => PostStyle::Slack,
            PostFormat::Discord => PostStyle::Discord,
            PostFormat::Teams => PostStyle::Teams,
        }
    }
}

/// The conversation a trigger fired in, and where posts into it go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub trigger_id: String,
    pub kind: Kind,
    pub url: String,
    pub style: PostStyle,
    pub platform: String,
    pub channel_id: String,
    pub channel_name: String,
    /// The triggering post (Mattermost), for threading a `comment`.
    pub post_id: String,
    /// The triggering message's timestamp (Slack), for threading.
    pub thread_ts: String,
}

impl Conversation {
    /// Where later posts for `message` go: a slash command's `response_url`, else the
    /// trigger's `reply.post_url`; `None` when there is no way back.
    pub fn of(route: &Route, message: &ChatMessage) -> Option<Self> {
        let reply = &route.spec.reply;
        let response_url = message.field("response_url");
        let (url, style) = match (message.kind, &reply.post_url) {
            (Kind::Slash, _) if !response_url.is_empty() => {
                (response_url.to_owned(), PostStyle::CommandResponse)
            }
            (_, Some(post_url)) => (post_url.clone(), reply.post_format.into()),
            _ => return None,
        };
        let thread_ts = match message.platform {
            Platform::Slack => message.field("timestamp").to_owned(),
            Platform::Mattermost => String::new(),
        };
        Some(Self {
            trigger_id: route.id.clone(),
            kind: message.kind,
            url,
            style,
            platform: message.platform.as_str().into(),
            channel_id: message.field("channel_id").into(),
            channel_name: message.field("channel_name").into(),
            post_id: message.field("post_id").into(),
            thread_ts,
        })
    }

    /// Whether a long reply becomes several posts here. A chat's `response_url` takes five
    /// posts at most, and Mattermost does not split command responses: there it is cut.
    pub fn splits(&self) -> bool {
        self.style != PostStyle::CommandResponse
    }

    /// The longest text one post may carry here.
    pub fn max_chars(&self, configured: usize) -> usize {
        match self.style {
            PostStyle::Discord => configured.min(DISCORD_CONTENT_CHARS),
            _ => configured,
        }
    }

    /// A reply as this destination's post body.
    pub fn body(&self, reply: &Post) -> Value {
        let threaded = reply.response_type.as_deref() == Some("comment");
        match self.style {
            PostStyle::CommandResponse => reply.to_json(),
            PostStyle::Mattermost => {
                let mut body = chat_body(reply);
                if !self.channel_name.is_empty() {
                    body.insert("channel".into(), self.channel_name.clone().into());
                }
                if threaded && !self.post_id.is_empty() {
                    body.insert("root_id".into(), self.post_id.clone().into());
                }
                if let Some(post_type) = &reply.post_type {
                    body.insert("type".into(), post_type.clone().into());
                }
                if let Some(props) = &reply.props {
                    body.insert("props".into(), Value::Object(props.clone()));
                }
                Value::Object(body)
            }
            PostStyle::Slack => {
                let mut body = chat_body(reply);
                if let Some(blocks) = &reply.blocks {
                    body.insert("blocks".into(), blocks.clone());
                }
                if threaded && !self.thread_ts.is_empty() {
                    body.insert("thread_ts".into(), self.thread_ts.clone().into());
                }
                Value::Object(body)
            }
            PostStyle::Discord => discord_body(reply),
            PostStyle::Teams => json!({ "text": teams_text(reply) }),
        }
    }
}

/// The fields Mattermost's and Slack's incoming webhooks share.
fn chat_body(reply: &Post) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("text".into(), reply.text.clone().unwrap_or_default().into());
    if let Some(username) = &reply.username {
        body.insert("username".into(), username.clone().into());
    }
    if let Some(icon) = &reply.icon_url {
        body.insert("icon_url".into(), icon.clone().into());
    }
    if !reply.attachments.is_empty() {
        body.insert(
            "attachments".into(),
            Value::Array(reply.attachments.clone()),
        );
    }
    body
}

/// Slack markup is Markdown to platforms that do not read it.
fn markdown(text: &str) -> String {
    slack_to_markdown(text, |_| None)
}

fn field_text<'a>(object: &'a Value, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

fn discord_body(reply: &Post) -> Value {
    let content = markdown(reply.text.as_deref().unwrap_or(""));
    let embeds: Vec<Value> = reply
        .attachments
        .iter()
        .take(DISCORD_EMBEDS)
        .map(|attachment| {
            let mut embed = Map::new();
            let mut put = |key: &str, value: &str, max: usize| {
                if !value.is_empty() {
                    embed.insert(key.into(), truncate(value, max, "…").into_owned().into());
                }
            };
            put("title", field_text(attachment, "title"), 256);
            put("description", &markdown(field_text(attachment, "text")), 4096);
            put("url", field_text(attachment, "title_link"), 2048);
            if let Some(color) = hex_color(field_text(attachment, "color")) {
                embed.insert("color".into(), color.into());
            }
            let fields: Vec<Value> = attachment
                .get("fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .take(25)
                .map(|field| {
                    json!({
                        "name": truncate(field_text(field, "title"), 256, "…"),
                        "value": truncate(&crate::templates::value_text(field.get("value").unwrap_or(&Value::Null)), 1024, "…"),
                        "inline": field.get("short").and_then(Value::as_bool).unwrap_or(false),
                    })
                })
                .collect();
            if !fields.is_empty() {
                embed.insert("fields".into(), Value::Array(fields));
            }
            Value::Object(embed)
        })
        .collect();
    let mut body = json!({
        "content": truncate(&content, DISCORD_CONTENT_CHARS, "…"),
        "allowed_mentions": {"parse": []},
    });
    if !embeds.is_empty() {
        body["embeds"] = Value::Array(embeds);
    }
    if let Some(username) = &reply.username {
        body["username"] = username.clone().into();
    }
    if let Some(icon) = &reply.icon_url {
        body["avatar_url"] = icon.clone().into();
    }
    body
}

fn hex_color(text: &str) -> Option<u32> {
    let digits = text.strip_prefix('#')?;
    (digits.len() == 6)
        .then(|| u32::from_str_radix(digits, 16).ok())
        .flatten()
}

/// Teams connectors take Markdown text; attachments become paragraphs of it.
fn teams_text(reply: &Post) -> String {
    let mut parts = vec![markdown(reply.text.as_deref().unwrap_or(""))];
    for attachment in &reply.attachments {
        let title = field_text(attachment, "title");
        if !title.is_empty() {
            parts.push(format!("**{title}**"));
        }
        let text = field_text(attachment, "text");
        if !text.is_empty() {
            parts.push(markdown(text));
        }
    }
    parts.retain(|part| !part.is_empty());
    parts.join("\n\n")
}

/// Each post as a `chat.reply` event, built before the transaction that stores them.
pub fn reply_events(
    conversation: &Conversation,
    trigger: &str,
    posts: &[Post],
) -> Result<Vec<PreparedEvent>, StoreError> {
    posts
        .iter()
        .map(|post| {
            events::prepare(NewEvent {
                event_type: REPLY_EVENT.into(),
                subject: Some(conversation.trigger_id.clone()),
                data: json!({
                    "trigger": trigger,
                    "url": conversation.url,
                    "style": conversation.style,
                    "body": conversation.body(post),
                }),
                previous: None,
                changes: None,
            })
        })
        .collect()
}

/// Stores the posts' events, each with its delivery, in order and spaced out, in the caller's
/// transaction.
pub fn store_posts(tx: &mut Transaction<'_>, events: Vec<PreparedEvent>) -> Result<(), StoreError> {
    let now = now_millis();
    for (index, event) in events.into_iter().enumerate() {
        let offset = i64::try_from(index).unwrap_or(i64::MAX);
        let due = (index > 0).then(|| now + offset * POST_SPACING_MS);
        tx.emit_to(event, REPLIES_WEBHOOK, due)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(style: PostStyle) -> Conversation {
        Conversation {
            trigger_id: "trg_1".into(),
            kind: Kind::Outgoing,
            url: "https://chat.example/hooks/x".into(),
            style,
            platform: "mattermost".into(),
            channel_id: "c1".into(),
            channel_name: "town-square".into(),
            post_id: "p1".into(),
            thread_ts: String::new(),
        }
    }

    fn reply() -> Post {
        Post {
            text: Some("see <https://ci.example/1|build 1> <!here>".into()),
            attachments: vec![json!({"title": "Build", "text": "ok", "color": "#36a64f",
                "fields": [{"title": "branch", "value": "main", "short": true}]})],
            response_type: Some("comment".into()),
            ..Post::default()
        }
    }

    #[test]
    fn mattermost_posts_go_to_the_triggering_channel_and_thread() {
        let body = conversation(PostStyle::Mattermost).body(&reply());
        assert_eq!(body["channel"], "town-square");
        assert_eq!(body["root_id"], "p1");
        assert_eq!(
            body["text"], "see <https://ci.example/1|build 1> <!here>",
            "Mattermost converts Slack markup itself"
        );
    }

    #[test]
    fn discord_and_teams_get_markdown_and_no_pings() {
        let discord = conversation(PostStyle::Discord).body(&reply());
        assert_eq!(
            discord["content"],
            "see [build 1](https://ci.example/1) @here"
        );
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
        assert_eq!(discord["embeds"][0]["color"], 0x36a64f);
        assert_eq!(discord["embeds"][0]["fields"][0]["inline"], true);
        let teams = conversation(PostStyle::Teams).body(&reply());
        assert_eq!(
            teams["text"],
            "see [build 1](https://ci.example/1) @here\n\n**Build**\n\nok"
        );
    }

    #[test]
    fn the_managed_webhooks_template_compiles() {
        let spec = replies_webhook();
        assert!(crate::webhooks::Rendering::compile(&spec).is_ok());
    }
}
