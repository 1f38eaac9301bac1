//! The trigger pages over HTTP: a trigger created, edited and deleted through the form (audited
//! as the session's token), its services' whole endpoints with write-only secrets,
//! anti-forgery and `read`-session refusals on every form, and chat text shown as text in the
//! exchange log and in the "try it" reply.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{ConsoleClient, hidden_value, location, replace, rows};
use crate::backend_tests;
use crate::chat::{mattermost_form, post_form};
use crate::deliveries::hmac_sha256;
use crate::helpers::{ADMIN_TOKEN, TestApp, header, received, spawn_app_reaching_loopback};

pub const CHAT_TOKEN: &str = "zmigewsanbbsdf59xnmduzypjc";
const SCRIPT: &str = "<script>alert(1)</script>";
const BEARER: &str = "service-bearer-0123456789";
const SIGNING: &str = "service-signing-secret-abcdef";

/// The form's fields for an outgoing trigger `name` on `#build` with one service at `url`,
/// and a blank service slot, as the browser sends them.
fn trigger_fields<'a>(csrf: &'a str, name: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("csrf", csrf),
        ("name", name),
        ("kind", "outgoing"),
        ("tokens", CHAT_TOKEN),
        ("trigger_words", "#build"),
        ("trigger_when", "exact"),
        ("enabled", "on"),
        ("case_sensitive", "on"),
        ("reply_mode", "sync"),
        ("on_error", "post"),
        ("response_type", ""),
        ("post_format", "mattermost"),
    ];
    for (slot_url, format) in [(url, "json"), ("", "mattermost-form")] {
        fields.extend([
            ("service_url", slot_url),
            ("service_name", ""),
            ("service_method", "POST"),
            ("service_format", format),
            ("service_template", ""),
            ("service_strict", ""),
            ("service_timeout_ms", ""),
            ("service_insecure_tls", ""),
            ("service_headers", ""),
            ("service_auth_type", "none"),
            ("service_auth_token", ""),
            ("service_auth_header", ""),
            ("service_auth_key", ""),
            ("service_auth_username", ""),
            ("service_auth_password", ""),
            ("service_signing_scheme", "none"),
            ("service_signing_secret", ""),
        ]);
    }
    fields
}

/// The form with a first service that has bearer auth, a header, HMAC signing and a timeout.
fn endpoint_fields<'a>(csrf: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut fields = trigger_fields(csrf, "build", url);
    for (key, value) in [
        ("service_headers", "X-Team: ops"),
        ("service_auth_type", "bearer"),
        ("service_auth_token", BEARER),
        ("service_signing_scheme", "hmac-sha256"),
        ("service_signing_secret", SIGNING),
        ("service_timeout_ms", "2500"),
    ] {
        replace(&mut fields, key, value);
    }
    fields
}

/// Asserts that the service's `nth` request carried the bearer token and a valid signature.
async fn assert_signed(server: &MockServer, nth: usize) {
    let requests = received(server, nth).await;
    let request = &requests[nth - 1];
    assert_eq!(header(request, "authorization"), format!("Bearer {BEARER}"));
    assert_eq!(header(request, "x-team"), "ops");
    let signed = [
        header(request, "x-switchyard-timestamp").as_bytes(),
        b".",
        &request.body,
    ]
    .concat();
    let expected = format!(
        "sha256={}",
        hex::encode(hmac_sha256(SIGNING.as_bytes(), &signed))
    );
    assert_eq!(header(request, "x-switchyard-signature"), expected);
}

/// A trigger made through the API; its id. Services are on loopback: the test servers allow it,
/// and the network check resolves no names there.
async fn api_trigger(app: &TestApp, name: &str, url: &str) -> String {
    let body = json!({"name": name, "tokens": [CHAT_TOKEN], "trigger_words": ["#build"],
                      "services": [{"endpoint": {"url": url}, "format": "json"}]});
    let created: Value = app
        .admin(Method::POST, "/api/v1/triggers")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["id"].as_str().expect("trigger id").to_owned()
}

/// A service that answers every request with `reply`.
async fn service(reply: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .mount(&server)
        .await;
    server
}

