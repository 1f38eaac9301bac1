//! What a service receives (SPEC §3.1 `format`): the chat's fields encoded exactly as
//! Mattermost encodes them (`mattermost-form`, `mattermost-json`), or as one JSON object with
//! what the gateway learnt (`json`), which also feeds body templates (`template`).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::chat::inbound::message::{ChatMessage, Encoding, Platform};
use crate::chat::inbound::wire::{encode_form, go_json_string};
use crate::chat::trigger::Kind;

/// The fields of Mattermost's outgoing-webhook payload, in its struct's order (the JSON order).
const OUTGOING_FIELDS: [&str; 12] = [
    "token",
    "team_id",
    "team_domain",
    "channel_id",
    "channel_name",
    "timestamp",
    "user_id",
    "user_name",
    "post_id",
    "text",
    "trigger_word",
    "file_ids",
];

/// The fields of Mattermost's slash-command request that Slack's request also has.
const SLASH_FIELDS: [&str; 11] = [
    "channel_id",
    "channel_name",
    "command",
    "response_url",
    "team_domain",
    "team_id",
    "text",
    "token",
    "trigger_id",
    "user_id",
    "user_name",
];

/// A chat request on its way to a service.
#[derive(Debug, Clone, Copy)]
pub struct Forwarded<'a> {
    pub message: &'a ChatMessage,
    pub trigger_name: &'a str,
    /// The trigger word the gateway matched (`""` for channel-only triggers).
    pub trigger_word: &'a str,
    /// The gateway's own reply URL, when there is a way back.
    pub response_url: Option<&'a str>,
}

impl<'a> Forwarded<'a> {
    /// The chat's fields as Mattermost would send them, `timestamp` in seconds. A Mattermost
    /// request keeps every field it came with (but one with an empty key), so forwarding it in
    /// its own encoding changes no byte; a Slack request is mapped onto Mattermost's field set.
    pub fn mattermost_fields(&self) -> Vec<(&'a str, Cow<'a, str>)> {
        let message = self.message;
        // Room for what is kept (a Slack request becomes Mattermost's dozen fields) and the two
        // fields the gateway may add.
        let kept = message.fields.len().max(OUTGOING_FIELDS.len());
        let mut fields: Vec<(&str, Cow<str>)> = Vec::with_capacity(kept + 2);
        match message.platform {
            Platform::Mattermost => fields.extend(
                message
                    .fields
                    .iter()
                    .filter(|(key, _)| *key != "response_url")
                    .map(|(key, value)| (key, Cow::Borrowed(value))),
            ),
            Platform::Slack => {
                let names: &[&'static str] = match message.kind {
                    Kind::Outgoing => &OUTGOING_FIELDS,
                    Kind::Slash => &SLASH_FIELDS,
                };
                fields.extend(
                    names
                        .iter()
                        .filter(|name| **name != "response_url")
                        .map(|&name| match name {
                            // Slack's message id is its timestamp.
                            "post_id" => (name, Cow::Borrowed(message.field("timestamp"))),
                            _ => (name, Cow::Borrowed(message.field(name))),
                        }),
                );
            }
        }
        for (key, value) in &mut fields {
            if *key == "timestamp" {
                *value = self
                    .timestamp_seconds()
                    .map_or_else(|| value.clone(), Cow::Owned);
            }
        }
        if message.kind == Kind::Outgoing && !fields.iter().any(|(key, _)| *key == "trigger_word") {
            fields.push(("trigger_word", Cow::Borrowed(self.trigger_word)));
        }
        if let Some(url) = self.response_url {
            fields.push(("response_url", Cow::Borrowed(url)));
        }
        fields
    }

    /// Seconds as Mattermost's forms carry them; a form's own text is kept as it came.
    fn timestamp_seconds(&self) -> Option<String> {
        let unchanged = self.message.platform == Platform::Mattermost
            && self.message.encoding != Encoding::Json;
        if unchanged {
            return None;
        }
        self.message.timestamp_ms.map(|ms| (ms / 1000).to_string())
    }

    /// `mattermost-form`: Go's `url.Values.Encode` of the fields.
    pub fn form(&self) -> String {
        let fields = self.mattermost_fields();
        encode_form(fields.iter().map(|(key, value)| (*key, value.as_ref())))
    }

