//! Requests and answers as JSON for logs and API answers: credentials and signatures masked,
//! bodies as text up to a limit.

use std::borrow::Cow;

use hyper::HeaderMap;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::client::OutboundResponse;
use super::endpoint::HttpMethod;
use super::request::OutboundRequest;
use super::secret::is_sensitive_header;

/// Bodies kept in delivery logs (SPEC §6.3).
pub const LOGGED_BODY_BYTES: usize = 64 * 1024;
/// What a masked header value or secret is shown as.
pub const MASKED: &str = "[masked]";

/// A request as it may be shown and stored, serialised straight from the request (no JSON
/// tree in between): credentials and signatures masked, the body as text up to a limit.
#[derive(Debug, serde::Serialize)]
pub struct ShownRequest<'a> {
    method: HttpMethod,
    url: Cow<'a, str>,
    headers: MaskedHeaders<'a>,
    body: Cow<'a, str>,
}

/// Masks `secret` wherever `text` repeats it, as is or form-encoded.
pub fn mask_in(text: &mut String, secret: &str) {
    if secret.is_empty() {
        return;
    }
    if text.contains(secret) {
        *text = text.replace(secret, MASKED);
    }
    let encoded: Cow<'_, str> = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    // Most tokens read the same form-encoded: then there is nothing more to look for.
    if encoded != secret && text.contains(encoded.as_ref()) {
        *text = text.replace(encoded.as_ref(), MASKED);
    }
}

/// An answer as it may be shown and stored: the body as text up to a limit.
#[derive(Debug, serde::Serialize)]
pub struct ShownResponse<'a> {
    status: u16,
    headers: AnswerHeaders<'a>,
    body: Cow<'a, str>,
}

impl OutboundRequest {
    pub fn shown(&self, max_body: usize) -> ShownRequest<'_> {
        let url = if self.url.password().is_some() {
            let mut masked = self.url.clone();
            match masked.set_password(Some(MASKED)) {
                Ok(()) => Cow::Owned(masked.into()),
                // A URL that has a password can take another; should it not, none is shown.
                Err(()) => Cow::Borrowed(MASKED),
            }
        } else {
            Cow::Borrowed(self.url.as_str())
        };
        ShownRequest {
            method: self.method,
            url,
            headers: MaskedHeaders {
                headers: &self.headers,
                credential: self.credential_header.as_deref(),
            },
            body: body_text(&self.body, max_body),
        }
    }

    pub fn to_json(&self, max_body: usize) -> Value {
        json_of(&self.shown(max_body))
    }
}

impl OutboundResponse {
    pub fn shown(&self, max_body: usize) -> ShownResponse<'_> {
        ShownResponse {
            status: self.status,
            headers: AnswerHeaders(&self.headers),
            body: body_text(&self.body, max_body),
        }
    }

    pub fn to_json(&self, max_body: usize) -> Value {
        json_of(&self.shown(max_body))
    }
}

/// Headers and strings always serialise.
fn json_of(shown: &impl serde::Serialize) -> Value {
    serde_json::to_value(shown).unwrap_or(Value::Null)
}

/// Request headers as a JSON object, credentials and signatures masked.
#[derive(Debug)]
struct MaskedHeaders<'a> {
    headers: &'a [(String, String)],
    /// The endpoint's credential header, whatever its name.
    credential: Option<&'a str>,
}

impl Serialize for MaskedHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.headers.len()))?;
        for (name, value) in self.headers {
            let credential = self
                .credential
                .is_some_and(|credential| credential.eq_ignore_ascii_case(name));
            let shown = if credential || is_sensitive_header(name) {
                MASKED
            } else {
                value
            };
            map.serialize_entry(name, shown)?;
        }
        map.end()
    }
}

/// Answer headers as a JSON object.
#[derive(Debug)]
struct AnswerHeaders<'a>(&'a HeaderMap);

impl Serialize for AnswerHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name.as_str(), &String::from_utf8_lossy(value.as_bytes()))?;
        }
        map.end()
    }
}

/// The body as text, cut at `max` bytes on a character boundary with a visible marker.
pub fn body_text(bytes: &[u8], max: usize) -> Cow<'_, str> {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…[truncated]", &text[..end]))
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
