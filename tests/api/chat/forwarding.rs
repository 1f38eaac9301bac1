//! Forwarding (SPEC §3.3) and synchronous replies (§3.4): what services receive, byte for
//! byte, and how their answers become the reply.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::*;
use crate::backend_tests;
use crate::helpers::{
    allow_loopback, expect_error, header, received, settled, spawn_app,
    spawn_app_reaching_loopback, webhook,
};

/// chat-protocols.md §2.3, exactly as Mattermost sends them.
const MATTERMOST_FORM: &str = "channel_id=hawos4dqtby53pd64o4a4cmeoo&channel_name=town-square&file_ids=&post_id=axdygg1957njfe5pu38saikdho&team_domain=someteam&team_id=kwoknj9nwpypzgzy78wkw516qe&text=%23build+now+%3Cx%3E+%26+%22y%22+%C3%BC&timestamp=1445532266&token=zmigewsanbbsdf59xnmduzypjc&trigger_word=%23build&user_id=rnina9994bde8mua79zqcg5hmo&user_name=somename";
const MATTERMOST_JSON: &str = r##"{"token":"zmigewsanbbsdf59xnmduzypjc","team_id":"kwoknj9nwpypzgzy78wkw516qe","team_domain":"someteam","channel_id":"hawos4dqtby53pd64o4a4cmeoo","channel_name":"town-square","timestamp":1445532266123,"user_id":"rnina9994bde8mua79zqcg5hmo","user_name":"somename","post_id":"axdygg1957njfe5pu38saikdho","text":"#build now \u003cx\u003e \u0026 \"y\" ü","trigger_word":"#build","file_ids":""}"##;

fn body_text(request: &wiremock::Request) -> String {
    String::from_utf8(request.body.clone()).unwrap()
}

