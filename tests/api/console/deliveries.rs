//! The console's deliveries pages over HTTP: the filtered log, a delivery's attempts, retry and
//! replay by form, and what a forged post or a read session may not do.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::{ConsoleClient, hidden_value, location, rows};
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, TestApp, settled, spawn_app_reaching_loopback, webhook};
use crate::receiver::{Script, receiver, status};

const HOSTILE: &str = "<script>alert(1)</script>";

/// A webhook whose receiver answers `500` with a hostile body, and one delivery to it that
/// failed after its single attempt: `(webhook id, delivery id)`.
async fn failed_delivery(app: &TestApp, target: &wiremock::MockServer) -> (String, String) {
    let hook = app
        .create_webhook(webhook(
            "broken receiver",
            &target.uri(),
            json!({"max_attempts": 1}),
        ))
        .await;
    let event = app
        .post_event(json!({"type": "x.deploy", "subject": "api", "data": {}}))
        .await;
    let delivered = app.deliveries_of(&event, settled).await;
    assert_eq!(delivered[0]["status"], "failed", "{delivered:?}");
    (hook, delivered[0]["id"].as_str().unwrap().to_owned())
}

/// Waits until `delivery` has `count` recorded attempts.
async fn attempts_reach(app: &TestApp, delivery: &str, count: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let table = format!("delivery_attempts WHERE delivery_id = '{delivery}'");
    while rows(app, &table) < count {
        assert!(
            Instant::now() < deadline,
            "{delivery} never reached {count} attempts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn attempts_of(app: &TestApp, delivery: &str) -> i64 {
    rows(
        app,
        &format!("delivery_attempts WHERE delivery_id = '{delivery}'"),
    )
}

backend_tests! {
    async fn a_failed_delivery_is_found_by_filters_shown_escaped_and_retried(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = receiver(&Script::new(vec![status(500).set_body_string(HOSTILE)])).await;
        let (hook, id) = failed_delivery(&app, &target).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let listed = console.page(&format!("/ui/deliveries?webhook={hook}&status=failed")).await;
        let succeeded = console.page(&format!("/ui/deliveries?webhook={hook}&status=succeeded")).await;
        let by_type = console.page("/ui/deliveries?event_type=x.deploy&since=2000-01-01T00:00").await;
        let other_type = console.page("/ui/deliveries?event_type=x.other").await;
        let future = console.page("/ui/deliveries?since=2999-01-01T00:00").await;
        let link = format!("href=\"/ui/deliveries/{id}\"");
        assert!(listed.contains(&link) && listed.contains("broken receiver") && listed.contains("badge-bad"), "{listed}");
        assert!(listed.contains(">500<"), "the last status code: {listed}");
        assert!(by_type.contains(&link), "{by_type}");
        for page in [&succeeded, &other_type, &future] {
            assert!(!page.contains(&link), "filtered out: {page}");
        }
        let bad = console.get("/ui/deliveries?status=lost").await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

        let detail = console.page(&format!("/ui/deliveries/{id}")).await;
        assert!(detail.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;") || detail.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{detail}");
        assert!(!detail.contains(HOSTILE), "the body is shown as text");
        assert!(detail.contains("Attempt 1") && detail.contains("HTTP 500"), "{detail}");

        let csrf = hidden_value(&detail, "csrf").expect("a form token");
        let retried = console.post(&format!("/ui/deliveries/{id}/retry"), &[("csrf", &csrf)]).await;
        assert_eq!((retried.status(), location(&retried)), (StatusCode::SEE_OTHER, format!("/ui/deliveries/{id}").as_str()));
        attempts_reach(&app, &id, 2).await;
        let after = console.page(&format!("/ui/deliveries/{id}")).await;
        assert!(after.contains("Attempt 2"), "{after}");
    }

    async fn forged_and_read_only_posts_are_refused_and_change_nothing(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = receiver(&Script::new(vec![status(503)])).await;
        let (hook, id) = failed_delivery(&app, &target).await;
        let (_, reader) = app.create_token("reader", "read").await;
        let mut admin = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let mut read = ConsoleClient::signed_in(&app, &reader).await;
        let retry = format!("/ui/deliveries/{id}/retry");
        let replay = [("webhook", hook.as_str()), ("since", "2000-01-01T00:00")];

        for csrf in [None, Some(""), Some("forged")] {
            let mut retry_fields: Vec<(&str, &str)> = Vec::new();
            let mut replay_fields = replay.to_vec();
            if let Some(value) = csrf {
                retry_fields.push(("csrf", value));
                replay_fields.push(("csrf", value));
            }
            let posted = admin.post(&retry, &retry_fields).await;
            let replayed = admin.post("/ui/deliveries/replay", &replay_fields).await;
            assert_eq!(posted.status(), StatusCode::FORBIDDEN, "{csrf:?}");
            assert_eq!(replayed.status(), StatusCode::FORBIDDEN, "{csrf:?}");
        }

        let list = read.page(&format!("/ui/deliveries?webhook={hook}")).await;
        let detail = read.page(&format!("/ui/deliveries/{id}")).await;
        assert!(list.contains(&id) && !list.contains("/ui/deliveries/replay"), "no replay control: {list}");
        assert!(!detail.contains("/retry\""), "no retry control: {detail}");
        let csrf = hidden_value(&detail, "csrf").expect("the sign-out form's token");
        let posted = read.post(&retry, &[("csrf", &csrf)]).await;
        let replayed = read.post("/ui/deliveries/replay", &[("csrf", csrf.as_str()), replay[0], replay[1]]).await;
        assert_eq!(posted.status(), StatusCode::FORBIDDEN);
        assert_eq!(replayed.status(), StatusCode::FORBIDDEN);

        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(attempts_of(&app, &id), 1, "nothing was sent again");
        assert_eq!(rows(&app, &format!("deliveries WHERE id = '{id}' AND status = 'failed'")), 1);
    }

    async fn a_webhooks_failed_deliveries_are_replayed_since_a_time(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = receiver(&Script::new(vec![status(500)])).await;
        let (hook, id) = failed_delivery(&app, &target).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let list = console.page(&format!("/ui/deliveries?webhook={hook}")).await;
        assert!(list.contains("action=\"/ui/deliveries/replay\""), "{list}");
        let csrf = hidden_value(&list, "csrf").expect("a form token");
        let later = console.post("/ui/deliveries/replay", &[("csrf", csrf.as_str()), ("webhook", &hook), ("since", "2999-01-01T00:00")]).await;
        assert_eq!(location(&later), format!("/ui/deliveries?webhook={hook}&replayed=0"));
        let nothing = console.page(location(&later)).await;
        assert!(nothing.contains("nothing was sent again"), "{nothing}");
        let forged = console.page(&format!("/ui/deliveries?webhook={hook}&replayed=lies")).await;
        assert!(!forged.contains("lies") && !forged.contains("id=\"replayed\""), "{forged}");
        let replayed = console.post("/ui/deliveries/replay", &[("csrf", csrf.as_str()), ("webhook", &hook), ("since", "2000-01-01T00:00")]).await;

        assert_eq!((replayed.status(), location(&replayed)), (StatusCode::SEE_OTHER, format!("/ui/deliveries?webhook={hook}&replayed=1").as_str()));
        attempts_reach(&app, &id, 2).await;
        let shown = console.page(location(&replayed)).await;
        assert!(shown.contains("1 failed delivery queued"), "{shown}");
    }
}
