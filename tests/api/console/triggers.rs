//! The trigger pages over HTTP: a trigger created, edited and deleted through the form (audited
//! as the session's token), anti-forgery and `read`-session refusals on every form, and chat
//! text shown as text in the exchange log and in the "try it" reply.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{ConsoleClient, hidden_value, location, rows};
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app_reaching_loopback};

pub const CHAT_TOKEN: &str = "zmigewsanbbsdf59xnmduzypjc";
const SCRIPT: &str = "<script>alert(1)</script>";

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
        ]);
    }
    fields
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
}
