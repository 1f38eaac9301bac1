//! The webhook pages in headless Chromium: create a webhook with a body template while the
//! preview follows the typing, then send a test to a receiver this test started. The list and
//! the form are screenshotted at 360 and 1440 px wide.

use std::time::{Duration, Instant};

use fantoccini::Client;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::browser::{arrive_at, click, connect, element, screenshots, start_driver, type_into};
use super::rows;
use crate::helpers::{ADMIN_TOKEN, Backend, received, spawn_app_reaching_loopback};

/// Waits for the element `css` to show `expected` (the preview answers after a debounce).
pub(super) async fn shows(browser: &Client, css: &str, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = element(browser, css).await.text().await.expect("text");
        if text.contains(expected) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{css} shows {text:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_webhook_is_created_with_a_live_preview_and_tested() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app_reaching_loopback(Backend::Sqlite).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("thanks"))
        .mount(&receiver)
        .await;
    let browser = connect(&driver).await;
    browser.goto(&app.url("/ui/sign-in")).await.unwrap();
    type_into(&browser, "#token", ADMIN_TOKEN).await;
    click(&browser, "main button[type=submit]").await;
    arrive_at(&browser, "/ui").await;

    click(&browser, "nav a[href='/ui/webhooks']").await;
    arrive_at(&browser, "/ui/webhooks").await;
    click(&browser, "main a[href='/ui/webhooks/new']").await;
    arrive_at(&browser, "/ui/webhooks/new").await;
    type_into(&browser, "#wh-name", "browser hook").await;
    type_into(&browser, "#wh-url", &format!("{}/hook", receiver.uri())).await;
    element(&browser, "#wh-format")
        .await
        .select_by_value("custom")
        .await
        .unwrap();
    type_into(
        &browser,
        "#wh-body_template",
        "{\"text\": \"{{event.type}}\"}",
    )
    .await;
    shows(&browser, "#preview-output", "{\"text\": \"incident.").await;
    let template = element(&browser, "#wh-body_template").await;
    template.clear().await.unwrap();
    template
        .send_keys("{\"text\": \"typed later\"}")
        .await
        .unwrap();
    let preview = shows(&browser, "#preview-output", "typed later").await;
    assert!(preview.starts_with("POST http://127.0.0.1:"), "{preview}");
    screenshots(&browser, "webhook-form").await;

    click(&browser, "button[value=save]").await;
    arrive_at(&browser, "/ui/webhooks").await;
    assert!(browser.source().await.unwrap().contains("browser hook"));
    screenshots(&browser, "webhooks").await;
    click(&browser, "form[action$='/test'] button").await;
    let status = shows(&browser, "#test-status", "HTTP 200").await;
    screenshots(&browser, "webhook-test").await;

    let requests = received(&receiver, 1).await;
    assert_eq!(
        String::from_utf8_lossy(&requests[0].body),
        "{\"text\": \"typed later\"}"
    );
    assert!(status.contains(" ms"), "{status}");
    assert_eq!(rows(&app, "webhooks WHERE name = 'browser hook'"), 1);
    browser.close().await.unwrap();
}
