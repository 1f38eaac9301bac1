//! Replies (SPEC §3.4): asynchronous posts, the gateway's own `response_url`, post formats,
//! threading, overrides and long text.

use std::time::Duration;

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::*;
use crate::backend_tests;
use crate::helpers::{expect_error, expect_json, received, spawn_app_reaching_loopback};

fn body_json(request: &wiremock::Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// The `response_url` the service was given.
fn response_url_of(request: &wiremock::Request) -> String {
    body_json(request)["response_url"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn put_settings(app: &crate::helpers::TestApp, chat: Value) {
    let response = app
        .admin(Method::PUT, "/api/v1/settings")
        .json(&json!({ "chat": chat }))
        .send()
        .await
        .unwrap();
    expect_json(response, 200).await;
}

backend_tests! {
    async fn asynchronous_outgoing_replies_are_posted_to_the_incoming_webhook_in_the_thread(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = service(ResponseTemplate::new(200).set_body_json(json!({"text": "build 812 done", "response_type": "comment"})).set_delay(Duration::from_secs(1))).await;
        let incoming = service(ResponseTemplate::new(200).set_body_string("ok")).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({"reply": {
            "mode": "async", "post_url": format!("{}/hooks/abc", incoming.uri()), "post_format": "mattermost"
        }}))).await;

        let answer = post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await;
        assert_eq!(reply_of(answer).await, Value::Null);
        assert!(incoming.received_requests().await.unwrap().is_empty(), "the chat is answered before the service is");

        let posted = received(&incoming, 1).await;
        assert_eq!(posted[0].url.path(), "/hooks/abc");
        assert_eq!(body_json(&posted[0]), json!({"text": "build 812 done", "channel": "town-square", "root_id": "axdygg1957njfe5pu38saikdho"}));
        let forwarded = &received(&svc, 1).await[0];
        assert!(response_url_of(forwarded).starts_with(&app.url("/hooks/reply/")), "a way back is handed out");
        let log = app.get_json("/api/v1/deliveries?webhook=whk_system_chat_replies").await;
        assert_eq!(log["items"].as_array().unwrap().len(), 1, "posts are in the delivery log");
    }

    async fn asynchronous_slash_commands_acknowledge_then_post_to_the_response_url(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = service(ResponseTemplate::new(200).set_body_json(json!({"response_type": "in_channel", "text": "deployed"})).set_delay(Duration::from_millis(200))).await;
        let chat = service(ResponseTemplate::new(200).set_body_string("ok")).await;
        create_trigger(&app, json!({"name": "deploy", "kind": "slash", "tokens": [TOKEN], "trigger_words": ["/deploy"],
            "services": [{"endpoint": {"url": svc.uri()}}], "reply": {"mode": "async"}})).await;
        create_trigger(&app, json!({"name": "quiet", "kind": "slash", "tokens": [TOKEN], "trigger_words": ["/quiet"],
            "services": [{"endpoint": {"url": svc.uri()}}], "reply": {"mode": "async", "ack_text": ""}})).await;

        let response_url = format!("{}/hooks/commands/x1", chat.uri());
        let ack = reply_of(post_form(&app, "/hooks/slash", slash_form("/deploy", "prod", &response_url)).await).await;
        assert_eq!(ack, json!({"response_type": "ephemeral", "text": "Working on it…"}));
        let quiet = reply_of(post_form(&app, "/hooks/slash", slash_form("/quiet", "", &response_url)).await).await;
        assert_eq!(quiet, Value::Null);

        let posts = received(&chat, 2).await;
        for post in &posts {
            assert_eq!(body_json(post), json!({"text": "deployed", "response_type": "in_channel"}));
        }
    }

    async fn a_graceful_stop_lets_an_asynchronous_reply_finish(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = service(ResponseTemplate::new(200).set_body_json(json!({"text": "done"})).set_delay(Duration::from_secs(1))).await;
        let incoming = service(ResponseTemplate::new(200).set_body_string("ok")).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({"reply": {"mode": "async", "post_url": incoming.uri()}}))).await;
        let answer = post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await;
        assert_eq!(reply_of(answer).await, Value::Null);

        let _app = app.restart(crate::helpers::allow_loopback).await;

        let posted = incoming.received_requests().await.unwrap();
        assert_eq!(posted.len(), 1, "the reply was posted before the stop ended");
        assert_eq!(body_json(&posted[0])["text"], "done");
    }

    async fn long_asynchronous_replies_are_split_into_posts_in_order(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        put_settings(&app, json!({"max_post_chars": 10})).await;
        let svc = json_service(json!({"text": "0123456789abcdefghijKLMNO", "attachments": [{"text": "a"}]})).await;
        let incoming = service(ResponseTemplate::new(200).set_body_string("ok")).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({"reply": {"mode": "async", "post_url": incoming.uri(), "post_format": "slack"}}))).await;

        post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await;

        let posts: Vec<Value> = received(&incoming, 3).await.iter().map(body_json).collect();
        assert_eq!(posts, vec![
            json!({"text": "0123456789"}),
            json!({"text": "abcdefghij"}),
            json!({"text": "KLMNO", "attachments": [{"text": "a"}]}),
        ]);
    }

    async fn synchronous_replies_are_cut_at_the_limit_and_threaded_when_asked(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        put_settings(&app, json!({"max_post_chars": 10})).await;
        let svc = json_service(json!({"text": "0123456789abcdef", "response_type": "post"})).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({"reply": {"response_type": "comment"}}))).await;

        let reply = reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await).await;
        assert_eq!(reply, json!({"text": "012345678…", "response_type": "comment"}));
    }

    async fn username_and_icon_overrides_need_their_switches(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "hi", "username": "ci-bot", "icon_url": "https://icons.example/ci.png"})).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;
        let ask = || async { reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await).await };

        assert_eq!(ask().await, json!({"text": "hi"}));
        put_settings(&app, json!({"allow_username_override": true})).await;
        assert_eq!(ask().await, json!({"text": "hi", "username": "ci-bot"}));
        put_settings(&app, json!({"allow_icon_override": true})).await;
        assert_eq!(ask().await, json!({"text": "hi", "username": "ci-bot", "icon_url": "https://icons.example/ci.png"}));
        let settings = app.get_json("/api/v1/settings").await;
        assert_eq!(settings["chat"], json!({"enabled": true, "allow_username_override": true, "allow_icon_override": true, "max_post_chars": 16383}));
    }

    async fn the_gateways_response_url_posts_five_times_then_refuses(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "queued"})).await;
        let chat = service(ResponseTemplate::new(200).set_body_string("ok")).await;
        create_trigger(&app, json!({"name": "build", "kind": "slash", "tokens": [TOKEN], "trigger_words": ["/build"],
            "services": [{"endpoint": {"url": svc.uri()}, "format": "json"}]})).await;

        let chat_url = format!("{}/hooks/commands/x1", chat.uri());
        let reply = reply_of(post_form(&app, "/hooks/slash", slash_form("/build", "main", &chat_url)).await).await;
        assert_eq!(reply["text"], "queued");
        let ours = response_url_of(&received(&svc, 1).await[0]);
        assert!(ours.starts_with(&app.url("/hooks/reply/")) && !ours.contains("x1"), "{ours}");

        let unreadable = app.client.post(&ours).header("Content-Type", "application/json").body("{\"text\": ").send().await.unwrap();
        expect_error(unreadable, 400, "malformed").await;
        for n in 1..=5 {
            let response = app.client.post(&ours).json(&json!({"text": format!("update {n}")})).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.text().await.unwrap(), "ok");
        }
        let sixth = app.client.post(&ours).json(&json!({"text": "six"})).send().await.unwrap();
        expect_error(sixth, 400, "malformed").await;
        let unknown = app.client.post(app.url("/hooks/reply/not-a-link")).json(&json!({"text": "x"})).send().await.unwrap();
        expect_error(unknown, 404, "not_found").await;

        let mut texts: Vec<String> = received(&chat, 5).await.iter().map(|post| body_json(post)["text"].as_str().unwrap().to_owned()).collect();
        texts.sort();
        assert_eq!(texts, (1..=5).map(|n| format!("update {n}")).collect::<Vec<_>>());
    }

    async fn an_expired_response_url_is_not_found(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({})).await;
        create_trigger(&app, json!({"name": "build", "kind": "slash", "tokens": [TOKEN], "trigger_words": ["/build"],
            "services": [{"endpoint": {"url": svc.uri()}, "format": "json"}]})).await;
        post_form(&app, "/hooks/slash", slash_form("/build", "", "https://chat.example/hooks/commands/x")).await;
        let ours = response_url_of(&received(&svc, 1).await[0]);

        {
            use switchyard::store::schema::reply_links::dsl::*;
            let mut conn = app.db().connect();
            diesel::update(reply_links).set(expires_at.eq(0_i64)).execute(&mut conn).unwrap();
        }
        let late = app.client.post(&ours).header("Content-Type", "text/plain").body("late").send().await.unwrap();
        expect_error(late, 404, "not_found").await;
    }

    async fn plain_text_late_replies_and_discord_posts_with_markdown(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "see <https://ci.example/812|build 812> <!here>"})).await;
        let discord = service(ResponseTemplate::new(204)).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({"reply": {"mode": "async", "post_url": discord.uri(), "post_format": "discord"}}))).await;

        post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await;
        let first = received(&discord, 1).await;
        assert_eq!(body_json(&first[0]), json!({"content": "see [build 812](https://ci.example/812) @here", "allowed_mentions": {"parse": []}}));

        let ours = response_url_of(&received(&svc, 1).await[0]);
        let late = app.client.post(&ours).header("Content-Type", "text/plain").body("<!channel> all green").send().await.unwrap();
        assert_eq!(late.status(), 200);
        let second = received(&discord, 2).await;
        assert_eq!(body_json(&second[1])["content"], "@channel all green");
    }

    async fn a_chat_that_rate_limits_a_post_gets_it_again_after_retry_after(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "done"})).await;
        let script = crate::receiver::Script::new(vec![
            ResponseTemplate::new(429).insert_header("Retry-After", "1"),
            ResponseTemplate::new(200).set_body_string("ok"),
        ]);
        let incoming = crate::receiver::receiver(&script).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({"reply": {"mode": "async", "post_url": incoming.uri()}}))).await;

        post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await;

        let posts = received(&incoming, 2).await;
        assert_eq!(body_json(&posts[0]), body_json(&posts[1]));
        let arrivals = script.arrivals();
        assert!(arrivals[1] - arrivals[0] >= Duration::from_millis(900));
    }
}
