//! The console's overview over HTTP: what needs a look first, from what the API stored.

use diesel::prelude::*;
use reqwest::Method;
use serde_json::json;

use super::ConsoleClient;
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_reaching_loopback, webhook};
use crate::sources::{create_source, path_of, send};

async fn schedule(app: &TestApp, name: &str, cron: &str, enabled: bool, webhook: &str) -> String {
    let spec = json!({"name": name, "webhook": webhook, "cron": cron, "timezone": "UTC",
                      "enabled": enabled, "payload": {"text": name}});
    let created = app
        .admin(Method::POST, "/api/v1/schedules")
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

backend_tests! {
    async fn the_overview_lists_the_enabled_schedules_due_soonest(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let hook = app.create_webhook(webhook("teams", "http://127.0.0.1:9/hook", json!({"events": ["schedule.fired"]}))).await;
        let yearly = schedule(&app, "new year <b>", "0 0 1 1 *", true, &hook).await;
        let minutely = schedule(&app, "heartbeat", "* * * * *", true, &hook).await;
        schedule(&app, "paused", "* * * * *", false, &hook).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let page = console.page("/ui").await;

        let heartbeat = page.find(&format!("href=\"/ui/schedules/{minutely}\"")).expect("the minutely schedule");
        let new_year = page.find(&format!("href=\"/ui/schedules/{yearly}\"")).expect("the yearly schedule");
        assert!(heartbeat < new_year, "soonest first: {page}");
        assert!(page.contains("new year &lt;b&gt;"), "names are text: {page}");
        assert!(!page.contains(">paused<"), "a disabled schedule is not due: {page}");
    }

    async fn the_overview_lists_enabled_sources_silent_for_a_day(backend: Backend) {
        let app = spawn_app(backend).await;
        let never = create_source(&app, json!({"name": "never-sent", "kind": "alertmanager"})).await;
        let lately = create_source(&app, json!({"name": "sent-lately", "kind": "alertmanager"})).await;
        let long_ago = create_source(&app, json!({"name": "sent-long-ago", "kind": "alertmanager"})).await;
        create_source(&app, json!({"name": "switched-off", "kind": "alertmanager", "enabled": false})).await;
        for source in [&lately, &long_ago] {
            let sent = send(&app, Method::POST, &path_of(&app, source), &[("Content-Type", "application/json")], b"{}".to_vec()).await;
            assert!(sent.status().is_success() || sent.status() == 422, "{}", sent.status());
        }
        let two_days_ago = switchyard::timestamp::now_millis() - 2 * 24 * 3600 * 1000;
        diesel::sql_query(format!("UPDATE source_requests SET received_at = {two_days_ago} WHERE source_id = '{}'", long_ago["id"].as_str().unwrap()))
            .execute(&mut app.db().connect())
            .unwrap();
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let page = console.page("/ui").await;

        let listed = |source: &serde_json::Value| page.find(&format!("href=\"/ui/sources/{}\"", source["id"].as_str().unwrap()));
        let (never_at, long_ago_at) = (listed(&never).expect("never received"), listed(&long_ago).expect("silent for two days"));
        assert!(never_at < long_ago_at, "never received first, then the longest silent: {page}");
        assert!(listed(&lately).is_none(), "it received a request now: {page}");
        assert!(!page.contains("switched-off"), "a disabled source is not expected to send: {page}");
        assert!(page.contains("never received"), "{page}");
    }
}
