//! The console in Debian's headless Chromium, driven through chromedriver: sign in, create a
//! token and see its secret once, revoke it, sign out. Each page is screenshotted at 360 and
//! 1440 px wide into `target/ui-screenshots/`.
//!
//! Without `chromium` and `chromedriver` the test fails when `CI` is set and is skipped with a
//! note otherwise.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use super::rows;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, spawn_app};

const CHROMIUM: &str = "/usr/bin/chromium";
const WIDTHS: [u32; 2] = [360, 1440];

/// chromedriver on a free loopback port, stopped with the test.
pub(super) struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `None` (after a note) when the browser is missing outside CI; a failure inside CI.
pub(super) fn start_driver() -> Option<Driver> {
    if !installed("chromedriver") || !installed(CHROMIUM) {
        let message = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)";
        assert!(
            std::env::var_os("CI").is_none(),
            "{message}: the browser tests cannot run in CI without them"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "NOTE: {message}: the browser test was skipped"
        );
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    Some(Driver { child, port })
}

pub(super) async fn connect(driver: &Driver) -> Client {
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1440,900"],
        }
    });
    let capabilities = capabilities.as_object().expect("an object").clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attempt = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await;
        match attempt {
            Ok(client) => return client,
            // chromedriver may not listen yet
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("chromedriver did not start a browser: {error}"),
        }
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// The current page at each width, as `<name>-<width>.png`; the page must fit the width.
pub(super) async fn screenshots(browser: &Client, name: &str) {
    for width in WIDTHS {
        browser.set_window_size(width, 900).await.expect("resize");
        let overflow = browser
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await
            .expect("measure");
        assert!(
            overflow.as_i64().is_some_and(|px| px <= 0),
            "{name} at {width} px scrolls sideways by {overflow}"
        );
        let png = browser.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_dir().join(format!("{name}-{width}.png")), png)
            .expect("write screenshot");
    }
    browser.set_window_size(1440, 900).await.expect("resize");
}

pub(super) async fn path_of(browser: &Client) -> String {
    browser.current_url().await.expect("url").path().to_owned()
}

/// Waits for a navigation a click started to arrive at `path`.
pub(super) async fn arrive_at(browser: &Client, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let current = path_of(browser).await;
        if current == path {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still at {current}, expected {path}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The element `css` selects, waiting for a page a click started to show it.
pub(super) async fn element(browser: &Client, css: &str) -> Element {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("no {css}: {error}"))
}

/// Signs in with the configured `admin_token` through the form.
pub(super) async fn sign_in(browser: &Client, app: &TestApp) {
    browser.goto(&app.url("/ui/sign-in")).await.unwrap();
    type_into(browser, "#token", ADMIN_TOKEN).await;
    click(browser, "main button[type=submit]").await;
    arrive_at(browser, "/ui").await;
}

/// Waits for the element `css` to show `expected` (a preview or an answer comes later).
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

pub(super) async fn click(browser: &Client, css: &str) {
    element(browser, css).await.click().await.expect("click");
}

pub(super) async fn type_into(browser: &Client, css: &str, text: &str) {
    element(browser, css)
        .await
        .send_keys(text)
        .await
        .expect("type");
}

#[tokio::test]
async fn sign_in_create_and_revoke_a_token_then_sign_out() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app(Backend::Sqlite).await;
    let browser = connect(&driver).await;

    browser.goto(&app.url("/ui")).await.unwrap();
    arrive_at(&browser, "/ui/sign-in").await;
    screenshots(&browser, "sign-in").await;
    type_into(&browser, "#token", ADMIN_TOKEN).await;
    click(&browser, "main button[type=submit]").await;
    arrive_at(&browser, "/ui").await;
    assert_eq!(
        element(&browser, "h1").await.text().await.unwrap(),
        "Overview"
    );
    screenshots(&browser, "overview").await;

    click(&browser, "nav a[href='/ui/tokens']").await;
    arrive_at(&browser, "/ui/tokens").await;
    screenshots(&browser, "tokens").await;
    type_into(&browser, "#token-name", "browser bot").await;
    element(&browser, "#token-scope")
        .await
        .select_by_value("ingest")
        .await
        .unwrap();
    click(&browser, "form[action='/ui/tokens'] button").await;
    let secret = element(&browser, "#new-secret").await.text().await.unwrap();
    assert!(secret.starts_with("sy_") && secret.len() > 40, "{secret}");
    let copy = element(&browser, "[data-copy]").await;
    assert!(
        copy.is_displayed().await.unwrap(),
        "the script shows the copy button"
    );
    screenshots(&browser, "token-created").await;

    click(&browser, "main a[href='/ui/tokens']").await;
    element(&browser, "#token-list").await;
    let listed = browser.source().await.unwrap();
    assert!(
        listed.contains("browser bot") && !listed.contains(&secret),
        "the secret is shown once"
    );
    click(&browser, "a[href$='/revoke']").await;
    element(&browser, "form[action$='/revoke']").await;
    screenshots(&browser, "token-revoke").await;
    click(&browser, "form[action$='/revoke'] button[type=submit]").await;
    arrive_at(&browser, "/ui/tokens").await;
    assert!(!browser.source().await.unwrap().contains("browser bot"));
    assert_eq!(rows(&app, "api_tokens WHERE name = 'browser bot'"), 0);

    click(&browser, "header form button").await;
    arrive_at(&browser, "/ui/sign-in").await;
    browser.goto(&app.url("/ui/tokens")).await.unwrap();
    arrive_at(&browser, "/ui/sign-in").await;
    assert_eq!(rows(&app, "ui_sessions"), 0);
    browser.close().await.unwrap();
}

