//! A service's answer, read the way Mattermost reads it (chat-protocols §4, §6.4).
//!
//! Outgoing webhooks: always JSON, whatever the status and `Content-Type`; only the first JSON
//! value counts, keys match case-insensitively, an empty body means "nothing to post". Slash
//! commands: JSON only when the media type is exactly `application/json`, otherwise the body is
//! the text of an ephemeral reply.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::chat::trigger::Kind;

/// What a post says, in the fields Mattermost's answers and command responses share (which
/// Slack reads too): a service's answer, and the reply made of answers. Serialised as the chat
/// server reads it, with only the fields that are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Post {
    /// Present-but-empty (`""`) still makes a post, as in Mattermost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub post_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub props: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_responses: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goto_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_slack_parsing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
}

impl Post {
    /// Whether it makes a post: it has text (even empty) or attachments.
    pub fn has_content(&self) -> bool {
        self.text.is_some() || !self.attachments.is_empty()
    }

    /// The post as the chat server reads it, as a JSON tree (for templates and later posts).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// What a service asked for: a post, and perhaps a patch of an incident.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub post: Post,
    /// With `operations`: a patch for that incident (id or number).
    pub incident_id: Option<String>,
    pub operations: Option<Value>,
}

impl Answer {
    pub fn has_post(&self) -> bool {
        self.post.has_content()
    }

    pub fn text(text: String) -> Self {
        Self {
            post: Post {
                text: Some(text),
                ..Post::default()
            },
            ..Self::default()
        }
    }
}

/// How an answer read.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    Answer(Box<Answer>),
    /// Nothing to act on (empty body, `null`).
    Empty,
    /// Not usable: why (not JSON, a field of the wrong type, too large).
    Unusable(String),
}

/// Reads a body as a service answer for a trigger of `kind`.
pub fn read(kind: Kind, content_type: Option<&str>, body: &[u8], truncated: bool) -> Read {
    if truncated {
        return Read::Unusable("the answer is larger than 1 MiB".into());
    }
    if kind == Kind::Slash && !is_exactly_json(content_type) {
        return match String::from_utf8(body.to_vec()) {
            Ok(text) if text.is_empty() => Read::Empty,
            Ok(text) => Read::Answer(Box::new(Answer::text(text))),
            Err(_) => Read::Unusable("the answer is not UTF-8 text".into()),
        };
    }
    match first_json_value(body) {
        None if kind == Kind::Slash => Read::Unusable("the JSON answer is empty".into()),
        None => Read::Empty,
        Some(Err(error)) => Read::Unusable(format!("the answer is not JSON: {error}")),
        Some(Ok(value)) => from_value(value),
    }
}

/// The media type before any `;`, trimmed, compared case-sensitively (as Mattermost does).
fn is_exactly_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim() == "application/json")
}

/// The first JSON value of the body, as Go's `json.Decoder.Decode` reads it: what follows is
/// ignored. `None` for a body of whitespace only.
fn first_json_value(body: &[u8]) -> Option<Result<Value, serde_json::Error>> {
    serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next()
}

/// An answer from parsed JSON, keys matched case-insensitively (the last of two spellings
/// wins, as in Go).
pub fn from_value(value: Value) -> Read {
    let object = match value {
        Value::Null => return Read::Empty,
        Value::Object(object) => object,
        _ => return Read::Unusable("the answer is not a JSON object".into()),
    };
    let mut answer = Answer::default();
    for (key, value) in object {
        if let Err(reason) = answer.set(&key.to_ascii_lowercase(), value) {
            return Read::Unusable(format!("`{key}` {reason}"));
        }
    }
    Read::Answer(Box::new(answer))
}

