//! A chat request as received (SPEC §3.2): Mattermost's or Slack's fields, from a form, a JSON
//! body or a query string, with the timestamp normalised and the first word found.

use std::collections::HashSet;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::fields::{Fields, TYPICAL_FIELDS};
use super::wire::{FormError, decode_form};
use crate::chat::trigger::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Mattermost,
    Slack,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Mattermost => "mattermost",
            Platform::Slack => "slack",
        }
    }
}

/// How the request's fields arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Form,
    Json,
    /// A slash command sent as `GET`.
    Query,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the form body is malformed: {0}")]
    Form(#[from] FormError),
    #[error("the JSON body is malformed: {0}")]
    Json(String),
    #[error("the field `{0}` appears more than once")]
    Duplicate(String),
    #[error("the field `text` is missing")]
    MissingText,
    #[error("the field `command` is missing")]
    MissingCommand,
}

/// Fields a slash command may legitimately repeat (Mattermost's mention lists).
const REPEATABLE: [&str; 4] = [
    "user_mentions",
    "user_mentions_ids",
    "channel_mentions",
    "channel_mentions_ids",
];

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub kind: Kind,
    pub platform: Platform,
    pub encoding: Encoding,
    /// As received, in order (a field with an empty key left out); JSON numbers and booleans
    /// as their text.
    pub fields: Fields,
    /// When the message was posted, in Unix milliseconds.
    pub timestamp_ms: Option<i64>,
}

impl ChatMessage {
    /// Parses the fields; `signed` says the request carries a Slack signature.
    pub fn parse(
        kind: Kind,
        encoding: Encoding,
        body: &[u8],
        signed: bool,
    ) -> Result<Self, MessageError> {
        let fields = match encoding {
            Encoding::Form | Encoding::Query => decode_form(body)?,
            Encoding::Json => json_fields(body)?,
        };
        if let Some(key) = first_repeated(&fields) {
            return Err(MessageError::Duplicate(key.to_owned()));
        }
        let mut message = Self {
            kind,
            platform: Platform::Mattermost,
            encoding,
            fields,
            timestamp_ms: None,
        };
        match kind {
            Kind::Outgoing if !message.has("text") => return Err(MessageError::MissingText),
            Kind::Slash if !message.has("command") => return Err(MessageError::MissingCommand),
            _ => {}
        }
        message.platform = if signed || message.looks_like_slack() {
            Platform::Slack
        } else {
            Platform::Mattermost
        };
        message.timestamp_ms = message.parse_timestamp();
        Ok(message)
    }

    fn looks_like_slack(&self) -> bool {
        self.has("api_app_id")
            || self.field("timestamp").contains('.')
            || self
                .field("response_url")
                .starts_with("https://hooks.slack.com/")
    }

    /// Mattermost sends seconds in forms and milliseconds in JSON; Slack sends the message's
    /// `"seconds.microseconds"`.
    fn parse_timestamp(&self) -> Option<i64> {
        let text = self.field("timestamp");
        if let Some((seconds, fraction)) = text.split_once('.') {
            if !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            let seconds: i64 = seconds.parse().ok()?;
            let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
            return seconds.checked_mul(1000)?.checked_add(millis);
        }
        let number: i64 = text.parse().ok()?;
        match self.encoding {
            Encoding::Json => Some(number),
            Encoding::Form | Encoding::Query => number.checked_mul(1000),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.fields.get(name).is_some()
    }

    /// The field's (first) value, or `""`.
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).unwrap_or_default()
    }

    /// What triggers are matched on: the message's first word (split on Unicode whitespace,
    /// as Go's `strings.Fields`), or the slash command.
    pub fn first_word(&self) -> &str {
        match self.kind {
            Kind::Outgoing => self.field("text").split_whitespace().next().unwrap_or(""),
            Kind::Slash => self.field("command").trim(),
        }
    }

    /// The text after the trigger word, trimmed.
    pub fn args(&self) -> &str {
        let text = self.field("text");
        match self.kind {
            Kind::Outgoing => {
                let trimmed = text.trim_start();
                let word = self.first_word();
                trimmed.get(word.len()..).unwrap_or("").trim()
            }
            Kind::Slash => text.trim(),
        }
    }

    /// The token in the body (Mattermost, Slack's legacy verification token).
    pub fn token(&self) -> &str {
        self.field("token")
    }
}

