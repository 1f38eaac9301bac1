//! Webhook templates over real HTTP: the context a template sees, escaping per output, compile
//! and render failures, request templates, chat formats and how their answers are judged,
//! global variables, and `check-config` over stored templates.

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use switchyard::config::EnvVarName;
use switchyard::store::schema::webhooks;

use crate::backend_tests;
use crate::binary;
use crate::deliveries::hmac_sha256;
use crate::helpers::{
    TestApp, allow_loopback, expect_error, expect_json, header, received, settled, spawn_app,
    spawn_app_reaching_loopback, spawn_app_with, webhook,
};
use crate::receiver::{Script, receiver, status};

/// Every character that breaks naive JSON or form templating.
const NASTY: &str = "quote \" backslash \\ newline \n tab \t bell \u{7} <b>&amp;</b> 🔥 שלום naïve";

/// A URL that is never called (the discard port on loopback): names do not resolve in tests.
const UNUSED_URL: &str = "http://127.0.0.1:9/unused";

fn nasty_event() -> Value {
    json!({"type": "object.updated", "subject": "server-17",
           "data": {"id": "server-17", "name": "web-1", "note": NASTY, "cpu": 8},
           "previous": {"id": "server-17", "name": "web-1", "note": "old", "cpu": 4},
           "changes": [{"field": "cpu", "old": 4, "new": 8}, {"field": "note", "old": "old", "new": NASTY}]})
}

fn custom(name: &str, url: &str, template: &str, endpoint: Value) -> Value {
    webhook(
        name,
        url,
        json!({"format": "custom", "body_template": template, "endpoint": endpoint}),
    )
}

async fn put_var(app: &TestApp, key: &str, value: Value, expected: u16) -> Value {
    let response = app
        .admin(Method::PUT, &format!("/api/v1/vars/{key}"))
        .json(&json!({"value": value}))
        .send()
        .await
        .unwrap();
    expect_json(response, expected).await
}

async fn failed_delivery(app: &TestApp, event: Value) -> Value {
    let event_id = app.post_event(event).await;
    let delivery = app.deliveries_of(&event_id, settled).await.remove(0);
    assert_eq!(delivery["status"], "failed", "{delivery}");
    assert_eq!(
        delivery["attempts"], 1,
        "a render failure is not retried: {delivery}"
    );
    delivery
}

