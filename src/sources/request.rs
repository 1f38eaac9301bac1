//! A request to `/hooks/in/…` as the HTTP layer hands it over, and the views of it the mappings
//! read: headers, the query string, the body as text, as a form, as JSON.

use std::borrow::Cow;

use hyper::body::Bytes;
use serde_json::{Map, Value};

use crate::outbound::secret::shown_header_value;

#[derive(Debug, Clone)]
pub struct SourceRequest {
    pub method: String,
    /// Names in lower case, in the order they came.
    pub headers: Vec<(String, String)>,
    /// The raw query string.
    pub query: String,
    pub body: Bytes,
    /// The token of `/hooks/in/{source}/{token}`.
    pub url_token: Option<String>,
}

impl SourceRequest {
    /// A header's value; `name` in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text; bytes that are not UTF-8 become U+FFFD.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The query string's fields.
    pub fn query_fields(&self) -> Map<String, Value> {
        fields(self.query.as_bytes())
    }

    /// The body's fields, when it is a form.
    pub fn form_fields(&self) -> Map<String, Value> {
        let is_form = self.header("content-type").is_some_and(|media| {
            media
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        if is_form {
            fields(&self.body)
        } else {
            Map::new()
        }
    }

    /// The body as JSON, if it is JSON as it stands.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The headers as an object, credentials and signatures masked: what the request log keeps
    /// and what templates may read.
    pub fn masked_headers(&self) -> Map<String, Value> {
        self.headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(shown_header_value(name, value))))
            .collect()
    }
}

fn fields(encoded: &[u8]) -> Map<String, Value> {
    form_urlencoded::parse(encoded)
        .map(|(key, value)| (key.into_owned(), Value::String(value.into_owned())))
        .collect()
}