/// The first key given twice that may not be (any but Mattermost's mention lists). A chat
/// request has a dozen fields, where comparing each with each beats hashing; a body with
/// thousands is checked with a set.
fn first_repeated(fields: &Fields) -> Option<&str> {
    const FEW: usize = 32;
    let repeatable = |key: &str| REPEATABLE.contains(&key);
    if fields.len() <= FEW {
        return fields.first_repeated(repeatable);
    }
    let mut seen = HashSet::with_capacity(fields.len());
    fields
        .iter()
        .map(|(key, _)| key)
        .find(|key| !seen.insert(*key) && !repeatable(key))
}

/// The fields of a JSON object body: strings as they are, numbers and booleans as text, arrays
/// of strings as repeated fields. A key given twice is refused, as a form key would be.
fn json_fields(body: &[u8]) -> Result<Fields, MessageError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let fields = deserializer
        .deserialize_map(FieldsVisitor { bytes: body.len() })
        .map_err(|error| match error.to_string() {
            text if text.starts_with(DUPLICATE) => {
                let key = &text[DUPLICATE.len()..];
                let key = key.split(" at line ").next().unwrap_or(key);
                MessageError::Duplicate(key.to_owned())
            }
            text => MessageError::Json(text),
        })?;
    deserializer
        .end()
        .map_err(|error| MessageError::Json(error.to_string()))?;
    Ok(fields)
}

const DUPLICATE: &str = "duplicate field ";

/// Decoded keys and values take no more room than the body.
struct FieldsVisitor {
    bytes: usize,
}

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object of chat fields")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        use serde::de::Error;
        let mut fields = Fields::with_capacity(TYPICAL_FIELDS, self.bytes);
        let mut seen = HashSet::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            if !seen.insert(key.clone()) {
                return Err(M::Error::custom(format!("{DUPLICATE}{key}")));
            }
            match value {
                Value::Array(items) => {
                    for item in items {
                        let text = scalar_text(item)
                            .ok_or_else(|| M::Error::custom(format!("`{key}` must hold text")))?;
                        fields.push(&key, &text);
                    }
                }
                other => {
                    let text = scalar_text(other)
                        .ok_or_else(|| M::Error::custom(format!("`{key}` must be text")))?;
                    fields.push(&key, &text);
                }
            }
        }
        Ok(fields)
    }
}