    /// `mattermost-json`: Go's `json.Marshal` of Mattermost's payload struct, `timestamp` in
    /// milliseconds. Slash commands, which Mattermost only sends as forms, get their fields in
    /// the form's order, repeated ones as arrays.
    pub fn mattermost_json(&self) -> String {
        let fields = self.mattermost_fields();
        let value = |name: &str| {
            fields
                .iter()
                .find(|(key, _)| *key == name)
                .map_or("", |(_, value)| value.as_ref())
        };
        let mut out = String::with_capacity(512);
        out.push('{');
        let mut first = true;
        let mut key = |out: &mut String, name: &str| {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            go_json_string(name, out);
            out.push(':');
        };
        match self.message.kind {
            Kind::Outgoing => {
                for name in OUTGOING_FIELDS {
                    key(&mut out, name);
                    if name == "timestamp" {
                        out.push_str(&self.message.timestamp_ms.unwrap_or(0).to_string());
                    } else {
                        go_json_string(value(name), &mut out);
                    }
                }
                if let Some(url) = self.response_url {
                    key(&mut out, "response_url");
                    go_json_string(url, &mut out);
                }
            }
            Kind::Slash => {
                for (name, values) in grouped(&fields) {
                    key(&mut out, name);
                    write_go_values(&values, &mut out);
                }
            }
        }
        out.push('}');
        out
    }

    /// `json`: the chat's fields (its token withheld: the gateway has checked it), the
    /// timestamp in milliseconds, and `trigger`, `trigger_word`, `args`, `platform`,
    /// `response_url` (`""` without a way back).
    pub fn json_object(&self) -> Map<String, Value> {
        let fields = self.mattermost_fields();
        let mut object = Map::new();
        for (name, values) in grouped(&fields) {
            if matches!(name, "token" | "response_url" | "trigger_word") {
                continue;
            }
            let value = match (name, values.as_slice()) {
                ("timestamp", _) => self.message.timestamp_ms.map_or(Value::Null, Value::from),
                (_, [single]) if !is_list(name) => Value::String((*single).to_owned()),
                (_, many) => Value::Array(
                    many.iter()
                        .map(|v| Value::String((*v).to_owned()))
                        .collect(),
                ),
            };
            object.insert(name.to_owned(), value);
        }
        object.insert("trigger".into(), self.trigger_name.into());
        object.insert("trigger_word".into(), self.trigger_word.into());
        object.insert("args".into(), self.message.args().into());
        object.insert("platform".into(), self.message.platform.as_str().into());
        object.insert(
            "response_url".into(),
            self.response_url.unwrap_or("").into(),
        );
        object
    }
}

/// Mattermost's mention lists are lists even with one entry.
fn is_list(name: &str) -> bool {
    name.ends_with("_mentions") || name.ends_with("_mentions_ids")
}

/// The fields sorted by key, each key once with all its values.
fn grouped<'f>(fields: &'f [(&str, Cow<'_, str>)]) -> Vec<(&'f str, Vec<&'f str>)> {
    let mut sorted: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_ref())).collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (key, value) in sorted {
        match groups.last_mut() {
            Some((last, values)) if *last == key => values.push(value),
            _ => groups.push((key, vec![value])),
        }
    }
    groups
}

