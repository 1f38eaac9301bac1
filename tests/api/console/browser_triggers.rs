//! The trigger pages in headless Chromium: create a trigger in the form (its service with a
//! bearer token set in the slot's endpoint details), then use "try it" to get a reply from a
//! service this test started, rendered as the chat would show it. The list, the form (details
//! open), the reply and the exchange log are screenshotted at 360 and 1440 px wide.

use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::browser::{
    arrive_at, click, connect, element, path_of, screenshots, shows, sign_in, start_driver,
    type_into,
};
use super::rows;
use super::triggers::CHAT_TOKEN;
use crate::helpers::{Backend, header, received, spawn_app_reaching_loopback};

#[tokio::test]
async fn a_trigger_is_created_and_tried_with_a_reply_from_its_service() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app_reaching_loopback(Backend::Sqlite).await;
    let service = MockServer::start().await;
    let reply = json!({
        "text": "Build **42** started: <b>not bold</b>",
        "attachments": [{"color": "good", "title": "Pipeline", "text": "all `green`",
                         "fields": [{"title": "Branch", "value": "main", "short": true}]}]
    });
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .mount(&service)
        .await;
    let browser = connect(&driver).await;
    sign_in(&browser, &app).await;

    click(&browser, "nav a[href='/ui/triggers']").await;
    arrive_at(&browser, "/ui/triggers").await;
    click(&browser, "main a[href='/ui/triggers/new']").await;
    arrive_at(&browser, "/ui/triggers/new").await;
    type_into(&browser, "#tr-name", "build").await;
    type_into(&browser, "#tr-trigger_words", "#build").await;
    type_into(&browser, "#tr-tokens", CHAT_TOKEN).await;
    type_into(&browser, "#sv-0-url", &format!("{}/chat", service.uri())).await;
    element(&browser, "#sv-0-format")
        .await
        .select_by_value("json")
        .await
        .unwrap();
    click(&browser, ".service-slot details summary").await;
    element(&browser, "#sv-0-auth")
        .await
        .select_by_value("bearer")
        .await
        .unwrap();
    type_into(&browser, "#sv-0-auth_token", "browser-bearer-0123456789").await;
    screenshots(&browser, "trigger-form").await;
    click(&browser, "form.trigger-form button[type=submit]").await;
    arrive_at(&browser, "/ui/triggers").await;
    assert!(browser.source().await.unwrap().contains("build"));
    screenshots(&browser, "triggers").await;

    click(&browser, "main a[href$='/try']").await;
    type_into(&browser, "#try-token", CHAT_TOKEN).await;
    let text = element(&browser, "#try-text").await;
    text.clear().await.unwrap();
    text.send_keys("#build now").await.unwrap();
    click(&browser, "#try-form button[type=submit]").await;
    shows(&browser, "#try-status", "HTTP 200").await;
    let shown = shows(&browser, "#try-result .chat-post", "Pipeline").await;
    screenshots(&browser, "trigger-try").await;

    assert!(
        shown.contains("Build 42 started: <b>not bold</b>"),
        "{shown}"
    );
    let bold = element(&browser, "#try-result .chat-post-text strong").await;
    assert_eq!(bold.text().await.unwrap(), "42");
    let field = element(&browser, "#try-result .chat-field dd").await;
    assert_eq!(field.text().await.unwrap(), "main");
    let log = path_of(&browser).await.replace("/try", "/exchanges");
    let deadline = Instant::now() + Duration::from_secs(10);
    // The exchange log is written within a second of the request.
    while !browser
        .source()
        .await
        .unwrap()
        .contains("badge-ok\">forwarded")
    {
        assert!(Instant::now() < deadline, "the exchange is not in the log");
        tokio::time::sleep(Duration::from_millis(200)).await;
        browser.goto(&app.url(&log)).await.unwrap();
    }
    let logged = element(&browser, "main article")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        logged.contains("#build now") && logged.contains("Pipeline"),
        "{logged}"
    );
    screenshots(&browser, "trigger-exchanges").await;
    let requests = received(&service, 1).await;
    let sent: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent["text"], "#build now", "{sent}");
    assert_eq!(
        header(&requests[0], "authorization"),
        "Bearer browser-bearer-0123456789"
    );
    assert_eq!(rows(&app, "triggers WHERE name = 'build'"), 1);
    browser.close().await.unwrap();
}
