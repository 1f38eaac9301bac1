//! The chat exchange log: every request the gateway received, why it was refused or ignored,
//! what each service was sent and answered, and the reply; credentials never in it.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::*;
use crate::backend_tests;
use crate::helpers::{TestApp, expect_error, received, spawn_app_reaching_loopback};

/// The log at `path` once it holds `count` exchanges (they are written a moment after the
/// answer).
async fn exchanges(app: &TestApp, path: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let items = app.get_json(path).await["items"]
            .as_array()
            .unwrap()
            .clone();
        if items.len() >= count || Instant::now() > deadline {
            assert_eq!(items.len(), count, "exchanges at {path}: {items:#?}");
            return items;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn outcomes(items: &[Value]) -> Vec<(String, String)> {
    items
        .iter()
        .rev()
        .map(|item| {
            let reason = item["reason"].as_str().unwrap_or("").to_owned();
            (item["outcome"].as_str().unwrap().to_owned(), reason)
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(outcome, reason)| ((*outcome).to_owned(), (*reason).to_owned()))
        .collect()
}

async fn slack_post(
    app: &TestApp,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/hooks/slash"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Slack-Request-Timestamp", timestamp.to_string())
        .header("X-Slack-Signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

backend_tests! {
    async fn refused_and_ignored_requests_are_logged_with_their_reason(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "built"})).await;
        let build = create_trigger(&app, trigger("build", &svc.uri(), json!({"channels": ["town-square"]}))).await;
        let build_id = build["id"].as_str().unwrap();
        let collect = create_trigger(&app, json!({
            "name": "collect", "kind": "slash", "slack_signing_secret": SIGNING_SECRET,
            "trigger_words": ["/collect"], "services": [{"endpoint": {"url": svc.uri()}}]
        })).await;

        let wrong = "wrongwrongwrongwrongwrong1";
        assert_refused(post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[("token", Some(wrong))])).await).await;
        assert_refused(post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[("token", None)])).await).await;
        let elsewhere = mattermost_form("#build", &[("channel_id", Some("c2")), ("channel_name", Some("random"))]);
        assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", elsewhere).await).await, Value::Null);
        assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#deploy", &[])).await).await, Value::Null);
        let old = now_seconds() - 301;
        let body = slash_form("/collect", "now", "");
        let signature = slack_signature(SIGNING_SECRET, old, &body);
        assert_refused(slack_post(&app, old, &signature, &body).await).await;
        assert!(svc.received_requests().await.unwrap().is_empty());

        let logged = exchanges(&app, &format!("/api/v1/triggers/{build_id}/exchanges"), 4).await;
        assert_eq!(outcomes(&logged), pairs(&[
            ("refused", "the token is not the trigger's"),
            ("refused", "no token"),
            ("ignored", "channel filtered out"),
            ("ignored", "no trigger word matches"),
        ]));
        let ignored = &logged[1];
        assert_eq!(ignored["trigger"]["name"], "build");
        assert_eq!(ignored["platform"], "mattermost");
        assert_eq!(ignored["channel"], json!({"id": "c2", "name": "random"}));
        assert_eq!(ignored["user"]["name"], "somename");
        assert_eq!(ignored["text"], "#build");
        let signed = exchanges(&app, &format!("/api/v1/triggers/{}/exchanges", collect["id"].as_str().unwrap()), 1).await;
        assert_eq!(outcomes(&signed), pairs(&[("refused", "signature too old (the Slack timestamp is more than 5 minutes from now)")]));

        let all = app.get_json("/api/v1/chat/exchanges?outcome=refused").await.to_string();
        for secret in [TOKEN, wrong, SIGNING_SECRET, signature.as_str()] {
            assert!(!all.contains(secret), "a credential is in the log: {secret}");
        }
    }

    async fn requests_that_match_no_trigger_are_in_the_gateway_log(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "built"})).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;

        assert_refused(post_form(&app, "/hooks/outgoing", mattermost_form("#deploy", &[("token", Some(OTHER_TOKEN))])).await).await;
        expect_error(post_body(&app, "/hooks/outgoing", "application/json", "{not json").await, 400, "malformed").await;
        expect_error(post_body(&app, "/hooks/outgoing", "text/plain", "#build").await, 415, "unsupported_media_type").await;
        assert_refused(post_form(&app, "/hooks/outgoing/nosuch", mattermost_form("#build", &[])).await).await;
        let off = app.admin(Method::PUT, "/api/v1/settings").json(&json!({"chat": {"enabled": false}})).send().await.unwrap();
        assert_eq!(off.status(), 200);
        expect_error(post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await, 501, "not_implemented").await;

        let unmatched = exchanges(&app, "/api/v1/chat/exchanges?trigger=none", 5).await;
        let reasons = outcomes(&unmatched);
        assert_eq!(reasons[0], ("refused".to_owned(), "no trigger matches this token".to_owned()));
        assert_eq!(reasons[1].0, "malformed");
        assert!(reasons[1].1.contains("JSON"), "{reasons:?}");
        assert_eq!(reasons[2].0, "malformed");
        assert!(reasons[2].1.contains("application/x-www-form-urlencoded"), "{reasons:?}");
        assert_eq!(reasons[3], ("refused".to_owned(), "no trigger has this id or name".to_owned()));
        assert_eq!(reasons[4], ("disabled".to_owned(), "chat is disabled (chat.enabled is off)".to_owned()));
        assert!(unmatched.iter().all(|item| item["trigger"].is_null()));

        let malformed = app.get_json("/api/v1/chat/exchanges?outcome=malformed").await;
        assert_eq!(malformed["items"].as_array().unwrap().len(), 2);
        let bad = app.admin(Method::GET, "/api/v1/chat/exchanges?outcome=lost").send().await.unwrap();
        assert_eq!(expect_error(bad, 422, "validation_failed").await["field"], "outcome");
        let unknown = app.admin(Method::GET, "/api/v1/triggers/trg_nosuch/exchanges").send().await.unwrap();
        expect_error(unknown, 404, "not_found").await;
    }

    async fn a_forwarded_request_logs_what_each_service_was_sent_and_answered(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let long_text = "x".repeat(100 * 1024);
        // A service that echoes the chat's token: the log masks it in answers too.
        let talkative = json_service(json!({"echo": TOKEN, "text": long_text})).await;
        let broken = service(ResponseTemplate::new(500).set_body_string("database down")).await;
        let spec = trigger("build", &talkative.uri(), json!({"services": [
            {"name": "builder", "endpoint": {"url": talkative.uri(), "auth": {"type": "bearer", "token": "service-secret-123456"}}, "format": "mattermost-form"},
            {"name": "tracker", "endpoint": {"url": broken.uri(), "auth": {"type": "api_key", "header": "X-Team", "key": "team-key-123456"}}, "format": "json"},
        ]}));
        let build = create_trigger(&app, spec).await;

        let reply = reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#build now", &[])).await).await;
        assert!(reply["text"].as_str().unwrap().starts_with("xxx"));

        let path = format!("/api/v1/triggers/{}/exchanges?outcome=forwarded", build["id"].as_str().unwrap());
        let logged = exchanges(&app, &path, 1).await;
        let exchange = &logged[0];
        assert_eq!(exchange["outcome"], "forwarded");
        assert_eq!(exchange["trigger_word"], "#build");
        assert_eq!(exchange["text"], "#build now");
        assert_eq!(exchange["reply"], reply, "the reply given is logged");

        let builder = &exchange["services"][0];
        assert_eq!(builder["service"], "builder");
        assert_eq!(builder["status"], 200);
        assert_eq!(builder["outcome"], "answered");
        assert!(builder["latency_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(builder["request"]["method"], "POST");
        assert_eq!(builder["request"]["headers"]["Authorization"], "[masked]");
        let sent = builder["request"]["body"].as_str().unwrap();
        assert!(sent.contains("text=%23build+now") && sent.contains("token=[masked]"), "{sent}");
        let answer = builder["answer"]["body"].as_str().unwrap();
        assert!(answer.len() < 65 * 1024 && answer.ends_with("…[truncated]"), "answers are capped at 64 KiB");

        let tracker = &exchange["services"][1];
        assert_eq!(tracker["status"], 500);
        assert_eq!(tracker["outcome"], "failed");
        assert_eq!(tracker["answer"]["body"], "database down");
        assert_eq!(tracker["request"]["headers"]["X-Team"], "[masked]", "a credential header of any name is masked");
        assert!(tracker["error"].as_str().unwrap().starts_with("tracker: service answered HTTP 500"));

        let stored = exchange.to_string();
        for secret in [TOKEN, "service-secret-123456", "team-key-123456"] {
            assert!(!stored.contains(secret), "{secret} is in the log");
        }
    }

    async fn an_asynchronous_exchange_is_logged_with_its_acknowledgement_and_posts(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let answer = ResponseTemplate::new(200).set_body_json(json!({"text": "deployed"}));
        let svc = service(answer.set_delay(Duration::from_secs(2))).await;
        let chat = service(ResponseTemplate::new(200).set_body_string("ok")).await;
        let deploy = create_trigger(&app, json!({
            "name": "deploy", "kind": "slash", "tokens": [TOKEN], "trigger_words": ["/deploy"],
            "services": [{"endpoint": {"url": svc.uri()}}], "reply": {"mode": "async"}
        })).await;

        let response_url = format!("{}/hooks/commands/abc", chat.uri());
        let sent = chrono::Utc::now();
        let ack = reply_of(post_form(&app, "/hooks/slash", slash_form("/deploy", "prod", &response_url)).await).await;
        received(&chat, 1).await;

        let logged = exchanges(&app, &format!("/api/v1/triggers/{}/exchanges", deploy["id"].as_str().unwrap()), 1).await;
        assert_eq!(logged[0]["reply"], ack, "the acknowledgement is the reply given");
        assert_eq!(logged[0]["posts"][0]["text"], "deployed");
        assert_eq!(logged[0]["services"][0]["status"], 200);
        assert_eq!(logged[0]["command"], "/deploy");
        let received: chrono::DateTime<chrono::Utc> = logged[0]["received_at"].as_str().unwrap().parse().unwrap();
        assert!(received - sent < chrono::TimeDelta::seconds(1), "the time it came, not when the service answered 2 s later");
    }

    async fn the_log_keeps_a_hundred_per_trigger_and_goes_with_its_trigger(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "built"})).await;
        let build = create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;
        let id = build["id"].as_str().unwrap();
        for n in 0..105 {
            let text = format!("#nothing {n}");
            assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", mattermost_form(&text, &[])).await).await, Value::Null);
        }
        // A hundred a second are kept: the log fills up to a hundred, newest first.
        let logged = exchanges(&app, &format!("/api/v1/triggers/{id}/exchanges"), 100).await;
        let numbers: Vec<u64> = logged
            .iter()
            .map(|item| item["text"].as_str().unwrap().trim_start_matches("#nothing ").parse().unwrap())
            .collect();
        assert!(numbers.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {numbers:?}");

        let deleted = app.admin(Method::DELETE, &format!("/api/v1/triggers/{id}")).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        let all = app.get_json("/api/v1/chat/exchanges").await;
        assert!(all["items"].as_array().unwrap().is_empty(), "a deleted trigger's log goes with it");
    }
}