backend_tests! {
    async fn mattermost_requests_reach_mattermost_format_services_byte_for_byte(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let form_svc = json_service(json!({"text": "form"})).await;
        let json_svc = json_service(json!({"text": "json"})).await;
        create_trigger(&app, trigger("build", &form_svc.uri(), json!({"services": [
            {"endpoint": {"url": form_svc.uri()}, "format": "mattermost-form"},
            {"endpoint": {"url": json_svc.uri()}, "format": "mattermost-json"},
        ]}))).await;

        let from_form = post_form(&app, "/hooks/outgoing", MATTERMOST_FORM.into()).await;
        assert_eq!(reply_of(from_form).await["text"], "form\n\njson");
        let from_json = post_body(&app, "/hooks/outgoing", "application/json", MATTERMOST_JSON).await;
        assert_eq!(reply_of(from_json).await["text"], "form\n\njson");

        let forms = received(&form_svc, 2).await;
        let jsons = received(&json_svc, 2).await;
        assert_eq!(body_text(&forms[0]), MATTERMOST_FORM, "a form forwarded as a form is unchanged");
        assert_eq!(body_text(&jsons[1]), MATTERMOST_JSON, "JSON forwarded as JSON is unchanged");
        assert_eq!(body_text(&forms[1]), MATTERMOST_FORM, "milliseconds become seconds");
        assert_eq!(body_text(&jsons[0]), MATTERMOST_JSON.replace("1445532266123", "1445532266000"), "seconds become milliseconds");
        assert_eq!(header(&forms[0], "content-type"), "application/x-www-form-urlencoded");
        assert_eq!(header(&jsons[0], "content-type"), "application/json");
        assert_eq!(header(&forms[0], "accept"), "application/json");
    }

    async fn json_and_template_services_get_what_the_gateway_learnt(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let json_svc = json_service(json!({})).await;
        let template_svc = json_service(json!({})).await;
        create_trigger(&app, trigger("build", &json_svc.uri(), json!({"services": [
            {"endpoint": {"url": json_svc.uri()}, "format": "json"},
            {"endpoint": {"url": template_svc.uri()}, "format": "template",
             "body_template": "{\"branch\": \"{{args}}\", \"who\": \"{{upper user_name}}\", \"ms\": {{json timestamp}}}"},
        ]}))).await;

        let body = mattermost_form("#build  main \"quoted\" ", &[]);
        assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", body).await).await, Value::Null);

        let json: Value = serde_json::from_slice(&received(&json_svc, 1).await[0].body).unwrap();
        assert_eq!(json["trigger"], "build");
        assert_eq!(json["trigger_word"], "#build");
        assert_eq!(json["args"], "main \"quoted\"");
        assert_eq!(json["platform"], "mattermost");
        assert_eq!(json["response_url"], "");
        assert_eq!(json["timestamp"], 1_445_532_266_000_i64);
        assert_eq!(json["channel_name"], "town-square");
        assert!(json.get("token").is_none(), "the chat's token stays with the gateway");
        let rendered: Value = serde_json::from_slice(&received(&template_svc, 1).await[0].body).unwrap();
        assert_eq!(rendered, json!({"branch": "main \"quoted\"", "who": "SOMENAME", "ms": 1_445_532_266_000_i64}));
    }

    async fn each_service_gets_its_own_auth_signing_and_timeout(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let signed = json_service(json!({"text": "signed"})).await;
        let slow = service(ResponseTemplate::new(200).set_body_json(json!({"text": "too late"})).set_delay(Duration::from_secs(3))).await;
        let failing = service(ResponseTemplate::new(503)).await;
        create_trigger(&app, trigger("build", &signed.uri(), json!({"services": [
            {"name": "ci", "endpoint": {"url": signed.uri(), "auth": {"type": "bearer", "token": "svc-token-0123456789"},
             "signing": {"scheme": "hmac-sha256", "secret": "a-signing-secret-0123456789"}}},
            {"name": "slow", "endpoint": {"url": slow.uri(), "timeout_ms": 300}},
            {"name": "flaky", "endpoint": {"url": failing.uri()}},
        ]}))).await;

        let reply = reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await).await;

        let text = reply["text"].as_str().unwrap();
        let lines: Vec<&str> = text.split("\n\n").collect();
        assert_eq!(lines[..2], ["signed", "slow: service timed out after 300 ms"], "{text}");
        assert!(lines[2].starts_with("flaky: service answered HTTP 503 after "), "{text}");
        let request = &received(&signed, 1).await[0];
        assert_eq!(header(request, "authorization"), "Bearer svc-token-0123456789");
        let timestamp = header(request, "x-switchyard-timestamp");
        let expected = {
            use hmac::{Hmac, KeyInit, Mac};
            let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"a-signing-secret-0123456789").unwrap();
            mac.update(format!("{timestamp}.").as_bytes());
            mac.update(&request.body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        };
        assert_eq!(header(request, "x-switchyard-signature"), expected);
    }

    async fn empty_non_json_and_oversized_answers_post_nothing_and_are_not_errors(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let empty = service(ResponseTemplate::new(200)).await;
        let html = service(ResponseTemplate::new(200).set_body_string("<html>hi</html>")).await;
        let huge = service(ResponseTemplate::new(200).set_body_string(format!("{{\"text\": \"{}\"}}", "a".repeat(1024 * 1024)))).await;
        let null_answer = service(ResponseTemplate::new(200).set_body_string("null")).await;
        create_trigger(&app, trigger("build", &empty.uri(), json!({"services": [
            {"endpoint": {"url": empty.uri()}}, {"endpoint": {"url": html.uri()}},
            {"endpoint": {"url": huge.uri()}}, {"endpoint": {"url": null_answer.uri()}},
        ]}))).await;

        let response = post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await;
        assert_eq!(reply_of(response).await, Value::Null);
        assert_eq!(received(&huge, 1).await.len(), 1);
    }

    async fn answers_are_read_as_mattermost_reads_them(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let error_with_text = service(ResponseTemplate::new(500).set_body_string(r#"{"Text": "still posted", "attachments": [{"text": "a"}]}"#)).await;
        let empty_text = service(ResponseTemplate::new(200).set_body_string(r#"{"text": ""} trailing garbage"#).insert_header("content-type", "text/html")).await;
        let bad_request = service(ResponseTemplate::new(400).set_body_string("nope")).await;
        create_trigger(&app, trigger("build", &error_with_text.uri(), json!({"services": [
            {"endpoint": {"url": error_with_text.uri()}}, {"endpoint": {"url": empty_text.uri()}},
            {"name": "strict", "endpoint": {"url": bad_request.uri()}},
        ]}))).await;

        let reply = reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await).await;
        let text = reply["text"].as_str().unwrap();
        assert!(text.starts_with("still posted\n\n\n\nstrict: service answered HTTP 400"), "{text:?}");
        assert_eq!(reply["attachments"], json!([{"text": "a"}]));
    }

    async fn a_reply_template_maps_any_answer_to_a_post(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let ci = json_service(json!({"build": {"id": 812, "state": "queued"}})).await;
        create_trigger(&app, trigger("build", &ci.uri(), json!({"reply": {
            "template": "{\"text\": \"Build {{response.json.build.id}} is {{response.json.build.state}} ({{response.status}}) for {{request.user_name}} via {{service.name}}\"}"
        }}))).await;

        let reply = reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await).await;
        assert_eq!(reply["text"], "Build 812 is queued (200) for somename via build");
    }

    async fn the_ssrf_guard_applies_to_service_urls(backend: Backend) {
        let app = spawn_app(backend).await;
        let svc = json_service(json!({"text": "x"})).await;
        let refused = app.admin(Method::POST, "/api/v1/triggers").json(&trigger("build", &svc.uri(), json!({}))).send().await.unwrap();
        let error = expect_error(refused, 422, "validation_failed").await;
        assert_eq!(error["field"], "services[0].endpoint.url");

        let app = app.restart(allow_loopback).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;
        let app = app.restart(|_| {}).await;
        let reply = reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await).await;
        assert_eq!(reply["text"], "build: service address is not allowed by the network policy");
        assert!(svc.received_requests().await.unwrap().is_empty());
    }

    async fn every_forwarded_message_is_a_chat_triggered_event(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "x"})).await;
        let audit = json_service(json!({})).await;
        app.create_webhook(webhook("audit", &audit.uri(), json!({"events": ["chat.*"]}))).await;
        let created = create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;

        post_form(&app, "/hooks/outgoing", mattermost_form("#build main", &[])).await;
        post_form(&app, "/hooks/outgoing", mattermost_form("#other", &[])).await;

        let delivered = received(&audit, 1).await;
        let event: Value = serde_json::from_slice(&delivered[0].body).unwrap();
        assert_eq!(event["type"], "chat.triggered");
        assert_eq!(event["subject"], created["id"]);
        assert_eq!(event["data"]["trigger"], "build");
        assert_eq!(event["data"]["args"], "main");
        assert_eq!(event["data"]["user_name"], "somename");
        let events = app.get_json("/api/v1/events?type=chat.triggered").await;
        assert_eq!(events["items"].as_array().unwrap().len(), 1, "unmatched messages are not events");
        let id = events["items"][0]["id"].as_str().unwrap();
        let deliveries = app.deliveries_of(id, settled).await;
        assert_eq!(deliveries[0]["status"], "succeeded");
    }
}