/// The exchange log page once it shows `expected` (the log is written within a second).
async fn log_showing(console: &mut ConsoleClient<'_>, id: &str, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = console.page(&format!("/ui/triggers/{id}/exchanges")).await;
        if page.contains(expected) || Instant::now() > deadline {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

backend_tests! {
    async fn a_trigger_is_created_edited_and_deleted_in_the_console_as_the_sessions_token(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let (_, ops) = app.create_token("ops", "admin").await;
        let mut console = ConsoleClient::signed_in(&app, &ops).await;
        let csrf = console.form_token("/ui/triggers/new").await;

        let created = console.post("/ui/triggers", &trigger_fields(&csrf, "build", "http://127.0.0.1:9/chat")).await;
        let listed = console.page("/ui/triggers").await;
        let id = listed.split("/ui/triggers/").filter(|rest| rest.starts_with("trg_")).find_map(|rest| rest.split('/').next()).expect("a trigger link").to_owned();
        let form = console.page(&format!("/ui/triggers/{id}/edit")).await;
        let mut edited = trigger_fields(&csrf, "build", "http://127.0.0.1:9/chat2");
        edited[3] = ("tokens", "…ypjc");
        let updated = console.post(&format!("/ui/triggers/{id}/edit"), &edited).await;
        let refused = console.post("/ui/triggers", &trigger_fields(&csrf, "bad name", "http://127.0.0.1:9/chat")).await;
        let stored = app.get_json(&format!("/api/v1/triggers/{id}")).await;
        let deleted = console.post(&format!("/ui/triggers/{id}/delete"), &[("csrf", &csrf)]).await;

        assert_eq!((created.status(), location(&created)), (StatusCode::SEE_OTHER, "/ui/triggers"));
        assert!(listed.contains("127.0.0.1") && listed.contains("#build"), "{listed}");
        assert!(form.contains("…ypjc") && !form.contains(CHAT_TOKEN), "the token is write-only");
        assert_eq!((updated.status(), location(&updated)), (StatusCode::SEE_OTHER, "/ui/triggers"));
        assert_eq!(stored["services"][0]["endpoint"]["url"], "http://127.0.0.1:9/chat2");
        assert_eq!(stored["tokens"], json!(["…ypjc"]), "the masked token kept the stored one");
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.text().await.unwrap().contains("id=\"name-error\""), "the refusal is beside its field");
        assert_eq!((deleted.status(), location(&deleted)), (StatusCode::SEE_OTHER, "/ui/triggers"));
        assert_eq!(rows(&app, "triggers"), 0);
        let audit = app.get_json("/api/v1/audit?resource_type=trigger").await;
        let actions: Vec<(&str, &str)> = audit["items"].as_array().unwrap().iter()
            .map(|entry| (entry["action"].as_str().unwrap(), entry["actor"].as_str().unwrap()))
            .collect();
        for action in ["trigger.created", "trigger.updated", "trigger.deleted"] {
            assert!(actions.contains(&(action, "token:ops")), "{audit}");
        }
    }

    async fn trigger_forms_refuse_posts_without_their_token_and_change_nothing(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let id = api_trigger(&app, "keep", "http://127.0.0.1:9/chat").await;
        let before = app.get_json(&format!("/api/v1/triggers/{id}")).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        for csrf in ["", "not-the-token"] {
            let create = console.post("/ui/triggers", &trigger_fields(csrf, "new", "http://127.0.0.1:9/x")).await;
            let update = console.post(&format!("/ui/triggers/{id}/edit"), &trigger_fields(csrf, "renamed", "http://127.0.0.1:9/x")).await;
            let delete = console.post(&format!("/ui/triggers/{id}/delete"), &[("csrf", csrf)]).await;
            let tried = console.post(&format!("/ui/triggers/{id}/try"), &[("csrf", csrf), ("token", CHAT_TOKEN), ("text", "#build")]).await;
            for response in [create, update, delete, tried] {
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{csrf:?}");
            }
        }
        let without = console.post(&format!("/ui/triggers/{id}/delete"), &[]).await;

        assert_eq!(without.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.get_json(&format!("/api/v1/triggers/{id}")).await, before);
        assert_eq!(rows(&app, "triggers"), 1);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(rows(&app, "chat_exchanges"), 0, "no request was tried");
    }

    async fn read_sessions_see_triggers_and_are_refused_every_trigger_form(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let id = api_trigger(&app, "keep", "http://127.0.0.1:9/chat").await;
        let before = app.get_json(&format!("/api/v1/triggers/{id}")).await;
        let (_, reader) = app.create_token("reader", "read").await;
        let mut console = ConsoleClient::signed_in(&app, &reader).await;
        let csrf = console.form_token("/ui/triggers").await;

        let list = console.page("/ui/triggers").await;
        let log = console.get(&format!("/ui/triggers/{id}/exchanges")).await;
        let mut refused = Vec::new();
        for path in ["/ui/triggers/new".to_owned(), format!("/ui/triggers/{id}/edit"), format!("/ui/triggers/{id}/try")] {
            refused.push(console.get(&path).await);
        }
        refused.push(console.post("/ui/triggers", &trigger_fields(&csrf, "new", "http://127.0.0.1:9/x")).await);
        refused.push(console.post(&format!("/ui/triggers/{id}/edit"), &trigger_fields(&csrf, "renamed", "http://127.0.0.1:9/x")).await);
        refused.push(console.post(&format!("/ui/triggers/{id}/delete"), &[("csrf", &csrf)]).await);
        refused.push(console.post(&format!("/ui/triggers/{id}/try"), &[("csrf", &csrf), ("token", CHAT_TOKEN), ("text", "#build")]).await);

        assert!(list.contains("keep") && !list.contains("/ui/triggers/new"), "{list}");
        assert_eq!(log.status(), StatusCode::OK);
        for response in refused {
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{}", response.url());
        }
        assert_eq!(app.get_json(&format!("/api/v1/triggers/{id}")).await, before);
        assert_eq!(rows(&app, "triggers"), 1);
    }

    async fn chat_text_shows_as_text_in_the_try_it_reply_and_the_exchange_log(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let reply = json!({"text": format!("{SCRIPT} **done**"), "attachments": [
            {"color": "danger", "title": "<img src=x onerror=alert(2)>", "fields": [{"title": "f", "value": "<b>v</b>", "short": true}]}
        ]});
        let server = service(reply).await;
        let id = api_trigger(&app, "build", &format!("{}/chat", server.uri())).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token(&format!("/ui/triggers/{id}/try")).await;

        let text = format!("#build {SCRIPT}");
        let tried = console.post(&format!("/ui/triggers/{id}/try"), &[("csrf", &csrf), ("token", CHAT_TOKEN), ("text", &text), ("team", "t"), ("channel", "c"), ("user", "u")]).await;
        let page = tried.text().await.unwrap();
        let log = log_showing(&mut console, &id, "badge-ok\">forwarded").await;

        assert!(page.contains("HTTP 200"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; <strong>done</strong>"), "{page}");
        assert!(page.contains("&lt;img src&#x3D;x onerror&#x3D;alert(2)&gt;") && page.contains("&lt;b&gt;v&lt;/b&gt;"), "{page}");
        assert!(page.contains("fill=\"#a30200\""), "the colour bar: {page}");
        assert!(!page.contains(CHAT_TOKEN), "the token is masked in the request shown");
        assert!(log.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{log}");
        for shown in [&page, &log] {
            assert!(!shown.contains(SCRIPT) && !shown.contains("<img src"), "{shown}");
        }
    }

    async fn try_it_reaches_its_own_server_under_the_default_network_policy(backend: Backend) {
        let app = crate::helpers::spawn_app(backend).await;
        let id = api_trigger(&app, "build", "builtin:incidents").await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token(&format!("/ui/triggers/{id}/try")).await;
        let try_path = format!("/ui/triggers/{id}/try");

        let wrong = console.post(&try_path, &[("csrf", &csrf), ("token", "wrong-token-wrong-token"), ("text", "#build")]).await;
        let wrong = wrong.text().await.unwrap();
        let right = console.post(&try_path, &[("csrf", &csrf), ("token", CHAT_TOKEN), ("text", "#build list")]).await;
        let right = right.text().await.unwrap();
        let log = log_showing(&mut console, &id, "badge-ok\">forwarded").await;

        assert!(wrong.contains("HTTP 401"), "{wrong}");
        assert!(right.contains("HTTP 200") && right.contains("chat-post"), "{right}");
        assert!(log.contains("badge-bad\">refused") && log.contains("badge-ok\">forwarded"), "{log}");
    }

    async fn try_it_signs_a_slack_slash_command_with_the_triggers_secret(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let server = service(json!({"response_type": "in_channel", "text": "deploying _main_"})).await;
        let body = json!({"name": "deploy", "kind": "slash", "trigger_words": ["/deploy"],
                          "slack_signing_secret": "8f742231b10e8888abcd99yyyzzz85a5",
                          "services": [{"endpoint": {"url": format!("{}/chat", server.uri())}, "format": "json"}]});
        let created: Value = app.admin(Method::POST, "/api/v1/triggers").json(&body).send().await.unwrap().json().await.unwrap();
        let id = created["id"].as_str().expect("trigger id");
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let form = console.page(&format!("/ui/triggers/{id}/try")).await;
        let csrf = hidden_value(&form, "csrf").expect("form token");

        let tried = console.post(&format!("/ui/triggers/{id}/try"), &[("csrf", &csrf), ("token", ""), ("text", "/deploy main"), ("team", "T1"), ("channel", "C1"), ("user", "U1")]).await;
        let page = tried.text().await.unwrap();

        assert!(form.contains("Slack") && form.contains("signed with the trigger"), "{form}");
        assert!(page.contains("HTTP 200") && page.contains("deploying <em>main</em>"), "{page}");
        assert!(page.contains("x-slack-signature: v0&#x3D;"), "{page}");
        let sent: Value = serde_json::from_slice(&crate::helpers::received(&server, 1).await[0].body).unwrap();
        assert_eq!((sent["command"].as_str(), sent["text"].as_str()), (Some("/deploy"), Some("main")), "{sent}");
    }

    async fn a_services_whole_endpoint_is_set_in_the_form_and_its_masked_secrets_are_kept(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let server = service(json!({"text": "built"})).await;
        let url = format!("{}/chat", server.uri());
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/triggers/new").await;

        let created = console.post("/ui/triggers", &endpoint_fields(&csrf, &url)).await;
        let listed = console.page("/ui/triggers").await;
        let id = listed.split("/ui/triggers/").filter(|rest| rest.starts_with("trg_")).find_map(|rest| rest.split('/').next()).expect("a trigger link").to_owned();
        let stored = app.get_json(&format!("/api/v1/triggers/{id}")).await;
        let first = post_form(&app, "/hooks/outgoing", mattermost_form("#build now", &[])).await;
        assert_eq!(first.status(), StatusCode::OK);
        assert_signed(&server, 1).await;

        let form = console.page(&format!("/ui/triggers/{id}/edit")).await;
        let mut edited = endpoint_fields(&csrf, &url);
        for (key, value) in [("service_auth_token", "…6789"), ("service_signing_secret", "…cdef"), ("service_timeout_ms", "3000")] {
            replace(&mut edited, key, value);
        }
        let updated = console.post(&format!("/ui/triggers/{id}/edit"), &edited).await;
        let second = post_form(&app, "/hooks/outgoing", mattermost_form("#build again", &[])).await;
        assert_eq!(second.status(), StatusCode::OK);
        assert_signed(&server, 2).await;

        assert_eq!((created.status(), location(&created)), (StatusCode::SEE_OTHER, "/ui/triggers"));
        let endpoint = &stored["services"][0]["endpoint"];
        assert_eq!(endpoint["auth"], json!({"type": "bearer", "token": "…6789"}), "{stored}");
        assert_eq!(endpoint["signing"], json!({"scheme": "hmac-sha256", "secret": "…cdef"}), "{stored}");
        assert_eq!((&endpoint["headers"], &endpoint["timeout_ms"]), (&json!({"X-Team": "ops"}), &json!(2500)), "{stored}");
        assert!(form.contains("…6789") && form.contains("…cdef") && form.contains("X-Team: ops"), "{form}");
        assert!(!form.contains(BEARER) && !form.contains(SIGNING), "the service's secrets are write-only");
        assert_eq!((updated.status(), location(&updated)), (StatusCode::SEE_OTHER, "/ui/triggers"));
        let stored = app.get_json(&format!("/api/v1/triggers/{id}")).await;
        assert_eq!(stored["services"][0]["endpoint"]["timeout_ms"], 3000, "{stored}");
    }

    async fn a_bad_service_header_line_or_timeout_is_refused_beside_its_field(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/triggers/new").await;

        let mut pages = Vec::new();
        for (key, value) in [("service_headers", "no colon here"), ("service_timeout_ms", "soon"), ("service_timeout_ms", "0")] {
            let mut fields = trigger_fields(&csrf, "build", "http://127.0.0.1:9/chat");
            replace(&mut fields, key, value);
            let refused = console.post("/ui/triggers", &fields).await;
            pages.push((refused.status(), refused.text().await.unwrap()));
        }

        for ((status, page), field) in pages.iter().zip(["headers", "timeout_ms", "timeout_ms"]) {
            assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
            assert!(page.contains(&format!("id=\"sv-0-{field}-error\"")), "{page}");
            assert!(page.contains(&format!("aria-describedby=\"sv-0-{field}-error\"")), "{page}");
            assert!(page.contains("<details class=\"endpoint-details\" open>"), "the slot's details are open");
        }
        assert!(pages[0].1.contains("no colon here"), "the posted value is shown again");
        assert_eq!(rows(&app, "triggers"), 0);
    }
}
