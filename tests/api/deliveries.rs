use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::backend_tests;
use crate::helpers::{
    Backend, allow_loopback, expect_error, expect_json, header, received, settled,
    spawn_app_reaching_loopback, spawn_app_with, webhook,
};
use crate::receiver::{Script, receiver, status};

fn object_event() -> Value {
    json!({"type": "object.updated", "subject": "server-17", "data": {"name": "web-1", "note": "naïve \"quoted\" <b>"}, "previous": {"name": "web-0"}})
}

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

backend_tests! {
    async fn an_event_reaches_its_webhook_with_gateway_headers_and_is_logged(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let script = Script::new(vec![status(200).set_body_string("ok")]);
        let target = receiver(&script).await;
        let other = receiver(&script).await;
        app.create_webhook(webhook("objects", &format!("{}/hook", target.uri()), json!({"endpoint": {"auth": {"type": "bearer", "token": "receiver-token-123456"}}}))).await;
        app.create_webhook(json!({"name": "incidents-only", "endpoint": {"url": other.uri()}, "events": ["incident.*"]})).await;

        let response = app.admin(Method::POST, "/api/v1/events").json(&object_event()).send().await.unwrap();
        let accepted = expect_json(response, 202).await;
        let event_id = accepted["id"].as_str().unwrap().to_owned();

        assert_eq!(accepted["deliveries"], 1);
        let request = &received(&target, 1).await[0];
        assert_eq!(request.url.path(), "/hook");
        assert_eq!(header(request, "x-switchyard-event"), "object.updated");
        assert_eq!(header(request, "x-switchyard-event-id"), event_id);
        assert_eq!(header(request, "authorization"), "Bearer receiver-token-123456");
        assert_eq!(header(request, "content-type"), "application/json");
        assert!(header(request, "user-agent").starts_with("Switchyard/"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["id"], event_id.as_str());
        assert_eq!(body["type"], "object.updated");
        assert_eq!(body["data"]["note"], "naïve \"quoted\" <b>");
        assert_eq!(body["previous"]["name"], "web-0");

        let deliveries = app.deliveries_of(&event_id, settled).await;
        let delivery = &deliveries[0];
        assert_eq!(delivery["id"], header(request, "x-switchyard-delivery"));
        assert_eq!(delivery["status"], "succeeded");
        assert_eq!(delivery["attempts"], 1);
        let attempt = &delivery["attempt_log"][0];
        assert_eq!(attempt["outcome"], "succeeded");
        assert_eq!(attempt["request"]["headers"]["Authorization"], "[masked]");
        assert_eq!(attempt["request"]["body"], String::from_utf8_lossy(&request.body).as_ref());
        assert_eq!(attempt["response"]["status"], 200);
        assert_eq!(attempt["response"]["body"], "ok");
        assert!(other.received_requests().await.unwrap().is_empty());
    }

    async fn each_signing_scheme_verifies_over_the_bytes_received(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let script = Script::new(vec![status(204)]);
        let target = receiver(&script).await;
        let hmac_secret = "hmac-secret-for-tests-0001";
        let aws_secret = "aws-secret-for-tests-00001";
        let new_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let old_secret = "whsec_dGhpcyBpcyB0aGUgb2xkIHNlY3JldCBrZXkh";
        for (name, signing) in [
            ("hmac", json!({"scheme": "hmac-sha256", "secret": hmac_secret})),
            ("aws", json!({"scheme": "aws-devops-agent", "secret": aws_secret})),
            ("standard", json!({"scheme": "standard-webhooks", "secrets": [new_secret, old_secret]})),
        ] {
            app.create_webhook(webhook(name, &format!("{}/{name}", target.uri()), json!({"endpoint": {"signing": signing}}))).await;
        }

        app.post_event(object_event()).await;

        let requests = received(&target, 3).await;
        let by_path = |path: &str| requests.iter().find(|r| r.url.path() == path).unwrap();
        let hmac_request = by_path("/hmac");
        let timestamp = header(hmac_request, "x-switchyard-timestamp");
        let signed = [timestamp.as_bytes(), b".", &hmac_request.body].concat();
        let expected = format!("sha256={}", hex::encode(hmac_sha256(hmac_secret.as_bytes(), &signed)));
        assert_eq!(header(hmac_request, "x-switchyard-signature"), expected);

        let aws_request = by_path("/aws");
        let timestamp = header(aws_request, "x-amzn-event-timestamp");
        assert!(chrono::DateTime::parse_from_rfc3339(timestamp).is_ok() && timestamp.ends_with('Z') && timestamp.len() == 24, "{timestamp}");
        let signed = [timestamp.as_bytes(), b":", &aws_request.body].concat();
        let expected = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(aws_secret.as_bytes(), &signed));
        assert_eq!(header(aws_request, "x-amzn-event-signature"), expected);

        let standard = by_path("/standard");
        assert_eq!(header(standard, "webhook-id"), header(standard, "x-switchyard-delivery"));
        assert_eq!(header(standard, "webhook-signature").split(' ').count(), 2);
        for secret in [new_secret, old_secret] {
            verify_with_official_library(secret, standard);
        }
    }

    async fn a_5xx_is_retried_under_the_same_delivery_id_until_it_succeeds(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let script = Script::new(vec![status(500).insert_header("Retry-After", "1"), status(200)]);
        let target = receiver(&script).await;
        app.create_webhook(webhook("flaky", &target.uri(), json!({}))).await;

        let event_id = app.post_event(object_event()).await;

        let requests = received(&target, 2).await;
        assert_eq!(header(&requests[0], "x-switchyard-delivery"), header(&requests[1], "x-switchyard-delivery"));
        assert_eq!(requests[0].body, requests[1].body);
        let delivery = &app.deliveries_of(&event_id, settled).await[0];
        assert_eq!(delivery["status"], "succeeded");
        assert_eq!(delivery["attempts"], 2);
        let outcomes: Vec<_> = delivery["attempt_log"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["retrying", "succeeded"]);
        assert_eq!(delivery["attempt_log"][0]["error"], "HTTP 500");
    }

    async fn final_statuses_are_not_retried(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        for (name, code) in [("gone", 410), ("bad", 400), ("moved", 301)] {
            let script = Script::new(vec![status(code).insert_header("Location", "http://127.0.0.1:1/")]);
            let target = receiver(&script).await;
            app.create_webhook(webhook(name, &target.uri(), json!({"events": [format!("x.{name}")]}))).await;

            let event_id = app.post_event(json!({"type": format!("x.{name}"), "data": {}})).await;

            let delivery = &app.deliveries_of(&event_id, settled).await[0];
            assert_eq!(delivery["status"], "failed", "{code}");
            assert_eq!(delivery["attempts"], 1, "{code}");
            assert_eq!(delivery["last_status_code"], code);
            assert_eq!(target.received_requests().await.unwrap().len(), 1, "{code}: redirects are not followed");
        }
    }

    async fn retry_after_is_waited_for_and_the_last_attempt_fails_the_delivery(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let script = Script::new(vec![status(429).insert_header("Retry-After", "2"), status(503).insert_header("Retry-After", "1")]);
        let target = receiver(&script).await;
        app.create_webhook(webhook("limited", &target.uri(), json!({"max_attempts": 3}))).await;

        let event_id = app.post_event(object_event()).await;

        let delivery = &app.deliveries_of(&event_id, settled).await[0];
        assert_eq!(delivery["status"], "failed");
        assert_eq!(delivery["attempts"], 3);
        let arrivals = script.arrivals();
        assert_eq!(arrivals.len(), 3);
        assert!(arrivals[1] - arrivals[0] >= Duration::from_secs(2), "Retry-After: 2 was not honoured");
        assert!(arrivals[2] - arrivals[1] >= Duration::from_secs(1));
    }

    async fn a_timeout_is_retried_later(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let script = Script::new(vec![status(200).set_delay(Duration::from_secs(3))]);
        let target = receiver(&script).await;
        app.create_webhook(webhook("slow", &target.uri(), json!({"endpoint": {"timeout_ms": 200}}))).await;

        let event_id = app.post_event(object_event()).await;

        let delivery = &app.deliveries_of(&event_id, |d| d["attempts"] == 1 && d["in_flight"] == false).await[0];
        assert_eq!(delivery["status"], "pending");
        assert!(delivery["next_attempt_at"].is_string());
        assert_eq!(delivery["attempt_log"][0]["outcome"], "retrying");
        assert_eq!(delivery["attempt_log"][0]["error"], "timed out after 200 ms");
    }

    async fn a_429_pauses_only_its_own_host(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let limited_script = Script::new(vec![status(429).insert_header("Retry-After", "60"), status(200)]);
        let limited = receiver(&limited_script).await;
        let healthy_script = Script::new(vec![status(200)]);
        let healthy = receiver(&healthy_script).await;
        app.create_webhook(webhook("limited", &limited.uri(), json!({}))).await;
        app.create_webhook(webhook("healthy", &healthy.uri(), json!({}))).await;
        let first = app.post_event(object_event()).await;
        app.deliveries_of(&first, settled_or_retrying).await;

        let second = app.post_event(object_event()).await;

        received(&healthy, 2).await;
        let deliveries = app.deliveries_of(&second, |d| d["status"] == "succeeded" || (d["attempts"] == 0 && d["in_flight"] == false)).await;
        let paused = deliveries.iter().find(|d| d["status"] == "pending").expect("the limited host's delivery waits");
        assert_eq!(paused["attempts"], 0, "a paused host is not even tried");
        assert_eq!(limited.received_requests().await.unwrap().len(), 1);
    }

    async fn manual_retry_and_replay_send_failed_deliveries_again(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let script = Script::new(vec![status(400)]);
        let target = receiver(&script).await;
        let webhook_id = app.create_webhook(webhook("picky", &target.uri(), json!({}))).await;
        let since = chrono::Utc::now().to_rfc3339();
        let first = app.post_event(object_event()).await;
        let second = app.post_event(object_event()).await;
        let failed = app.deliveries_of(&first, settled).await[0]["id"].as_str().unwrap().to_owned();
        app.deliveries_of(&second, settled).await;
        script.switch_to(status(200));

        let retried = app.admin(Method::POST, &format!("/api/v1/deliveries/{failed}/retry")).send().await.unwrap();

        assert_eq!(expect_json(retried, 202).await["status"], "pending");
        let delivery = &app.deliveries_of(&first, settled).await[0];
        assert_eq!(delivery["status"], "succeeded");
        assert_eq!(delivery["attempts"], 2);
        assert_eq!(delivery["attempt_log"][1]["initiated_by"], "manual");

        let replay = app
            .admin(Method::POST, &format!("/api/v1/webhooks/{webhook_id}/replay"))
            .json(&json!({"since": since, "status": "failed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(expect_json(replay, 202).await["requeued"], 1);
        assert_eq!(app.deliveries_of(&second, settled).await[0]["status"], "succeeded");
        let missing = app.admin(Method::POST, "/api/v1/deliveries/dlv_missing/retry").send().await.unwrap();
        expect_error(missing, 404, "not_found").await;
        let bad_since = app
            .admin(Method::POST, &format!("/api/v1/webhooks/{webhook_id}/replay"))
            .json(&json!({"since": "yesterday"}))
            .send()
            .await
            .unwrap();
        assert_eq!(expect_error(bad_since, 422, "validation_failed").await["field"], "since");
    }

    async fn preview_shows_and_test_sends_the_exact_request(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let script = Script::new(vec![status(202).set_body_string("accepted")]);
        let target = receiver(&script).await;
        let id = app.create_webhook(webhook("previewed", &target.uri(), json!({"endpoint": {"signing": {"scheme": "hmac-sha256", "secret": "preview-secret-000001"}}}))).await;

        let preview = app.admin(Method::POST, &format!("/api/v1/webhooks/{id}/preview")).json(&json!({"sample": true})).send().await.unwrap();
        let preview = expect_json(preview, 200).await;
        let tested = app
            .admin(Method::POST, &format!("/api/v1/webhooks/{id}/test"))
            .json(&json!({"event": {"type": "x.deploy", "data": {"version": "1.2"}}}))
            .send()
            .await
            .unwrap();
        let tested = expect_json(tested, 200).await;

        assert_eq!(preview["request"]["method"], "POST");
        assert_eq!(preview["request"]["headers"]["x-switchyard-signature"], "[masked]");
        let body: Value = serde_json::from_str(preview["request"]["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["type"], "object.updated");
        assert!(target.received_requests().await.unwrap().len() == 1, "preview sends nothing; test sends once");
        assert_eq!(tested["response"]["status"], 202);
        assert_eq!(tested["response"]["body"], "accepted");
        let sent: Value = serde_json::from_slice(&target.received_requests().await.unwrap()[0].body).unwrap();
        assert_eq!(sent["data"]["version"], "1.2");
        let neither = app.admin(Method::POST, &format!("/api/v1/webhooks/{id}/preview")).json(&json!({})).send().await.unwrap();
        assert_eq!(expect_error(neither, 422, "validation_failed").await["field"], "event");
    }

    async fn the_events_api_takes_object_and_custom_events_from_ingest_tokens(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let (_, ingest) = app.create_token("cmdb", "ingest").await;
        let (_, read) = app.create_token("viewer", "read").await;
        let post = |token: &str, body: Value| app.with_token(Method::POST, "/api/v1/events", token).json(&body).send();

        let accepted = post(&ingest, json!({"type": "object.created", "data": {"id": 1}})).await.unwrap();
        let custom = post(&ingest, json!({"type": "x.backup.done", "data": {}})).await.unwrap();
        let incident = post(&ingest, json!({"type": "incident.created", "data": {}})).await.unwrap();
        let spaced = post(&ingest, json!({"type": "x.bad type", "data": {}})).await.unwrap();
        let forbidden = post(&read, json!({"type": "x.a", "data": {}})).await.unwrap();

        let id = expect_json(accepted, 202).await["id"].as_str().unwrap().to_owned();
        assert_eq!(custom.status(), 202);
        assert_eq!(expect_error(incident, 422, "validation_failed").await["field"], "type");
        assert_eq!(expect_error(spaced, 422, "validation_failed").await["field"], "type");
        expect_error(forbidden, 403, "forbidden").await;
        let stored = app.get_json(&format!("/api/v1/events/{id}")).await;
        assert_eq!(stored["data"]["id"], 1);
        let listed = app.get_json("/api/v1/events?type=x.backup.done").await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    }

    async fn the_ssrf_guard_checks_again_at_every_send(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let script = Script::new(vec![status(200)]);
        let target = receiver(&script).await;
        app.create_webhook(webhook("was-allowed", &target.uri(), json!({}))).await;
        let app = app.restart(|_| {}).await;

        let event_id = app.post_event(object_event()).await;

        let delivery = &app.deliveries_of(&event_id, settled).await[0];
        assert_eq!(delivery["status"], "failed");
        assert_eq!(delivery["attempts"], 1, "a refusal is not retried");
        assert!(delivery["last_error"].as_str().unwrap().contains("SSRF"), "{delivery}");
        assert!(target.received_requests().await.unwrap().is_empty());
    }

    async fn old_finished_deliveries_are_pruned_and_recent_or_pending_ones_kept(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let ok = receiver(&Script::new(vec![status(200)])).await;
        let failing = receiver(&Script::new(vec![status(503).insert_header("Retry-After", "3600")])).await;
        app.create_webhook(webhook("kept", &ok.uri(), json!({"events": ["x.done"]}))).await;
        app.create_webhook(webhook("waiting", &failing.uri(), json!({"events": ["x.waiting"]}))).await;
        let old = app.post_event(json!({"type": "x.done", "data": {}})).await;
        let old_pending = app.post_event(json!({"type": "x.waiting", "data": {}})).await;
        let old_delivery = app.deliveries_of(&old, settled).await[0]["id"].as_str().unwrap().to_owned();
        app.deliveries_of(&old_pending, settled_or_retrying).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let cutoff = chrono::Utc::now().timestamp_millis();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let recent = app.post_event(json!({"type": "x.done", "data": {}})).await;
        app.deliveries_of(&recent, settled).await;
        let store = switchyard::store::Store::open(app.db().url.clone()).await.unwrap();

        let pruned = switchyard::delivery::prune_before(&store, cutoff).await.unwrap();

        assert_eq!(pruned, (1, 1));
        expect_error(app.admin(Method::GET, &format!("/api/v1/deliveries/{old_delivery}")).send().await.unwrap(), 404, "not_found").await;
        expect_error(app.admin(Method::GET, &format!("/api/v1/events/{old}")).send().await.unwrap(), 404, "not_found").await;
        assert_eq!(app.get_json(&format!("/api/v1/events/{recent}")).await["id"], recent.as_str());
        assert_eq!(app.get_json(&format!("/api/v1/events/{old_pending}")).await["id"], old_pending.as_str());
        let waiting = app.get_json(&format!("/api/v1/deliveries?event={old_pending}")).await;
        assert_eq!(waiting["items"][0]["status"], "pending");
    }
}

/// A delivery whose first attempt has been recorded.
fn settled_or_retrying(delivery: &Value) -> bool {
    delivery["attempts"].as_i64() >= Some(1) && delivery["in_flight"] == false
}

/// Verifies a received request with the official Standard Webhooks Python library.
fn verify_with_official_library(secret: &str, request: &wiremock::Request) {
    let headers: serde_json::Map<String, Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|name| (name.to_string(), json!(header(request, name))))
            .collect();
    let script = "import json, sys\n\
        from standardwebhooks.webhooks import Webhook\n\
        data = json.load(sys.stdin)\n\
        Webhook(data['secret']).verify(data['body'].encode(), data['headers'])\n\
        print('verified')";
    let input = json!({"secret": secret, "body": String::from_utf8(request.body.clone()).unwrap(), "headers": headers});
    let (printed, errors) = crate::python::run(script, &input);
    assert!(
        printed.contains("verified"),
        "the standardwebhooks library did not verify: {errors}"
    );
}

#[tokio::test]
async fn a_paused_webhook_gets_no_deliveries() {
    let app = spawn_app_with(Backend::Sqlite, allow_loopback).await;
    let script = Script::new(vec![status(200)]);
    let target = receiver(&script).await;
    let mut spec = webhook("paused", &target.uri(), json!({}));
    spec["active"] = json!(false);
    app.create_webhook(spec).await;

    let response = app
        .admin(Method::POST, "/api/v1/events")
        .json(&object_event())
        .send()
        .await
        .unwrap();

    assert_eq!(expect_json(response, 202).await["deliveries"], 0);
}