impl Answer {
    fn set(&mut self, key: &str, value: Value) -> Result<(), &'static str> {
        let post = &mut self.post;
        match key {
            "text" => post.text = optional_string(value)?,
            "username" => post.username = optional_string(value)?,
            "icon_url" => post.icon_url = optional_string(value)?,
            "response_type" => post.response_type = optional_string(value)?,
            "type" => post.post_type = optional_string(value)?,
            "goto_location" => post.goto_location = optional_string(value)?,
            "channel_id" => post.channel_id = optional_string(value)?,
            "attachments" => post.attachments = optional_array(value)?,
            "extra_responses" => post.extra_responses = optional_array(value)?,
            "blocks" => post.blocks = Some(value).filter(|v| !v.is_null()),
            "props" => match value {
                Value::Object(props) => post.props = Some(props),
                Value::Null => post.props = None,
                _ => return Err("must be an object"),
            },
            "skip_slack_parsing" => match value {
                Value::Bool(flag) => post.skip_slack_parsing = Some(flag),
                Value::Null => post.skip_slack_parsing = None,
                _ => return Err("must be true or false"),
            },
            "incident_id" => match value {
                Value::String(id) => self.incident_id = Some(id),
                Value::Number(number) => self.incident_id = Some(number.to_string()),
                Value::Null => self.incident_id = None,
                _ => return Err("must be an id or a number"),
            },
            "operations" => self.operations = Some(value).filter(|v| !v.is_null()),
            _ => {}
        }
        Ok(())
    }
}

fn optional_string(value: Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::String(text) => Ok(Some(text)),
        Value::Null => Ok(None),
        _ => Err("must be a string"),
    }
}

fn optional_array(value: Value) -> Result<Vec<Value>, &'static str> {
    match value {
        Value::Array(items) => Ok(items.into_iter().filter(|item| !item.is_null()).collect()),
        Value::Null => Ok(Vec::new()),
        _ => Err("must be an array"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(body: &str) -> Read {
        read(Kind::Outgoing, None, body.as_bytes(), false)
    }

    fn answer(read: Read) -> Answer {
        match read {
            Read::Answer(answer) => *answer,
            other => panic!("not an answer: {other:?}"),
        }
    }

    #[test]
    fn outgoing_answers_are_json_whatever_their_type_first_value_only() {
        let first = answer(outgoing(
            r#"{"TEXT": "hi", "Username": "bot"} {"text": "second"} trailing"#,
        ));
        assert_eq!(first.post.text.as_deref(), Some("hi"));
        assert_eq!(first.post.username.as_deref(), Some("bot"));
        assert_eq!(outgoing(""), Read::Empty);
        assert_eq!(outgoing("  \n"), Read::Empty);
        assert_eq!(outgoing("null"), Read::Empty);
        assert!(matches!(outgoing("aaaaaaaa"), Read::Unusable(_)));
        assert!(matches!(outgoing(r#"{"text": 5}"#), Read::Unusable(_)));
        assert!(matches!(
            read(Kind::Outgoing, None, b"{}", true),
            Read::Unusable(_)
        ));
    }

    #[test]
    fn empty_text_still_posts_and_attachments_alone_do_too() {
        assert!(answer(outgoing(r#"{"text": ""}"#)).has_post());
        assert!(answer(outgoing(r#"{"attachments": [{"text": "a"}]}"#)).has_post());
        assert!(!answer(outgoing(r#"{"username": "x"}"#)).has_post());
    }

    #[test]
    fn slash_answers_are_json_only_for_exactly_application_json() {
        let json = read(
            Kind::Slash,
            Some("application/json; charset=utf-8"),
            br#"{"text": "a", "skip_slack_parsing": true, "extra_responses": [{"text": "b"}]}"#,
            false,
        );
        let json = answer(json);
        assert_eq!(json.post.skip_slack_parsing, Some(true));
        assert_eq!(json.post.extra_responses.len(), 1);
        let text = answer(read(
            Kind::Slash,
            Some("Application/JSON"),
            br#"{"text": "a"}"#,
            false,
        ));
        assert_eq!(text.post.text.as_deref(), Some(r#"{"text": "a"}"#));
        assert_eq!(
            read(Kind::Slash, Some("text/plain"), b"", false),
            Read::Empty
        );
        assert!(matches!(
            read(Kind::Slash, Some("application/json"), b"", false),
            Read::Unusable(_)
        ));
    }

    #[test]
    fn incident_patches_are_read_with_the_incident_by_id_or_number() {
        let patch = answer(outgoing(
            r#"{"incident_id": 12, "operations": {"appendIntent": {"intent": "Resolved"}}}"#,
        ));
        assert_eq!(patch.incident_id.as_deref(), Some("12"));
        assert!(patch.operations.is_some() && !patch.has_post());
    }
}