#[tokio::test]
async fn find_a_failed_delivery_open_its_attempt_and_retry_it() {
    let Some(driver) = start_driver() else { return };
    let app = crate::helpers::spawn_app_reaching_loopback(Backend::Sqlite).await;
    let answer = crate::receiver::status(500).set_body_raw(
        r#"{"error":"down for maintenance","retry":false}"#,
        "application/json",
    );
    let target = crate::receiver::receiver(&crate::receiver::Script::new(vec![answer])).await;
    let spec = json!({"max_attempts": 1});
    let hook = app
        .create_webhook(crate::helpers::webhook("pager", &target.uri(), spec))
        .await;
    let event = app
        .post_event(json!({"type": "x.alert", "subject": "db", "data": {"level": "high"}}))
        .await;
    let delivered = app.deliveries_of(&event, crate::helpers::settled).await;
    let id = delivered[0]["id"].as_str().unwrap().to_owned();
    let browser = connect(&driver).await;

    browser.goto(&app.url("/ui")).await.unwrap();
    type_into(&browser, "#token", ADMIN_TOKEN).await;
    click(&browser, "main button[type=submit]").await;
    arrive_at(&browser, "/ui").await;
    click(&browser, "nav a[href='/ui/deliveries']").await;
    arrive_at(&browser, "/ui/deliveries").await;
    for (css, value) in [
        ("#filter-webhook", hook.as_str()),
        ("#filter-status", "failed"),
    ] {
        let select = element(&browser, css).await;
        select.select_by_value(value).await.unwrap();
    }
    click(&browser, "#filters button[type=submit]").await;
    let row = format!("a[href='/ui/deliveries/{id}']");
    element(&browser, &row).await;
    let url = browser.current_url().await.unwrap();
    assert!(
        url.query().is_some_and(|q| q.contains("status=failed")),
        "{url}"
    );
    screenshots(&browser, "deliveries").await;

    click(&browser, &row).await;
    arrive_at(&browser, &format!("/ui/deliveries/{id}")).await;
    let attempt = element(&browser, "#attempt-1").await.text().await.unwrap();
    assert!(
        attempt.contains("HTTP 500") && attempt.contains("\"error\": \"down for maintenance\""),
        "{attempt}"
    );
    screenshots(&browser, "delivery").await;
    click(&browser, "form[action$='/retry'] button[type=submit]").await;
    arrive_at(&browser, &format!("/ui/deliveries/{id}")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while rows(
        &app,
        &format!("delivery_attempts WHERE delivery_id = '{id}'"),
    ) < 2
    {
        assert!(Instant::now() < deadline, "the retry was never sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.refresh().await.unwrap();
    element(&browser, "#attempt-2").await;
    browser.close().await.unwrap();
}
