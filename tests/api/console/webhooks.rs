//! The console's webhook pages over HTTP: the form creates and edits through the API's domain
//! functions, secrets stay write-only, forgeries and read sessions change nothing.

use reqwest::StatusCode;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::incidents::alert;
use super::{ConsoleClient, hidden_value, location, replace, rows};
use crate::backend_tests;
use crate::helpers::{
    ADMIN_TOKEN, header, received, spawn_app, spawn_app_reaching_loopback, webhook,
};

const TOKEN: &str = "bearer-secret-0123456789";
const SIGNING: &str = "signing-secret-abcdefghijkl";

/// A complete webhook form as the page posts it.
fn form<'a>(csrf: &'a str, name: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("action", "save"),
        ("name", name),
        ("description", "pages ops"),
        ("url", url),
        ("method", "POST"),
        ("headers", "X-Team: ops"),
        ("auth_type", "bearer"),
        ("auth_token", TOKEN),
        ("signing_scheme", "hmac-sha256"),
        ("signing_secret", SIGNING),
        ("timeout_ms", ""),
        ("format", "custom"),
        ("body_template", "{\"text\": \"{{event.type}}\"}"),
        ("request_template", ""),
        ("events", "object.*"),
        ("filter", ""),
        ("forwarding", "always"),
        ("max_attempts", "3"),
        ("active", "on"),
    ]
}

/// The value of the input named `name` on a page.
fn input_value(html: &str, name: &str) -> String {
    let start = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no {name}"));
    let rest = &html[start..];
    let value = rest.find("value=\"").expect("a value") + 7;
    rest[value..value + rest[value..].find('"').unwrap()].to_owned()
}

/// The form's fields with the preview's choice of what to render against.
fn preview_with<'a>(fields: &[(&'a str, &'a str)], chosen: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut fields = fields.to_vec();
    fields.push(("preview_with", chosen));
    fields
}

fn webhook_id(html: &str) -> String {
    let rest = html
        .split("/ui/webhooks/whk_")
        .nth(1)
        .expect("a webhook's link");
    format!("whk_{}", rest.split('/').next().unwrap_or_default())
}