fn scalar_text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &[u8] = b"channel_id=hawos4dqtby53pd64o4a4cmeoo&channel_name=town-square&file_ids=&post_id=axdygg1957njfe5pu38saikdho&team_domain=someteam&team_id=kwoknj9nwpypzgzy78wkw516qe&text=%23build+now+%3Cx%3E+%26+%22y%22+%C3%BC&timestamp=1445532266&token=zmigewsanbbsdf59xnmduzypjc&trigger_word=%23build&user_id=rnina9994bde8mua79zqcg5hmo&user_name=somename";
    const JSON: &str = r##"{"token":"zmigewsanbbsdf59xnmduzypjc","team_id":"kwoknj9nwpypzgzy78wkw516qe","team_domain":"someteam","channel_id":"hawos4dqtby53pd64o4a4cmeoo","channel_name":"town-square","timestamp":1445532266123,"user_id":"rnina9994bde8mua79zqcg5hmo","user_name":"somename","post_id":"axdygg1957njfe5pu38saikdho","text":"#build now \u003cx\u003e \u0026 \"y\" ü","trigger_word":"#build","file_ids":""}"##;

    #[test]
    fn mattermost_timestamps_are_seconds_in_forms_and_milliseconds_in_json() {
        let form = ChatMessage::parse(Kind::Outgoing, Encoding::Form, FORM, false).unwrap();
        let json =
            ChatMessage::parse(Kind::Outgoing, Encoding::Json, JSON.as_bytes(), false).unwrap();
        assert_eq!(form.timestamp_ms, Some(1_445_532_266_000));
        assert_eq!(json.timestamp_ms, Some(1_445_532_266_123));
        assert_eq!(form.platform, Platform::Mattermost);
        assert_eq!(form.field("text"), json.field("text"));
        assert_eq!(form.first_word(), "#build");
        assert_eq!(form.args(), "now <x> & \"y\" ü");
    }

    #[test]
    fn slack_timestamps_keep_their_milliseconds() {
        let body = b"token=t&team_id=T1&channel_id=C1&channel_name=general&timestamp=1355517523.000005&user_id=U1&user_name=bob&text=deploy+now&trigger_word=deploy";
        let slack = ChatMessage::parse(Kind::Outgoing, Encoding::Form, body, false).unwrap();
        assert_eq!(slack.platform, Platform::Slack);
        assert_eq!(slack.timestamp_ms, Some(1_355_517_523_000));
        let later = b"text=a&timestamp=1355517523.9876";
        let parsed = ChatMessage::parse(Kind::Outgoing, Encoding::Form, later, false).unwrap();
        assert_eq!(parsed.timestamp_ms, Some(1_355_517_523_987));
    }

    #[test]
    fn first_words_split_on_unicode_whitespace_as_go_does() {
        let message = |text: &str| {
            let body = format!(
                "text={}",
                form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
            );
            ChatMessage::parse(Kind::Outgoing, Encoding::Form, body.as_bytes(), false).unwrap()
        };
        assert_eq!(message("  #build\nmain").first_word(), "#build");
        assert_eq!(message("#build\u{a0}main").first_word(), "#build");
        assert_eq!(message("#build\u{3000}main ").args(), "main");
        assert_eq!(message("   ").first_word(), "");
    }

    #[test]
    fn repeated_fields_are_refused_except_mention_lists() {
        let twice = ChatMessage::parse(
            Kind::Outgoing,
            Encoding::Form,
            b"text=a&token=x&token=y",
            false,
        );
        assert_eq!(twice, Err(MessageError::Duplicate("token".into())));
        let mentions = b"command=%2Fbuild&text=&user_mentions=a&user_mentions=b";
        assert!(ChatMessage::parse(Kind::Slash, Encoding::Form, mentions, false).is_ok());
        let json = ChatMessage::parse(
            Kind::Outgoing,
            Encoding::Json,
            br#"{"text":"a","text":"b"}"#,
            false,
        );
        assert_eq!(json, Err(MessageError::Duplicate("text".into())));
    }

    #[test]
    fn repeated_fields_are_found_among_many() {
        let many: String = (0..40).map(|n| format!("f{n}=x&")).collect();
        let twice = format!("{many}text=a&f7=y");
        assert_eq!(
            ChatMessage::parse(Kind::Outgoing, Encoding::Form, twice.as_bytes(), false),
            Err(MessageError::Duplicate("f7".into()))
        );
        let mentions = format!("{many}text=a&user_mentions=a&user_mentions=b");
        assert!(
            ChatMessage::parse(Kind::Outgoing, Encoding::Form, mentions.as_bytes(), false).is_ok()
        );
    }

    #[test]
    fn missing_text_and_malformed_bodies_are_refused() {
        assert_eq!(
            ChatMessage::parse(Kind::Outgoing, Encoding::Form, b"token=x", false),
            Err(MessageError::MissingText)
        );
        assert_eq!(
            ChatMessage::parse(Kind::Slash, Encoding::Form, b"text=x", false),
            Err(MessageError::MissingCommand)
        );
        for bad in [
            &b"[1]"[..],
            b"{\"text\": {}}",
            b"{\"text\": \"a\"} x",
            b"\xff",
        ] {
            assert!(
                matches!(
                    ChatMessage::parse(Kind::Outgoing, Encoding::Json, bad, false),
                    Err(MessageError::Json(_))
                ),
                "{bad:?}"
            );
        }
    }
}
