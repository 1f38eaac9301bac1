//! The console's overview over HTTP: what needs a look first, from what the API stored.

use reqwest::Method;
use serde_json::json;

use super::ConsoleClient;
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app_reaching_loopback, webhook};

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
}