backend_tests! {
    async fn the_form_creates_a_webhook_and_an_edit_keeps_its_masked_secrets(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let receiver = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(202).set_body_string("queued")).mount(&receiver).await;
        let url = format!("{}/hook", receiver.uri());
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/webhooks/new").await;

        let created = console.post("/ui/webhooks", &form(&csrf, "pager", &url)).await;
        assert_eq!((created.status(), location(&created)), (StatusCode::SEE_OTHER, "/ui/webhooks"));
        let listed = console.page("/ui/webhooks").await;
        assert!(listed.contains("pager") && listed.contains("<code>127.0.0.1</code>") && listed.contains("object.*"), "{listed}");
        let id = webhook_id(&listed);
        let edit_page = console.page(&format!("/ui/webhooks/{id}/edit")).await;
        assert!(!edit_page.contains(TOKEN) && !edit_page.contains(SIGNING), "secrets shown: {edit_page}");
        let (masked_token, masked_secret) = (input_value(&edit_page, "auth_token"), edit_page.split("name=\"signing_secret\"").nth(1).and_then(|rest| rest.split('>').nth(1)).and_then(|rest| rest.split('<').next()).expect("the secret").to_owned());
        assert!(masked_token.starts_with('…'), "{masked_token}");
        let mut fields = form(&csrf, "pager", &url);
        replace(&mut fields, "auth_token", &masked_token);
        replace(&mut fields, "signing_secret", &masked_secret);
        replace(&mut fields, "description", "edited");
        let edited = console.post(&format!("/ui/webhooks/{id}/edit"), &fields).await;
        assert_eq!(edited.status(), StatusCode::SEE_OTHER);
        let tested = console.post(&format!("/ui/webhooks/{id}/test"), &[("csrf", &csrf)]).await;
        let tested = tested.text().await.unwrap();

        let stored = app.get_json(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(stored["description"], "edited");
        assert_eq!(stored["max_attempts"], 3);
        let requests = received(&receiver, 1).await;
        assert_eq!(header(&requests[0], "authorization"), format!("Bearer {TOKEN}"));
        assert!(tested.contains("HTTP 202") && tested.contains("queued"), "{tested}");
        assert!(!tested.contains(TOKEN), "{tested}");
    }

    async fn webhook_posts_without_the_form_token_are_refused_and_change_nothing(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let id = app.create_webhook(webhook("keep", "http://127.0.0.1:9/hook", json!({}))).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        for csrf in ["", "not-the-token"] {
            let paths = ["/ui/webhooks".to_owned(), format!("/ui/webhooks/{id}/edit"), format!("/ui/webhooks/{id}/active"),
                format!("/ui/webhooks/{id}/delete"), format!("/ui/webhooks/{id}/test"), "/ui/webhooks/preview".to_owned()];
            for path in paths {
                let mut fields = form(csrf, "forged", "http://127.0.0.1:9/x");
                replace(&mut fields, "active", "false");
                let response = console.post(&path, &fields).await;
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} with {csrf:?}");
            }
        }
        assert_eq!(rows(&app, "webhooks WHERE name = 'keep' AND active = TRUE"), 1);
        assert_eq!(rows(&app, "webhooks WHERE name = 'forged'"), 0);
    }

    async fn a_read_session_sees_webhooks_without_controls_and_is_refused(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let id = app.create_webhook(webhook("watched", "http://127.0.0.1:9/hook", json!({}))).await;
        let (_, reader) = app.create_token("reader", "read").await;
        let mut console = ConsoleClient::signed_in(&app, &reader).await;

        let listed = console.page("/ui/webhooks").await;
        let csrf = hidden_value(&listed, "csrf").expect("the sign-out form's token");
        let new = console.get("/ui/webhooks/new").await;
        let edit = console.get(&format!("/ui/webhooks/{id}/edit")).await;
        let created = console.post("/ui/webhooks", &form(&csrf, "mine", "http://127.0.0.1:9/x")).await;
        let paused = console.post(&format!("/ui/webhooks/{id}/active"), &[("csrf", &csrf), ("active", "false")]).await;
        let deleted = console.post(&format!("/ui/webhooks/{id}/delete"), &[("csrf", &csrf)]).await;

        assert!(listed.contains("watched"), "{listed}");
        assert!(!listed.contains("/edit\"") && !listed.contains("/active\"") && !listed.contains("/ui/webhooks/new"), "controls shown: {listed}");
        for response in [new, edit, created, paused, deleted] {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
        }
        assert_eq!(rows(&app, "webhooks WHERE name = 'watched' AND active = TRUE"), 1);
        assert_eq!(rows(&app, "webhooks WHERE name = 'mine'"), 0);
    }

    async fn webhook_names_are_shown_as_text(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let script = "<script>alert(1)</script>";
        let id = app.create_webhook(webhook(script, "http://127.0.0.1:9/hook", json!({}))).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let pages = [
            console.page("/ui/webhooks").await,
            console.page(&format!("/ui/webhooks/{id}/edit")).await,
            console.page(&format!("/ui/webhooks/{id}/delete")).await,
        ];

        for page in &pages {
            assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
            assert!(!page.contains(script), "{page}");
        }
    }

    async fn a_refused_field_is_named_beside_it_and_nothing_is_saved(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/webhooks/new").await;

        let bad_url = console.post("/ui/webhooks", &form(&csrf, "bad", "gopher://nowhere")).await;
        assert_eq!(bad_url.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let bad_url = bad_url.text().await.unwrap();
        let mut fields = form(&csrf, "bad", "https://hooks.example.com/x");
        replace(&mut fields, "max_attempts", "0");
        let bad_attempts = console.post("/ui/webhooks", &fields).await.text().await.unwrap();

        assert!(bad_url.contains("id=\"url-error\"") && bad_url.contains("aria-describedby=\"url-error\""), "{bad_url}");
        assert!(bad_url.contains("value=\"gopher://nowhere\""), "the form keeps what was typed: {bad_url}");
        assert!(bad_attempts.contains("id=\"max_attempts-error\" role=\"alert\">max_attempts: must be between 1"), "{bad_attempts}");
        assert_eq!(rows(&app, "webhooks WHERE name = 'bad'"), 0);
    }

    async fn the_preview_renders_the_unsaved_form_for_a_sample_event(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/webhooks/new").await;
        let mut fields = form(&csrf, "draft", "https://hooks.example.com/x");
        replace(&mut fields, "action", "preview");

        let live = console.post("/ui/webhooks/preview", &fields).await;
        let live: serde_json::Value = live.json().await.unwrap();
        let page = console.post("/ui/webhooks", &fields).await.text().await.unwrap();
        replace(&mut fields, "body_template", "{{#if}}");
        let broken: serde_json::Value = console.post("/ui/webhooks/preview", &fields).await.json().await.unwrap();

        let text = live["text"].as_str().expect("a request");
        assert!(text.starts_with("POST https://hooks.example.com/x\n"), "{text}");
        assert!(text.contains("x-team: ops") || text.contains("X-Team: ops"), "{text}");
        assert!(text.contains("{\"text\": \"object."), "{text}");
        assert!(!text.contains(TOKEN), "{text}");
        assert!(page.contains("POST https://hooks.example.com/x"), "{page}");
        assert_eq!(broken["error"]["field"], "body_template");
        assert_eq!(rows(&app, "webhooks WHERE name = 'draft'"), 0);
    }

    async fn the_preview_renders_against_a_chosen_incident_as_it_is_now_or_a_stored_event(backend: Backend) {
        let app = spawn_app(backend).await;
        let number = alert(&app, "db-2/disk", "Disk full on db-2", "critical", "rmm").await;
        let incident = app.get_json(&format!("/api/v1/incidents/{number}")).await;
        let resolved = app.admin(reqwest::Method::PATCH, &format!("/api/v1/incidents/{number}"))
            .json(&json!({"operations": {"appendIntent": {"intent": "Resolved", "message": "freed"}}})).send().await.unwrap();
        assert!(resolved.status().is_success(), "{}", resolved.text().await.unwrap());
        let events = app.get_json("/api/v1/events?type=incident.created").await;
        let created = events["items"][0]["id"].as_str().expect("the incident.created event").to_owned();
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let form_page = console.page("/ui/webhooks/new").await;
        let csrf = hidden_value(&form_page, "csrf").expect("a form token");
        let mut fields = form(&csrf, "draft", "https://hooks.example.com/x");
        replace(&mut fields, "events", "incident.*");
        replace(&mut fields, "body_template", "{\"type\": \"{{event.type}}\", \"title\": \"{{event.data.title}}\", \"status\": \"{{event.data.status}}\"}");
        let incident_choice = format!("incident:{}", incident["id"].as_str().unwrap());
        let event_choice = format!("event:{created}");
        let (incident_choice, event_choice) = (incident_choice.as_str(), event_choice.as_str());

        let now: serde_json::Value = console.post("/ui/webhooks/preview", &preview_with(&fields, incident_choice)).await.json().await.unwrap();
        let then: serde_json::Value = console.post("/ui/webhooks/preview", &preview_with(&fields, event_choice)).await.json().await.unwrap();
        let gone: serde_json::Value = console.post("/ui/webhooks/preview", &preview_with(&fields, "incident:inc_gone")).await.json().await.unwrap();
        let mut saved_fields = preview_with(&fields, incident_choice);
        replace(&mut saved_fields, "action", "preview");
        let page = console.post("/ui/webhooks", &saved_fields).await.text().await.unwrap();

        assert!(form_page.contains(&format!("<option value=\"{incident_choice}\">#{number} Disk full on db-2 (resolved)</option>")), "{form_page}");
        assert!(form_page.contains(&format!("<option value=\"{event_choice}\">incident.created · ")), "{form_page}");
        let now = now["text"].as_str().expect("a request");
        assert!(now.ends_with("\"title\": \"Disk full on db-2\", \"status\": \"resolved\"}"), "the incident as it is now: {now}");
        let then = then["text"].as_str().expect("a request");
        assert!(then.ends_with("{\"type\": \"incident.created\", \"title\": \"Disk full on db-2\", \"status\": \"open\"}"), "the event as stored: {then}");
        assert_eq!(gone["error"]["field"], "preview_with", "{gone}");
        assert!(page.contains("&quot;status&quot;: &quot;resolved&quot;"), "the Preview button renders the chosen incident: {page}");
        assert!(page.contains(&format!("<option value=\"{incident_choice}\" selected>")), "the choice is kept: {page}");
        assert_eq!(rows(&app, "webhooks WHERE name = 'draft'"), 0);
    }

    async fn webhooks_are_paused_resumed_and_deleted_after_a_confirmation(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let id = app.create_webhook(webhook("cycled", "http://127.0.0.1:9/hook", json!({}))).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/webhooks").await;
        let active = format!("/ui/webhooks/{id}/active");

        let paused = console.post(&active, &[("csrf", &csrf), ("active", "false")]).await;
        let paused_list = console.page("/ui/webhooks").await;
        let stored = app.get_json(&format!("/api/v1/webhooks/{id}")).await;
        let resumed = console.post(&active, &[("csrf", &csrf), ("active", "true")]).await;
        let confirm = console.page(&format!("/ui/webhooks/{id}/delete")).await;
        let deleted = console.post(&format!("/ui/webhooks/{id}/delete"), &[("csrf", &csrf)]).await;

        assert_eq!((paused.status(), location(&paused)), (StatusCode::SEE_OTHER, "/ui/webhooks"));
        assert!(paused_list.contains("badge-muted\">paused") && paused_list.contains(">Resume<"), "{paused_list}");
        assert_eq!(stored["active"], false);
        assert_eq!(resumed.status(), StatusCode::SEE_OTHER);
        assert!(confirm.contains("Delete <strong>cycled</strong>"), "{confirm}");
        assert_eq!((deleted.status(), location(&deleted)), (StatusCode::SEE_OTHER, "/ui/webhooks"));
        assert_eq!(rows(&app, "webhooks WHERE name = 'cycled'"), 0);
    }
}
