//! The request actually sent: method, URL, headers in order, the body's exact bytes. Auth and
//! signatures are applied here, last, so the signature covers exactly what goes on the wire.

use chrono::Utc;
use hyper::body::Bytes;
use url::Url;

use super::endpoint::{Auth, Endpoint, HttpMethod};
use super::signing::signature_headers;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: HttpMethod,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    /// Shared, not copied, by every send of the request (retries, the attempt log).
    pub body: Bytes,
    /// The header that carries the endpoint's credential, when its name does not say so
    /// (an API key in `X-Team`): masked wherever the request is shown.
    pub credential_header: Option<String>,
}

/// A rendered body and its media type, before auth and signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Body {
    pub fn json(bytes: Vec<u8>) -> Self {
        Self {
            content_type: "application/json".into(),
            bytes,
        }
    }
}

/// Everything that decides a request besides the endpoint itself.
pub struct RequestSpec<'a> {
    pub endpoint: &'a Endpoint,
    pub method: HttpMethod,
    pub url: Url,
    pub body: Body,
    /// Headers of the gateway's own (`X-Switchyard-*`), before the configured ones.
    pub gateway_headers: Vec<(String, String)>,
    /// Headers a request template rendered; they win over the endpoint's configured ones.
    pub rendered_headers: Vec<(String, String)>,
    /// The id receivers deduplicate on (Standard Webhooks' `webhook-id`).
    pub message_id: &'a str,
}

impl RequestSpec<'_> {
    pub fn build(self) -> OutboundRequest {
        let body = if self.method.has_body() {
            self.body.bytes
        } else {
            Vec::new()
        };
        let mut headers = Vec::new();
        let configured = |name: &str| {
            self.endpoint.headers.contains(name)
                || self
                    .rendered_headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        // A request template may describe a request without a body: then no media type either.
        let typed = !self.body.content_type.is_empty();
        if self.method.has_body() && typed && !configured("content-type") {
            headers.push(("Content-Type".to_owned(), self.body.content_type));
        }
        headers.extend(self.gateway_headers);
        let mut put = |name: &str, value: &str| {
            headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
            headers.push((name.to_owned(), value.to_owned()));
        };
        for (name, value) in self.endpoint.headers.0.iter().chain(&self.rendered_headers) {
            put(name, value);
        }
        let mut credential_header = None;
        if let Some((name, value)) = auth_header(&self.endpoint.auth) {
            put(&name, &value);
            credential_header = Some(name);
        }
        for (name, value) in
            signature_headers(&self.endpoint.signing, self.message_id, &body, Utc::now())
        {
            put(name, &value);
        }
        OutboundRequest {
            method: self.method,
            url: self.url,
            headers,
            body: Bytes::from(body),
            credential_header,
        }
    }
}

fn auth_header(auth: &Auth) -> Option<(String, String)> {
    use base64::Engine;
    match auth {
        Auth::None => None,
        Auth::Bearer { token } => Some(("Authorization".into(), format!("Bearer {token}"))),
        Auth::ApiKey { header, key } => Some((header.clone(), key.clone())),
        Auth::Basic { username, password } => {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            Some(("Authorization".into(), format!("Basic {encoded}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(endpoint: &Endpoint, method: HttpMethod) -> RequestSpec<'_> {
        RequestSpec {
            endpoint,
            method,
            url: Url::parse(&endpoint.url).unwrap(),
            body: Body::json(b"{\"a\":1}".to_vec()),
            gateway_headers: vec![("X-Switchyard-Event".into(), "object.created".into())],
            rendered_headers: Vec::new(),
            message_id: "dlv_1",
        }
    }

    #[test]
    fn configured_headers_override_defaults_and_auth_comes_last() {
        let endpoint: Endpoint = serde_json::from_value(serde_json::json!({
            "url": "https://a.example/x",
            "headers": {"content-type": "application/vnd.x+json", "Authorization": "ignored"},
            "auth": {"type": "basic", "username": "u", "password": "p"}
        }))
        .unwrap();
        let request = spec(&endpoint, HttpMethod::Post).build();
        let names: Vec<_> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["X-Switchyard-Event", "content-type", "Authorization"]
        );
        assert_eq!(request.headers[2].1, "Basic dTpw");
        let shown = request.to_json(64);
        assert_eq!(shown["headers"]["Authorization"], "[masked]");
    }

    #[test]
    fn get_and_delete_carry_no_body() {
        let endpoint: Endpoint =
            serde_json::from_value(serde_json::json!({"url": "https://a.example/"})).unwrap();
        let request = spec(&endpoint, HttpMethod::Get).build();
        assert!(request.body.is_empty());
        assert!(!request.headers.iter().any(|(n, _)| n == "Content-Type"));
    }
}
