//! Requests and answers as JSON for logs and API answers: credentials and signatures masked,
//! bodies as text up to a limit.

use serde_json::{Map, Value, json};

use super::client::OutboundResponse;
use super::request::OutboundRequest;

/// Bodies kept in delivery logs (SPEC §6.3).
pub const LOGGED_BODY_BYTES: usize = 64 * 1024;

impl OutboundRequest {
    pub fn to_json(&self, max_body: usize) -> Value {
        json!({
            "method": self.method,
            "url": self.url.as_str(),
            "headers": header_object(self.masked_headers(None)),
            "body": body_text(&self.body, max_body),
        })
    }
}

impl OutboundResponse {
    pub fn to_json(&self, max_body: usize) -> Value {
        json!({
            "status": self.status,
            "headers": header_object(self.header_pairs()),
            "body": body_text(&self.body, max_body),
        })
    }
}

fn header_object(
    headers: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
) -> Value {
    Value::Object(
        headers
            .into_iter()
            .map(|(name, value)| (name.into(), Value::String(value.into())))
            .collect::<Map<_, _>>(),
    )
}

/// The body as text, cut at `max` bytes on a character boundary with a visible marker.
pub fn body_text(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= max {
        return text.into_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated]", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let text = "é".repeat(10);
        let cut = body_text(text.as_bytes(), 5);
        assert_eq!(cut, "éé…[truncated]");
        assert_eq!(body_text(b"short", 64), "short");
    }
}
