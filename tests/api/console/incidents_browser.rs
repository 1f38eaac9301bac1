//! The incident pages in headless Chromium: find an incident in the list, resolve it from its
//! page and see the timeline entry; the list and the page are screenshotted at 360 and 1440 px.

use std::time::{Duration, Instant};

use super::browser::{
    arrive_at, click, connect, element, screenshots, sign_in, start_driver, type_into,
};
use super::incidents::alert;
use crate::helpers::{Backend, spawn_app};
use fantoccini::Client;

/// Waits for the element `css` to read `text`: a post answers with the same address, so only
/// the page's content tells that it arrived.
async fn text_becomes(browser: &Client, css: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let current = element(browser, css).await.text().await.unwrap_or_default();
        if current == text {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} reads {current:?}, expected {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn resolve_an_incident_from_its_page() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app(Backend::Sqlite).await;
    alert(&app, "web-1/cpu", "CPU high on web-1", "critical", "rmm").await;
    let long = "Disk almost full on db-1, the primary of the orders cluster";
    alert(&app, "db-1/disk", long, "warning", "rmm").await;
    let browser = connect(&driver).await;
    sign_in(&browser, &app).await;

    click(&browser, "nav a[href='/ui/incidents']").await;
    arrive_at(&browser, "/ui/incidents").await;
    element(&browser, "#incident-list").await;
    screenshots(&browser, "incidents").await;
    click(&browser, "main a[href='/ui/incidents/1']").await;
    arrive_at(&browser, "/ui/incidents/1").await;
    text_becomes(&browser, "#incident-status", "open").await;
    screenshots(&browser, "incident").await;

    type_into(&browser, "#intent-message", "rolled back deploy 812").await;
    click(&browser, "button[name=intent][value=Resolved]").await;
    text_becomes(&browser, "#incident-status", "resolved").await;
    let latest = element(&browser, ".timeline li")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        latest.contains("resolved")
            && latest.contains("rolled back deploy 812")
            && latest.contains("config:admin_token"),
        "{latest}"
    );
    screenshots(&browser, "incident-resolved").await;
    let stored = app.get_json("/api/v1/incidents/1").await;
    assert_eq!(stored["status"], "resolved");
    browser.close().await.unwrap();
}