backend_tests! {
    async fn a_json_template_sees_the_whole_context_and_escapes_every_value(backend: Backend) {
        let app = spawn_app_with(backend, |config| {
            allow_loopback(config);
            config.templates.env_allow = vec![EnvVarName("HOME".into())];
        })
        .await;
        let target = receiver(&Script::new(vec![status(200)])).await;
        put_var(&app, "report_url", json!("https://r.example/x?a=1&b=2"), 201).await;
        let template = r#"{"note": "{{object.note}}", "name": "{{upper object.name}}", "object": {{json object}},
            "changes": {{json changes}}, "previous_cpu": {{previous.cpu}}, "url": "{{vars.report_url}}",
            "home": "{{env.HOME}}", "path": "{{env.PATH}}", "hook": "{{webhook.name}}",
            "delivery": "{{delivery.id}}", "attempt": {{delivery.attempt}}, "type": "{{event.type}}",
            "missing": "{{nothing.here}}", "title": "{{display.title}}"}"#;
        app.create_webhook(custom("context", &target.uri(), template, json!({}))).await;

        app.post_event(nasty_event()).await;

        let request = &received(&target, 1).await[0];
        assert_eq!(header(request, "content-type"), "application/json");
        let body: Value = serde_json::from_slice(&request.body).expect("valid JSON");
        assert_eq!(body["note"], NASTY);
        assert_eq!(body["name"], "WEB-1");
        assert_eq!(body["object"], nasty_event()["data"]);
        assert_eq!(body["changes"], nasty_event()["changes"]);
        assert_eq!(body["previous_cpu"], 4);
        assert_eq!(body["url"], "https://r.example/x?a=1&b=2");
        assert_eq!(body["home"], std::env::var("HOME").unwrap_or_default());
        assert_eq!(body["path"], "", "variables not allowed are invisible");
        assert_eq!(body["hook"], "context");
        assert_eq!(body["delivery"], header(request, "x-switchyard-delivery"));
        assert_eq!(body["attempt"], 1);
        assert_eq!(body["type"], "object.updated");
        assert_eq!(body["missing"], "");
        assert_eq!(body["title"], "Updated web-1 (server-17)");
    }

    async fn form_and_text_bodies_follow_the_endpoint_content_type(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let forms = receiver(&Script::new(vec![status(200)])).await;
        let texts = receiver(&Script::new(vec![status(200)])).await;
        let form_type = json!({"headers": {"Content-Type": "application/x-www-form-urlencoded"}});
        app.create_webhook(custom("form", &forms.uri(), "text={{object.note}}&who={{object.name}}&all={{json object}}", form_type)).await;
        app.create_webhook(custom("text", &texts.uri(), "Note: {{object.note}}", json!({"headers": {"Content-Type": "text/plain"}}))).await;

        app.post_event(nasty_event()).await;

        let form = &received(&forms, 1).await[0];
        assert_eq!(header(form, "content-type"), "application/x-www-form-urlencoded");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&form.body).unwrap();
        assert_eq!(pairs[0], ("text".to_owned(), NASTY.to_owned()));
        assert_eq!(pairs[1], ("who".to_owned(), "web-1".to_owned()));
        assert_eq!(serde_json::from_str::<Value>(&pairs[2].1).unwrap(), nasty_event()["data"]);
        let text = &received(&texts, 1).await[0];
        assert_eq!(String::from_utf8(text.body.clone()).unwrap(), format!("Note: {NASTY}"));
    }

    async fn templates_that_do_not_compile_are_refused_with_line_and_column(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let post = |spec: Value| app.admin(Method::POST, "/api/v1/webhooks").json(&spec).send();
        let url = UNUSED_URL;

        let unclosed = post(custom("a", url, "{\n  \"a\": \"{{#if x}}\"\n}", json!({}))).await.unwrap();
        let unknown = post(custom("b", url, "{\"a\": \"{{shout object.name}}\"}", json!({}))).await.unwrap();
        let request = post(webhook("c", url, json!({"request_template": "{\"url\": \"{{> nowhere}}\"}"}))).await.unwrap();
        let missing = post(webhook("d", url, json!({"format": "custom"}))).await.unwrap();
        let arity = post(custom("e", url, "{{truncate object.name}}", json!({}))).await.unwrap();

        let error = expect_error(unclosed, 422, "validation_failed").await;
        assert_eq!(error["field"], "body_template");
        assert!(error["message"].as_str().unwrap().contains("line "), "{error}");
        let error = expect_error(unknown, 422, "validation_failed").await;
        assert!(error["message"].as_str().unwrap().contains("line 1, column 8: unknown helper `shout`"), "{error}");
        let error = expect_error(request, 422, "validation_failed").await;
        assert_eq!(error["field"], "request_template");
        assert!(error["message"].as_str().unwrap().contains("unknown partial `nowhere`"), "{error}");
        assert_eq!(expect_error(missing, 422, "validation_failed").await["field"], "body_template");
        assert!(expect_error(arity, 422, "validation_failed").await["message"].as_str().unwrap().contains("takes 2 to 3"));
        let listed = app.get_json("/api/v1/webhooks").await;
        assert!(listed["items"].as_array().unwrap().is_empty(), "nothing was stored");

        let id = app.create_webhook(custom("kept", url, "{\"ok\": true}", json!({}))).await;
        let replaced = app.admin(Method::PUT, &format!("/api/v1/webhooks/{id}"))
            .json(&custom("kept", url, "{{#each}}", json!({}))).send().await.unwrap();
        expect_error(replaced, 422, "validation_failed").await;
        assert_eq!(app.get_json(&format!("/api/v1/webhooks/{id}")).await["body_template"], "{\"ok\": true}");
    }

    async fn a_body_that_is_not_json_fails_the_delivery_and_is_never_sent(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = receiver(&Script::new(vec![status(200)])).await;
        app.create_webhook(custom("broken", &target.uri(), r#"{"count": {{object.name}}}"#, json!({}))).await;

        let delivery = failed_delivery(&app, nasty_event()).await;

        let error = delivery["last_error"].as_str().unwrap();
        assert!(error.contains("not valid JSON") && error.contains(r#"{"count": web-1}"#), "{error}");
        assert!(target.received_requests().await.unwrap().is_empty());
    }

    async fn strict_templates_name_the_missing_path_in_previews_and_deliveries(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = receiver(&Script::new(vec![status(200)])).await;
        let mut spec = custom("strict", &target.uri(), r#"{"name": "{{object.name}}", "x": "{{object.nothing}}"}"#, json!({}));
        spec["template_strict"] = json!(true);
        let id = app.create_webhook(spec).await;

        let preview = app.admin(Method::POST, &format!("/api/v1/webhooks/{id}/preview"))
            .json(&json!({"event": nasty_event()})).send().await.unwrap();
        let error = expect_error(preview, 422, "validation_failed").await;
        assert_eq!(error["field"], "body_template");
        assert!(error["message"].as_str().unwrap().contains("`object.nothing`"), "{error}");
        let delivery = failed_delivery(&app, nasty_event()).await;
        assert!(delivery["last_error"].as_str().unwrap().contains("`object.nothing` is missing"), "{delivery}");
        assert!(target.received_requests().await.unwrap().is_empty());
    }

    async fn request_templates_build_the_whole_request_and_are_still_signed(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = receiver(&Script::new(vec![status(200)])).await;
        put_var(&app, "tickets", json!(target.uri()), 201).await;
        let template = r#"{"method": "put", "url": "{{vars.tickets}}/tickets/{{object.id}}?src=switchyard",
            "headers": {"X-Ticket": "{{object.name}}"},
            "body": {"json": {"ignored": true}, "formData": {"title": "{{object.name}}", "cpu": {{json object.cpu}}, "note": "{{object.note}}"}}}"#;
        let secret = "request-template-secret-01";
        app.create_webhook(webhook("tickets", UNUSED_URL, json!({
            "request_template": template, "endpoint": {"signing": {"scheme": "hmac-sha256", "secret": secret}}}))).await;

        app.post_event(nasty_event()).await;

        let request = &received(&target, 1).await[0];
        assert_eq!(request.method.as_str(), "PUT");
        assert_eq!(request.url.path(), "/tickets/server-17");
        assert_eq!(request.url.query(), Some("src=switchyard"));
        assert_eq!(header(request, "x-ticket"), "web-1");
        assert_eq!(header(request, "content-type"), "application/x-www-form-urlencoded");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body).unwrap();
        assert_eq!(pairs, [("title".into(), "web-1".into()), ("cpu".into(), "8".into()), ("note".into(), NASTY.into())]);
        let signed = [header(request, "x-switchyard-timestamp").as_bytes(), b".", &request.body].concat();
        let expected = format!("sha256={}", hex::encode(hmac_sha256(secret.as_bytes(), &signed)));
        assert_eq!(header(request, "x-switchyard-signature"), expected);
    }

    async fn a_rendered_url_inside_the_network_is_refused_at_send(backend: Backend) {
        let app = spawn_app_with(backend, |config| config.outbound.allow_private_networks = true).await;
        let target = receiver(&Script::new(vec![status(200)])).await;
        let template = r#"{"url": "http://169.254.169.254/latest/meta-data/{{object.id}}", "body": {"text": "x"}}"#;
        app.create_webhook(webhook("metadata", &target.uri(), json!({"request_template": template}))).await;

        let delivery = failed_delivery(&app, nasty_event()).await;

        let error = delivery["last_error"].as_str().unwrap();
        assert!(error.contains("SSRF") && error.contains("cloud metadata address"), "{delivery}");
        assert!(target.received_requests().await.unwrap().is_empty());
    }

    async fn chat_formats_are_posted_and_judged_by_their_answers(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let slack = receiver(&Script::new(vec![status(200).set_body_string(r#"{"ok":false,"error":"channel_not_found"}"#)])).await;
        let teams = receiver(&Script::new(vec![status(200).set_body_string("1")])).await;
        let discord = receiver(&Script::new(vec![status(204)])).await;
        app.create_webhook(webhook("slack", &slack.uri(), json!({"format": "slack"}))).await;
        app.create_webhook(webhook("teams", &teams.uri(), json!({"format": "teams"}))).await;
        let discord_id = app.create_webhook(webhook("discord", &discord.uri(), json!({"format": "discord"}))).await;
        let mut event = nasty_event();
        event["data"]["name"] = json!("N".repeat(5000));

        let event_id = app.post_event(event).await;

        let deliveries = app.deliveries_of(&event_id, settled).await;
        let statuses: Vec<&Value> = deliveries.iter().map(|d| &d["status"]).collect();
        assert_eq!(statuses.iter().filter(|status| **status == "succeeded").count(), 2, "{statuses:?}");
        let failed = deliveries.iter().find(|d| d["status"] == "failed").expect("the slack delivery failed");
        assert!(failed["last_error"].as_str().unwrap().contains("channel_not_found"), "{failed}");
        assert_eq!(failed["attempts"], 1);
        let sent: Value = serde_json::from_slice(&received(&discord, 1).await[0].body).unwrap();
        let content = sent["content"].as_str().unwrap();
        assert!(content.chars().count() <= 2000 && content.ends_with('…'), "{content}");
        assert!(sent["embeds"][0]["title"].as_str().unwrap().chars().count() <= 256);
        let slack_body: Value = serde_json::from_slice(&received(&slack, 1).await[0].body).unwrap();
        assert_eq!(slack_body["blocks"][0]["type"], "header");
        let card: Value = serde_json::from_slice(&received(&teams, 1).await[0].body).unwrap();
        assert_eq!(card["@type"], "MessageCard");

        let preview = app.admin(Method::POST, &format!("/api/v1/webhooks/{discord_id}/preview"))
            .json(&json!({"sample": true})).send().await.unwrap();
        let preview = expect_json(preview, 200).await;
        let body: Value = serde_json::from_str(preview["request"]["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["embeds"][0]["title"], "✏️ Updated web-1 (server-17)");
    }

    async fn global_variables_are_managed_through_the_api(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, read) = app.create_token("viewer", "read").await;

        let created = put_var(&app, "report_url", json!({"href": "https://r.example", "n": 1}), 201).await;
        let updated = put_var(&app, "report_url", json!("https://r.example/2"), 200).await;
        let bad_key = app.admin(Method::PUT, "/api/v1/vars/bad-key").json(&json!({"value": 1})).send().await.unwrap();
        let no_value = app.admin(Method::PUT, "/api/v1/vars/k").json(&json!({})).send().await.unwrap();
        let forbidden = app.with_token(Method::PUT, "/api/v1/vars/k", &read).json(&json!({"value": 1})).send().await.unwrap();
        let readable = app.with_token(Method::GET, "/api/v1/vars/report_url", &read).send().await.unwrap();

        assert_eq!(created["value"]["href"], "https://r.example");
        assert_eq!(updated["value"], "https://r.example/2");
        assert_eq!(expect_error(bad_key, 422, "validation_failed").await["field"], "key");
        expect_error(no_value, 422, "validation_failed").await;
        expect_error(forbidden, 403, "forbidden").await;
        assert_eq!(expect_json(readable, 200).await["value"], "https://r.example/2");
        put_var(&app, "other", json!(true), 201).await;
        let listed = app.get_json("/api/v1/vars?limit=1").await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        assert!(listed["next_cursor"].is_string());
        let deleted = app.admin(Method::DELETE, "/api/v1/vars/report_url").send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        let gone = app.admin(Method::GET, "/api/v1/vars/report_url").send().await.unwrap();
        expect_error(gone, 404, "not_found").await;
        let audit = app.get_json("/api/v1/audit").await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        for action in ["var.created", "var.updated", "var.deleted"] {
            assert!(actions.contains(&action), "{actions:?}");
        }
    }

    async fn check_config_compiles_every_stored_template(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        app.create_webhook(custom("fine", UNUSED_URL, "{\"a\": \"{{object.name}}\"}", json!({}))).await;
        let dir = tempfile::tempdir().unwrap();
        let database = app.db().url_string();
        let check = || binary::run(dir.path(), &["check-config"], &[("SWITCHYARD_DATABASE_URL", &database)]);

        let good = check();
        let broken_spec = custom("fine", UNUSED_URL, "{\"a\": \"{{retired_helper object.name}}\"}", json!({}));
        diesel::update(webhooks::table.filter(webhooks::name.eq("fine")))
            .set(webhooks::config.eq(broken_spec.to_string()))
            .execute(&mut app.db().connect())
            .unwrap();
        let bad = check();

        assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
        assert!(String::from_utf8_lossy(&good.stdout).contains("every stored template and schedule compiles"));
        assert_eq!(bad.status.code(), Some(2), "a stored template that does not compile is invalid configuration");
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(stderr.contains("webhook `fine`") && stderr.contains("unknown helper `retired_helper`"), "{stderr}");
    }
}
