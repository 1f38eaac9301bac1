//! The source pages in headless Chromium: create a Tactical RMM source, post Tactical RMM's
//! failure body (the fixture the sources tests use, from Tactical RMM's own code) to the URL
//! the page showed, and find the request and the incident it opened on the source's page.
//! The form, the new URL, the source's page and the list are screenshotted at 360 and 1440 px wide.

use super::browser::{
    arrive_at, click, connect, element, screenshots, shows, start_driver, type_into,
};
use crate::helpers::{ADMIN_TOKEN, Backend, spawn_app};
use crate::sources::{fixture, post_json};

#[tokio::test]
async fn a_tactical_rmm_source_is_created_and_shows_what_its_failure_body_opened() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app(Backend::Sqlite).await;
    let browser = connect(&driver).await;
    browser.goto(&app.url("/ui/sign-in")).await.unwrap();
    type_into(&browser, "#token", ADMIN_TOKEN).await;
    click(&browser, "main button[type=submit]").await;
    arrive_at(&browser, "/ui").await;

    click(&browser, "nav a[href='/ui/sources']").await;
    arrive_at(&browser, "/ui/sources").await;
    click(&browser, "main a[href='/ui/sources/new']").await;
    click(&browser, "main a[href='/ui/sources/new?kind=tactical-rmm']").await;
    type_into(&browser, "#src-name", "rmm").await;
    screenshots(&browser, "source-form").await;
    click(&browser, "main form button[type=submit]").await;
    let url = element(&browser, "#source-url").await.text().await.unwrap();
    let copy = element(&browser, "[data-copy='source-url']").await;
    assert!(
        copy.is_displayed().await.unwrap(),
        "the script shows the copy button"
    );
    screenshots(&browser, "source-created").await;

    let path = url
        .strip_prefix(&app.address)
        .expect("a URL on this server");
    let answer = post_json(&app, path, fixture("tactical-rmm-failure-quote.txt")).await;
    let incident = answer["alerts"][0]["incident"].as_str().unwrap().to_owned();
    click(&browser, "main a.button[href^='/ui/sources/src_']").await;
    let request = element(&browser, ".requests .request")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        request.contains("trmm-alert-1873") && request.contains("opened"),
        "{request}"
    );
    let link = element(
        &browser,
        &format!(".request a[href='/ui/incidents/{incident}']"),
    )
    .await;
    assert!(
        !browser.source().await.unwrap().contains(&url),
        "the URL with its token is shown once"
    );
    type_into(
        &browser,
        "#preview-body",
        r#"{"action": "trigger", "dedup_key": "k", "title": "typed here"}"#,
    )
    .await;
    shows(&browser, "#preview-output", "typed here").await;
    screenshots(&browser, "source").await;
    let to_requests = "document.getElementById('requests-title').scrollIntoView();";
    browser.execute(to_requests, vec![]).await.unwrap();
    screenshots(&browser, "source-requests").await;

    link.click().await.unwrap();
    arrive_at(&browser, &format!("/ui/incidents/{incident}")).await;
    let title = element(&browser, "h1").await.text().await.unwrap();
    assert!(title.contains("WS-FIN-07: check alert (error)"), "{title}");
    click(&browser, "nav a[href='/ui/sources']").await;
    arrive_at(&browser, "/ui/sources").await;
    let row = element(&browser, "main tbody tr")
        .await
        .text()
        .await
        .unwrap();
    assert!(row.contains("rmm") && row.contains("Tactical RMM"), "{row}");
    screenshots(&browser, "sources").await;
    assert!(
        !browser.source().await.unwrap().contains(&url),
        "the URL with its token is shown once"
    );
    browser.close().await.unwrap();
}
