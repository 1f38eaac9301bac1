use std::io::{Read, Write};
use std::net::TcpStream;

use reqwest::Method;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, spawn_app, spawn_app_with};

const SMALL_LIMIT: usize = 1024;

fn post_tokens(app: &TestApp) -> reqwest::RequestBuilder {
    app.admin(Method::POST, "/api/v1/tokens")
}

backend_tests! {
    async fn malformed_bodies_get_400_and_change_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let json = |body: &'static [u8]| post_tokens(&app).header("content-type", "application/json").body(body).send();

        let truncated = expect_error(json(b"{\"name\": \"a\", ").await.unwrap(), 400, "malformed").await;
        expect_error(json(b"not json").await.unwrap(), 400, "malformed").await;
        expect_error(json(b"").await.unwrap(), 400, "malformed").await;
        expect_error(json(b"{\"name\": \"caf\xe9\", \"scope\": \"read\"}").await.unwrap(), 400, "malformed").await;
        expect_error(json(b"{\"name\": \"a\", \"scope\": \"read\"} {}").await.unwrap(), 400, "malformed").await;

        assert!(truncated["message"].as_str().unwrap().contains("JSON"));
        let listed = app.admin(Method::GET, "/api/v1/tokens").send().await.unwrap();
        let body: serde_json::Value = listed.json().await.unwrap();
        assert_eq!(body["items"].as_array().unwrap().len(), 0);
    }

    async fn bodies_that_are_not_json_get_415(backend: Backend) {
        let app = spawn_app(backend).await;
        let body = r#"{"name": "a", "scope": "read"}"#;

        let form = post_tokens(&app).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
        let none = post_tokens(&app).body(body).send().await.unwrap();
        let with_charset = post_tokens(&app).header("content-type", "Application/JSON; charset=utf-8").body(body).send().await.unwrap();

        expect_error(form, 415, "unsupported_media_type").await;
        expect_error(none, 415, "unsupported_media_type").await;
        assert_eq!(with_charset.status(), 201);
    }
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_whether_declared_or_streamed() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.limits.max_body_bytes = SMALL_LIMIT
    })
    .await;
    let padding = "x".repeat(SMALL_LIMIT);
    let oversized = format!(r#"{{"name": "{padding}", "scope": "read"}}"#);

    let declared = post_tokens(&app)
        .header("content-type", "application/json")
        .body(oversized.clone())
        .send()
        .await
        .unwrap();
    let streamed_status = post_chunked(&app, "/api/v1/tokens", oversized.as_bytes());
    let just_fits = post_tokens(&app)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"name": "{}", "scope": "read"}}"#,
            "y".repeat(90)
        ))
        .send()
        .await
        .unwrap();

    expect_error(declared, 413, "payload_too_large").await;
    assert_eq!(streamed_status, 413);
    assert_eq!(just_fits.status(), 201);
}

/// Sends `body` with `Transfer-Encoding: chunked` (no length known up front) and returns the status.
fn post_chunked(app: &TestApp, path: &str, body: &[u8]) -> u16 {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let _ = stream.write_all(head.as_bytes());
    for chunk in body.chunks(256) {
        // The server may answer and close before the whole body is sent.
        let _ = stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = stream.write_all(chunk);
        let _ = stream.write_all(b"\r\n");
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = spawn_app(Backend::Sqlite).await;

    let unknown = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    let method = app
        .client
        .patch(app.url("/api/v1/tokens"))
        .send()
        .await
        .unwrap();

    expect_error(unknown, 404, "not_found").await;
    expect_error(method, 405, "method_not_allowed").await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
