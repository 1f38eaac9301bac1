//! The settings page changes the `chat.*` switches through the domain (audited), and the audit
//! log page filters by actor, resource and time, pages with a cursor that keeps the filters,
//! and shows no secret.

use reqwest::{Method, StatusCode};
use serde_json::json;
use switchyard::audit::{self, Change};

use super::{ConsoleClient, location, rows};
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_reaching_loopback, webhook};

/// The settings form with every switch on but `off`, and `max` as the longest reply.
fn settings<'a>(csrf: &'a str, off: &str, max: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![("csrf", csrf), ("max_post_chars", max)];
    for switch in ["enabled", "allow_username_override", "allow_icon_override"] {
        if switch != off {
            fields.push((switch, "on"));
        }
    }
    fields
}

/// `count` audit entries by `actor`, written directly.
fn entries(app: &TestApp, actor: &str, count: usize) {
    let mut conn = app.db().connect();
    for n in 0..count {
        let id = format!("tok_{n}");
        audit::record(
            &mut conn,
            Change::of(actor, "token.revoked", &id, json!({"n": n})),
        )
        .unwrap();
    }
}

backend_tests! {
    async fn a_flipped_chat_switch_is_applied_and_shown_in_the_audit_log(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/settings").await;

        let not_a_number = console.post("/ui/settings", &settings(&csrf, "", "many")).await;
        let (refused_status, refused) = (not_a_number.status(), not_a_number.text().await.unwrap());
        let too_long = console.post("/ui/settings", &settings(&csrf, "", "2000000")).await.status();
        let saved = console.post("/ui/settings", &settings(&csrf, "allow_icon_override", "3000")).await;
        let page = console.page("/ui/settings").await;
        let audit = console.page("/ui/audit?resource_type=settings").await;

        assert_eq!(refused_status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.contains("id=\"max_post_chars-error\"") && refused.contains("value=\"many\""), "{refused}");
        assert_eq!(too_long, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!((saved.status(), location(&saved)), (StatusCode::SEE_OTHER, "/ui/settings?saved=1"));
        let stored = app.get_json("/api/v1/settings").await;
        assert_eq!(stored["chat"]["allow_icon_override"], false, "{stored}");
        assert_eq!(stored["chat"]["max_post_chars"], 3000, "{stored}");
        assert!(page.contains("id=\"chat-allow_icon_override\">") && page.contains("id=\"chat-enabled\" checked>"), "{page}");
        assert!(audit.contains("settings.updated") && audit.contains("config:admin_token"), "{audit}");
        assert!(audit.contains("<li><code>chat.max_post_chars</code>: <del>16383</del> → <ins>3000</ins></li>"), "the configured default before: {audit}");
        assert!(audit.contains("<li><code>chat.allow_icon_override</code>: <del>false</del> → <ins>false</ins></li>"), "{audit}");
        assert_eq!(rows(&app, "audit_log WHERE action = 'settings.updated'"), 1);
    }

    async fn the_audit_log_filters_by_actor_resource_and_time_and_pages_on(backend: Backend) {
        let app = spawn_app(backend).await;
        entries(&app, "token:ops", 55);
        entries(&app, "token:dev", 2);
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let first = console.page("/ui/audit?actor=token%3Aops&resource_type=token").await;
        let next = first.split("href=\"").find_map(|rest| rest.split('"').next().filter(|href| href.contains("cursor&#x3D;"))).expect("a next page").replace("&amp;", "&").replace("&#x3D;", "=");
        let second = console.page(&next).await;
        let dev = console.page("/ui/audit?actor=token%3Adev").await;
        let future = console.page("/ui/audit?since=2999-01-01T00%3A00").await;
        let past = console.page("/ui/audit?until=2000-01-01T00%3A00").await;
        let bad_time = console.get("/ui/audit?since=yesterday").await.status();

        assert!(next.contains("actor=token%3Aops") && next.contains("resource_type=token"), "{next}");
        assert_eq!(first.matches("<td>token:ops</td>").count(), 50);
        assert_eq!(second.matches("<td>token:ops</td>").count(), 5);
        assert!(!first.contains("token:dev") && !second.contains("token:dev"));
        assert_eq!(dev.matches("<td>token:dev</td>").count(), 2, "{dev}");
        assert!(future.contains("No changes match these filters") && past.contains("No changes match"), "{future}");
        assert_eq!(bad_time, StatusCode::BAD_REQUEST);
    }

    async fn the_audit_log_shows_no_secret(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let (token, secret) = ("bearer-secret-0123456789", "signing-secret-abcdefghij");
        let spec = webhook("signed", "http://127.0.0.1:9/x", json!({"endpoint": {"auth": {"type": "bearer", "token": token}, "signing": {"scheme": "hmac-sha256", "secret": secret}}}));
        let id = app.create_webhook(spec.clone()).await;
        let mut replaced = spec;
        replaced["endpoint"]["auth"]["token"] = json!("bearer-secret-9876543210");
        let put = app.admin(Method::PUT, &format!("/api/v1/webhooks/{id}")).json(&replaced).send().await.unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        let (_, issued) = app.create_token("deployer", "ingest").await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let page = console.page("/ui/audit").await;

        assert!(page.contains("webhook.created") && page.contains("webhook.updated") && page.contains("token.created"), "{page}");
        for shown in [token, secret, "bearer-secret-9876543210", issued.as_str()] {
            assert!(!page.contains(shown), "{shown} is shown: {page}");
        }
        assert!(page.contains("<code>endpoint.auth.token</code>: "), "{page}");
    }
}
