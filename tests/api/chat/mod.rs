//! Chat → services over real HTTP: a chat server's requests to `/hooks/…`, fake services
//! started in the test, and what they received and answered.

mod exchanges;
mod forwarding;
mod incidents;
mod receiving;
mod replies;
mod triggers;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use switchyard::chat::inbound::wire::encode_form;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, expect_json};

/// A Mattermost outgoing-webhook token (26 characters, as Mattermost makes them).
pub const TOKEN: &str = "zmigewsanbbsdf59xnmduzypjc";
pub const OTHER_TOKEN: &str = "kwoknj9nwpypzgzy78wkw516qe";
/// Slack's published example secret (chat-protocols.md §7.3).
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// An outgoing trigger `name` on `#name` with one service at `url`; `extra` replaces fields.
pub fn trigger(name: &str, url: &str, extra: Value) -> Value {
    let mut spec = json!({
        "name": name, "kind": "outgoing", "tokens": [TOKEN], "trigger_words": [format!("#{name}")],
        "services": [{"endpoint": {"url": url}, "format": "json"}],
    });
    if let Value::Object(fields) = extra {
        for (key, value) in fields {
            spec[key] = value;
        }
    }
    spec
}

pub async fn create_trigger(app: &TestApp, spec: Value) -> Value {
    let response = app
        .admin(Method::POST, "/api/v1/triggers")
        .json(&spec)
        .send()
        .await
        .unwrap();
    expect_json(response, 201).await
}

/// Mattermost's outgoing-webhook form for `text`, encoded as Mattermost encodes it, with
/// `changes` replacing fields (a value of `None` drops the field).
pub fn mattermost_form(text: &str, changes: &[(&str, Option<&str>)]) -> String {
    let mut fields = vec![
        ("channel_id", "hawos4dqtby53pd64o4a4cmeoo".to_owned()),
        ("channel_name", "town-square".to_owned()),
        ("file_ids", String::new()),
        ("post_id", "axdygg1957njfe5pu38saikdho".to_owned()),
        ("team_domain", "someteam".to_owned()),
        ("team_id", "kwoknj9nwpypzgzy78wkw516qe".to_owned()),
        ("text", text.to_owned()),
        ("timestamp", "1445532266".to_owned()),
        ("token", TOKEN.to_owned()),
        (
            "trigger_word",
            text.split_whitespace().next().unwrap_or("").to_owned(),
        ),
        ("user_id", "rnina9994bde8mua79zqcg5hmo".to_owned()),
        ("user_name", "somename".to_owned()),
    ];
    for (name, value) in changes {
        fields.retain(|(key, _)| key != name);
        if let Some(value) = value {
            fields.push((name, (*value).to_owned()));
        }
    }
    encode_form(fields.iter().map(|(k, v)| (*k, v.as_str())))
}

/// A Mattermost slash command's form for `/command text`.
pub fn slash_form(command: &str, text: &str, response_url: &str) -> String {
    let fields = [
        ("channel_id", "hawos4dqtby53pd64o4a4cmeoo"),
        ("channel_name", "town-square"),
        ("command", command),
        ("response_url", response_url),
        ("team_domain", "someteam"),
        ("team_id", "kwoknj9nwpypzgzy78wkw516qe"),
        ("text", text),
        ("token", TOKEN),
        ("trigger_id", "dHJpZ2dlcg"),
        ("user_id", "rnina9994bde8mua79zqcg5hmo"),
        ("user_name", "somename"),
    ];
    encode_form(fields)
}

pub async fn post_body(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> Response {
    app.client
        .post(app.url(path))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

pub async fn post_form(app: &TestApp, path: &str, body: String) -> Response {
    post_body(app, path, "application/x-www-form-urlencoded", body).await
}

/// Asserts a `200` and returns the reply JSON, or `Value::Null` for an empty body.
pub async fn reply_of(response: Response) -> Value {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "unexpected status; body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    }
}

/// Asserts the bare `401` of a failed authentication.
pub async fn assert_refused(response: Response) {
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.text().await.unwrap(),
        "",
        "a 401 has an empty body"
    );
}

/// A service answering every request with `response`.
pub async fn service(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// A service answering every request with this JSON.
pub async fn json_service(answer: Value) -> MockServer {
    service(ResponseTemplate::new(200).set_body_json(answer)).await
}

/// Slack's `X-Slack-Signature` of `body` at `timestamp`, made by Slack's own Python SDK
/// (`slack_sdk`), so the gateway's check is held to an independent signer.
pub fn slack_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let script = "import json, sys\n\
        from slack_sdk.signature import SignatureVerifier\n\
        data = json.load(sys.stdin)\n\
        print(SignatureVerifier(data['secret']).generate_signature(timestamp=data['timestamp'], body=data['body']))";
    let input = json!({"secret": secret, "timestamp": timestamp.to_string(), "body": body});
    let (printed, errors) = crate::python::run(script, &input);
    let signature = printed.trim().to_owned();
    assert!(
        signature.starts_with("v0="),
        "slack_sdk did not sign: {errors}"
    );
    signature
}

pub fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}
