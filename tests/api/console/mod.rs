//! The web console over HTTP (without a browser) and in headless Chromium.

mod browser;
mod browser_schedules;
mod browser_sources;
mod browser_triggers;
mod browser_webhooks;
mod deliveries;
mod http;
mod incidents;
mod incidents_browser;
mod overview;
mod refusals;
mod schedules;
mod settings_audit;
mod sources;
mod triggers;
mod webhooks;

use diesel::prelude::*;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode, redirect};

use crate::helpers::TestApp;

/// A browser stand-in: keeps the console's cookies and follows no redirects, so tests see them.
pub struct ConsoleClient<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl<'a> ConsoleClient<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Vec::new(),
        }
    }

    /// Signs in with `token` through the form and asserts it worked.
    pub async fn signed_in(app: &'a TestApp, token: &str) -> Self {
        let mut console = Self::new(app);
        let response = console.sign_in(token).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/ui");
        assert!(console.cookie("sy_session").is_some(), "no session cookie");
        console
    }

    /// Loads the sign-in form and posts `token` with the form's token.
    pub async fn sign_in(&mut self, token: &str) -> Response {
        let form_token = self.form_token("/ui/sign-in").await;
        self.post("/ui/sign-in", &[("csrf", &form_token), ("token", token)])
            .await
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let request = self.client.get(self.app.url(path));
        self.send(request).await
    }

    /// A page's body, asserting a `200`.
    pub async fn page(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.expect("body")
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = serde_urlencoded::to_string(fields).expect("form");
        let request = self
            .client
            .post(self.app.url(path))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// The anti-forgery token in the first form of the page at `path`.
    pub async fn form_token(&mut self, path: &str) -> String {
        let body = self.page(path).await;
        hidden_value(&body, "csrf").unwrap_or_else(|| panic!("no form token on {path}: {body}"))
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Response {
        let header = self
            .cookies
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request
            .header(COOKIE, header)
            .send()
            .await
            .expect("request");
        for set in response.headers().get_all(SET_COOKIE) {
            let text = set.to_str().expect("cookie text");
            let (key, value) = text
                .split(';')
                .next()
                .and_then(|pair| pair.split_once('='))
                .expect("name=value");
            self.cookies.retain(|(name, _)| name != key);
            if !value.is_empty() && !text.contains("Max-Age=0") {
                self.cookies.push((key.to_owned(), value.to_owned()));
            }
        }
        response
    }
}

pub fn location(response: &Response) -> &str {
    response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// The value of the first hidden input named `name`.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// Sets the first posted field named `key`.
pub fn replace<'a>(fields: &mut [(&'a str, &'a str)], key: &str, value: &'a str) {
    fields
        .iter_mut()
        .find(|(name, _)| *name == key)
        .expect("field")
        .1 = value;
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Rows in `table`, read directly from the database.
pub fn rows(app: &TestApp, table: &str) -> i64 {
    let mut conn = app.db().connect();
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Count>(&mut conn)
        .expect("count")
        .n
}
