//! Schedules, settings and the audit log in headless Chromium: create a cron schedule while its
//! next five due times follow the time zone, run it now and see its delivery to a receiver this
//! test started; flip a chat switch and find it in the audit log. Each page is screenshotted at
//! 360 and 1440 px wide.

use std::time::{Duration, Instant};

use fantoccini::Client;

use super::browser::{
    arrive_at, click, connect, element, path_of, screenshots, shows, start_driver, type_into,
};
use super::schedules::receiving_webhook;
use crate::helpers::{ADMIN_TOKEN, Backend, received, spawn_app_reaching_loopback};

/// Waits for a save to lead to the new schedule's page; its path.
async fn arrive_at_a_schedule(browser: &Client) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let path = path_of(browser).await;
        if path.starts_with("/ui/schedules/sch_") {
            return path;
        }
        assert!(Instant::now() < deadline, "still at {path}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reloads the page until `css` shows `expected` (a delivery settles in the background).
async fn reload_until(browser: &Client, css: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = element(browser, css).await.text().await.expect("text");
        if text.contains(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "{css} shows {text:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        browser.refresh().await.expect("reload");
    }
}

#[tokio::test]
async fn a_cron_schedule_follows_its_zone_runs_now_and_a_setting_is_audited() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app_reaching_loopback(Backend::Sqlite).await;
    let (receiver, webhook) = receiving_webhook(&app).await;
    let browser = connect(&driver).await;
    browser.goto(&app.url("/ui/sign-in")).await.unwrap();
    type_into(&browser, "#token", ADMIN_TOKEN).await;
    click(&browser, "main button[type=submit]").await;
    arrive_at(&browser, "/ui").await;

    click(&browser, "nav a[href='/ui/schedules']").await;
    arrive_at(&browser, "/ui/schedules").await;
    click(&browser, "main a[href='/ui/schedules/new']").await;
    arrive_at(&browser, "/ui/schedules/new").await;
    type_into(&browser, "#sc-name", "morning report").await;
    let select = element(&browser, "#sc-webhook").await;
    select.select_by_value(&webhook).await.unwrap();
    let cron = element(&browser, "#sc-cron").await;
    cron.clear().await.unwrap();
    cron.send_keys("30 8 * * MON-FRI").await.unwrap();
    shows(&browser, "#due-times", "08:30 UTC").await;
    let zone = element(&browser, "#sc-timezone").await;
    zone.clear().await.unwrap();
    zone.send_keys("America/New_York").await.unwrap();
    let due = shows(&browser, "#due-times", "08:30 EST (13:30 UTC)").await;
    assert_eq!(due.lines().count(), 5, "{due}");
    assert!(!due.contains("Sat") && !due.contains("Sun"), "{due}");
    shows(&browser, "#preview-output", "morning report: due at").await;
    screenshots(&browser, "schedule-form").await;

    click(&browser, "button[value=save]").await;
    let path = arrive_at_a_schedule(&browser).await;
    click(&browser, "#run-now").await;
    arrive_at(&browser, &path).await;
    reload_until(&browser, "#runs", "succeeded").await;
    screenshots(&browser, "schedule").await;
    let requests = received(&receiver, 1).await;
    assert!(String::from_utf8_lossy(&requests[0].body).contains("morning report: due at"));
    click(&browser, "#runs a[href^='/ui/deliveries/dlv_']").await;
    shows(&browser, "#delivery-status", "succeeded").await;
    click(&browser, "nav a[href='/ui/schedules']").await;
    arrive_at(&browser, "/ui/schedules").await;
    shows(&browser, "main table", "cron 30 8 * * MON-FRI").await;
    screenshots(&browser, "schedules").await;

    click(&browser, "nav a[href='/ui/settings']").await;
    arrive_at(&browser, "/ui/settings").await;
    click(&browser, "#chat-allow_username_override").await;
    click(&browser, "#settings button[type=submit]").await;
    shows(&browser, "#saved", "Saved").await;
    screenshots(&browser, "settings").await;
    click(&browser, "nav a[href='/ui/audit']").await;
    arrive_at(&browser, "/ui/audit").await;
    let log = shows(&browser, "#audit", "chat.allow_username_override").await;
    assert!(
        log.contains("settings.updated") && log.contains("schedule.run"),
        "{log}"
    );
    screenshots(&browser, "audit").await;
    browser.close().await.unwrap();
}
