//! The schedule, settings and audit pages refuse forged posts and read sessions' changes, and
//! show what users stored as text.

use reqwest::StatusCode;
use serde_json::Value;

use super::schedules::{form, receiving_webhook};
use super::{ConsoleClient, hidden_value, location, replace, rows};
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app_reaching_loopback};

/// A schedule to `webhook` made through the console, its id.
async fn schedule(app: &TestApp, name: &str, webhook: &str) -> String {
    let mut console = ConsoleClient::signed_in(app, ADMIN_TOKEN).await;
    let csrf = console.form_token("/ui/schedules/new").await;
    let created = console
        .post("/ui/schedules", &form(&csrf, name, webhook))
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    location(&created)
        .trim_start_matches("/ui/schedules/")
        .to_owned()
}

/// Every post of the new forms with `csrf` in place of the form's token, and its status.
async fn post_every_form(
    console: &mut ConsoleClient<'_>,
    id: &str,
    csrf: &str,
    webhook: &str,
) -> Vec<(String, StatusCode)> {
    let mut fields = form(csrf, "forged", webhook);
    let mut statuses = Vec::new();
    for path in [
        "/ui/schedules".to_owned(),
        format!("/ui/schedules/{id}/edit"),
        "/ui/schedules/preview".to_owned(),
    ] {
        statuses.push((path.clone(), console.post(&path, &fields).await.status()));
    }
    replace(&mut fields, "action", "preview");
    statuses.push((
        "preview button".into(),
        console.post("/ui/schedules", &fields).await.status(),
    ));
    for path in [
        format!("/ui/schedules/{id}/run"),
        format!("/ui/schedules/{id}/delete"),
    ] {
        statuses.push((
            path.clone(),
            console.post(&path, &[("csrf", csrf)]).await.status(),
        ));
    }
    let settings = [("csrf", csrf), ("max_post_chars", "10")];
    statuses.push((
        "/ui/settings".into(),
        console.post("/ui/settings", &settings).await.status(),
    ));
    statuses
}

fn nothing_changed(app: &TestApp, settings_before: &Value) {
    assert_eq!(rows(app, "schedules WHERE name = 'forged'"), 0);
    assert_eq!(rows(app, "schedules WHERE name = 'kept'"), 1);
    assert_eq!(rows(app, "schedule_runs"), 0);
    assert_eq!(rows(app, "settings"), 0, "{settings_before}");
    assert_eq!(
        rows(
            app,
            "audit_log WHERE action <> 'schedule.created' AND action <> 'webhook.created' AND action <> 'token.created'"
        ),
        0
    );
}

backend_tests! {
    async fn posts_without_the_forms_token_are_refused_and_change_nothing(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let (_receiver, webhook) = receiving_webhook(&app).await;
        let id = schedule(&app, "kept", &webhook).await;
        let settings = app.get_json("/api/v1/settings").await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        for csrf in ["", "not-the-token"] {
            for (form, status) in post_every_form(&mut console, &id, csrf, &webhook).await {
                assert_eq!(status, StatusCode::FORBIDDEN, "{form} with {csrf:?}");
            }
        }

        nothing_changed(&app, &settings);
        assert_eq!(app.get_json("/api/v1/settings").await, settings);
    }

    async fn a_read_session_sees_schedules_settings_and_audit_and_changes_nothing(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let (_receiver, webhook) = receiving_webhook(&app).await;
        let id = schedule(&app, "kept", &webhook).await;
        let (_, reader) = app.create_token("reader", "read").await;
        let settings = app.get_json("/api/v1/settings").await;
        let mut console = ConsoleClient::signed_in(&app, &reader).await;

        let list = console.page("/ui/schedules").await;
        let detail = console.page(&format!("/ui/schedules/{id}")).await;
        let settings_page = console.page("/ui/settings").await;
        let audit = console.page("/ui/audit").await;
        let new = console.get("/ui/schedules/new").await.status();
        let edit = console.get(&format!("/ui/schedules/{id}/edit")).await.status();
        let csrf = hidden_value(&list, "csrf").expect("the sign-out form's token");
        let statuses = post_every_form(&mut console, &id, &csrf, &webhook).await;

        assert!(list.contains("kept") && !list.contains("/run\"") && !list.contains("/ui/schedules/new"), "{list}");
        assert!(detail.contains("Next due times") && !detail.contains("Run now"), "{detail}");
        assert!(settings_page.contains("id=\"settings-values\"") && !settings_page.contains("method=\"post\" action=\"/ui/settings\""), "{settings_page}");
        assert!(audit.contains("schedule.created"), "{audit}");
        assert_eq!((new, edit), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN));
        for (form, status) in statuses {
            assert_eq!(status, StatusCode::FORBIDDEN, "{form}");
        }
        nothing_changed(&app, &settings);
    }

    async fn schedule_names_and_payloads_are_shown_as_text(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let script = "<script>alert(1)</script>";
        let (_receiver, webhook) = receiving_webhook(&app).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/schedules/new").await;
        let mut fields = form(&csrf, script, &webhook);
        replace(&mut fields, "payload", "{\"text\": \"<img src=x onerror=alert(2)> {{schedule.name}}\"}");

        let created = console.post("/ui/schedules", &fields).await;
        let id = location(&created).trim_start_matches("/ui/schedules/").to_owned();
        replace(&mut fields, "action", "preview");
        let previewed = console.post("/ui/schedules", &fields).await.text().await.unwrap();
        let pages = [
            previewed,
            console.page("/ui/schedules").await,
            console.page(&format!("/ui/schedules/{id}")).await,
            console.page(&format!("/ui/schedules/{id}/edit")).await,
            console.page(&format!("/ui/schedules/{id}/delete")).await,
            console.page("/ui/audit").await,
        ];

        for page in &pages {
            assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
            assert!(!page.contains(script) && !page.contains("<img"), "{page}");
        }
        assert!(pages[0].contains("&lt;img src&#x3D;x onerror&#x3D;alert(2)&gt; &lt;script&gt;"), "the preview renders the payload: {}", pages[0]);
    }
}