fn write_go_values(values: &[&str], out: &mut String) {
    if let [single] = values {
        go_json_string(single, out);
        return;
    }
    out.push('[');
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        go_json_string(value, out);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// chat-protocols.md §2.3.
    const FORM: &str = "channel_id=hawos4dqtby53pd64o4a4cmeoo&channel_name=town-square&file_ids=&post_id=axdygg1957njfe5pu38saikdho&team_domain=someteam&team_id=kwoknj9nwpypzgzy78wkw516qe&text=%23build+now+%3Cx%3E+%26+%22y%22+%C3%BC&timestamp=1445532266&token=zmigewsanbbsdf59xnmduzypjc&trigger_word=%23build&user_id=rnina9994bde8mua79zqcg5hmo&user_name=somename";
    const JSON: &str = r##"{"token":"zmigewsanbbsdf59xnmduzypjc","team_id":"kwoknj9nwpypzgzy78wkw516qe","team_domain":"someteam","channel_id":"hawos4dqtby53pd64o4a4cmeoo","channel_name":"town-square","timestamp":1445532266123,"user_id":"rnina9994bde8mua79zqcg5hmo","user_name":"somename","post_id":"axdygg1957njfe5pu38saikdho","text":"#build now \u003cx\u003e \u0026 \"y\" ü","trigger_word":"#build","file_ids":""}"##;

    fn forwarded<'a>(message: &'a ChatMessage, response_url: Option<&'a str>) -> Forwarded<'a> {
        Forwarded {
            message,
            trigger_name: "build",
            trigger_word: "#build",
            response_url,
        }
    }

    fn parse(encoding: Encoding, body: &str) -> ChatMessage {
        ChatMessage::parse(Kind::Outgoing, encoding, body.as_bytes(), false).unwrap()
    }

    #[test]
    fn mattermost_requests_in_their_own_encoding_are_byte_identical() {
        let form = parse(Encoding::Form, FORM);
        assert_eq!(forwarded(&form, None).form(), FORM);
        let json = parse(Encoding::Json, JSON);
        assert_eq!(forwarded(&json, None).mattermost_json(), JSON);
    }

    #[test]
    fn across_encodings_the_timestamp_changes_unit() {
        let json = parse(Encoding::Json, JSON);
        assert_eq!(forwarded(&json, None).form(), FORM);
        let form = parse(Encoding::Form, FORM);
        let expected = JSON.replace("1445532266123", "1445532266000");
        assert_eq!(forwarded(&form, None).mattermost_json(), expected);
    }

    #[test]
    fn a_way_back_adds_the_gateways_response_url() {
        let form = parse(Encoding::Form, FORM);
        let url = "http://gw.example/hooks/reply/abc";
        let encoded = forwarded(&form, Some(url)).form();
        assert!(
            encoded.contains(
                "&response_url=http%3A%2F%2Fgw.example%2Fhooks%2Freply%2Fabc&team_domain="
            ),
            "{encoded}"
        );
        let json = forwarded(&form, Some(url)).mattermost_json();
        assert!(
            json.ends_with(r#","file_ids":"","response_url":"http://gw.example/hooks/reply/abc"}"#),
            "{json}"
        );
    }

    #[test]
    fn slack_requests_map_onto_mattermosts_fields() {
        let body = "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&channel_id=C2147483705&channel_name=test&thread_ts=1504640714.003543&timestamp=1504640775.000005&user_id=U2147483697&user_name=Steve&text=googlebot%3A+What+is+the+air-speed&trigger_word=googlebot%3A";
        let slack = parse(Encoding::Form, body);
        assert_eq!(slack.platform, Platform::Slack);
        let encoded = forwarded(&slack, None).form();
        assert_eq!(
            encoded,
            "channel_id=C2147483705&channel_name=test&file_ids=&post_id=1504640775.000005&team_domain=example&team_id=T0001&text=googlebot%3A+What+is+the+air-speed&timestamp=1504640775&token=gIkuvaNzQIHg97ATvDxqgjtO&trigger_word=googlebot%3A&user_id=U2147483697&user_name=Steve"
        );
    }

    #[test]
    fn slash_commands_replace_the_chats_response_url() {
        let body = "channel_id=c1&channel_name=town-square&command=%2Fbuild&response_url=https%3A%2F%2Fchat.example%2Fhooks%2Fcommands%2Fx&team_domain=acme&team_id=t1&text=main&token=tok&trigger_id=tr&user_id=u1&user_mentions=a&user_mentions=b&user_name=alice";
        let message =
            ChatMessage::parse(Kind::Slash, Encoding::Form, body.as_bytes(), false).unwrap();
        let ours = "http://gw.example/hooks/reply/abc";
        let encoded = forwarded(&message, Some(ours)).form();
        assert_eq!(
            encoded,
            body.replace(
                "https%3A%2F%2Fchat.example%2Fhooks%2Fcommands%2Fx",
                "http%3A%2F%2Fgw.example%2Fhooks%2Freply%2Fabc"
            )
        );
        let json = forwarded(&message, Some(ours)).mattermost_json();
        assert!(json.contains(r#""user_mentions":["a","b"]"#), "{json}");
    }

    #[test]
    fn the_json_format_withholds_the_token_and_adds_what_the_gateway_knows() {
        let form = parse(Encoding::Form, FORM);
        let object = forwarded(&form, None).json_object();
        assert!(!object.contains_key("token"));
        assert_eq!(object["timestamp"], 1_445_532_266_000_i64);
        assert_eq!(object["args"], "now <x> & \"y\" ü");
        assert_eq!(object["trigger"], "build");
        assert_eq!(object["platform"], "mattermost");
        assert_eq!(object["response_url"], "");
    }
}
