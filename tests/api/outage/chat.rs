//! Chat requests that need the database while it is away: a slash command hears a clean
//! ephemeral "try again" with `200` (the only status Mattermost shows a text for), an outgoing
//! webhook `503` with `Retry-After` and a `text` Mattermost posts, the built-in incident
//! commands say the same in their reply; all of it works again once the database is back.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Proxy, eventually, spawn_behind_proxy};
use crate::chat::{
    TOKEN, create_trigger, json_service, mattermost_form, post_form, reply_of, slash_form, trigger,
};
use crate::helpers::{TestApp, allow_loopback};

const UNAVAILABLE: &str = "Switchyard cannot reach its database right now; try again in a moment.";

/// An asynchronous slash command: answering it stores a reply link first.
async fn deploy(app: &TestApp) -> reqwest::Response {
    let form = slash_form(
        "/deploy",
        "web-1",
        "https://chat.example.com/hooks/commands/abc",
    );
    post_form(app, "/hooks/slash", form).await
}

/// An asynchronous outgoing trigger that posts its replies to a URL: it stores a reply link.
async fn build(app: &TestApp) -> reqwest::Response {
    post_form(app, "/hooks/outgoing", mattermost_form("#build now", &[])).await
}

async fn incident_list(app: &TestApp) -> Value {
    reply_of(post_form(app, "/hooks/outgoing", mattermost_form("#inc list", &[])).await).await
}

/// A synchronous trigger needs nothing stored on the request's path.
async fn ping(app: &TestApp) -> Value {
    reply_of(post_form(app, "/hooks/outgoing", mattermost_form("#ping", &[])).await).await
}

async fn set_up(app: &TestApp, pong: &wiremock::MockServer) {
    create_trigger(app, trigger("ping", &pong.uri(), json!({}))).await;
    let service = "http://127.0.0.1:9/";
    create_trigger(
        app,
        json!({"name": "deploy", "kind": "slash", "tokens": [TOKEN],
        "trigger_words": ["/deploy"], "services": [{"endpoint": {"url": service}}],
        "reply": {"mode": "async"}}),
    )
    .await;
    let post_url = json!({"mode": "async", "post_url": "http://127.0.0.1:9/hooks/x"});
    create_trigger(app, trigger("build", service, json!({"reply": post_url}))).await;
    create_trigger(app, trigger("inc", "builtin:incidents", json!({}))).await;
}

async fn assert_cut(proxy: &Proxy, app: &TestApp) {
    proxy.cut();
    let slash = reply_of(deploy(app).await).await;
    assert_eq!(
        slash,
        json!({"response_type": "ephemeral", "text": UNAVAILABLE})
    );

    let outgoing = build(app).await;
    assert_eq!(outgoing.status(), 503);
    assert_eq!(outgoing.headers()["retry-after"], "5");
    let body: Value = outgoing.json().await.unwrap();
    assert_eq!(
        body["text"], UNAVAILABLE,
        "Mattermost posts it, whatever the status"
    );
    assert_eq!(body["error"]["code"], "unavailable");

    assert_eq!(incident_list(app).await["text"], UNAVAILABLE);
    assert_eq!(ping(app).await["text"], "pong", "answered from memory");
}

// The proxy runs on the test's runtime while the server starts through it: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_requests_that_need_the_database_say_try_again_while_it_is_away() {
    let Some((app, proxy)) = spawn_behind_proxy(allow_loopback).await else {
        return;
    };
    let pong = json_service(json!({"text": "pong"})).await;
    set_up(&app, &pong).await;
    assert_eq!(reply_of(deploy(&app).await).await["text"], "Working on it…");

    assert_cut(&proxy, &app).await;

    proxy.restore();
    let back = eventually(Duration::from_secs(20), || async {
        incident_list(&app).await["text"] == "No unresolved incidents."
    })
    .await;
    assert!(
        back,
        "the incident commands work again once the database is back"
    );
    assert_eq!(reply_of(deploy(&app).await).await["text"], "Working on it…");
    assert_eq!(build(&app).await.status(), 200);
}
