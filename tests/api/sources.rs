//! Sources over HTTP: each sender's own documents (fixtures from the senders' own source or
//! docs, in `tests/fixtures/sources/` with where each came from) posted unchanged, what they
//! became, the request log, and bad input — checked on what was stored.

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::MockServer;

use crate::backend_tests;
use crate::helpers::{
    TestApp, expect_error, expect_json, received, spawn_app, spawn_app_reaching_loopback,
};
use crate::receiver::{Script, receiver, status};

mod senders;

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/sources/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

pub async fn create_source(app: &TestApp, spec: Value) -> Value {
    let response = app
        .admin(Method::POST, "/api/v1/sources")
        .json(&spec)
        .send()
        .await
        .unwrap();
    expect_json(response, 201).await
}

/// The path of a source's URL on the test server.
pub fn path_of(app: &TestApp, source: &Value) -> String {
    let url = source["url"].as_str().unwrap();
    url.strip_prefix(&app.address).unwrap_or(url).to_owned()
}

/// Sends `body` as a sender would: `method` to `path` with `headers`.
pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path)).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

pub async fn post_json(app: &TestApp, path: &str, body: Vec<u8>) -> Value {
    let response = send(
        app,
        Method::POST,
        path,
        &[("Content-Type", "application/json")],
        body,
    )
    .await;
    expect_json(response, 200).await
}

pub async fn requests_of(app: &TestApp, source: &Value) -> Vec<Value> {
    let path = format!(
        "/api/v1/sources/{}/requests",
        source["id"].as_str().unwrap()
    );
    app.get_json(&path).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub async fn incidents(app: &TestApp) -> Vec<Value> {
    app.get_json("/api/v1/incidents").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub async fn subscribed(app: &TestApp, events: Value) -> MockServer {
    let target = receiver(&Script::new(vec![status(200)])).await;
    app.create_webhook(
        json!({"name": "receiver", "endpoint": {"url": target.uri()}, "events": events}),
    )
    .await;
    target
}

backend_tests! {
    async fn a_url_token_source_shows_its_token_once_and_rotates_it(backend: Backend) {
        let app = spawn_app(backend).await;
        let created = create_source(&app, json!({"name": "cmdb", "kind": "datagerry"})).await;
        let with_token = path_of(&app, &created);
        let id = created["id"].as_str().unwrap();
        assert!(with_token.starts_with(&format!("/hooks/in/{id}/")), "{with_token}");
        assert_eq!(created["auth"], json!({"type": "url_token"}));
        let shown = app.get_json(&format!("/api/v1/sources/{id}")).await;
        let hint = shown["url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        assert!(hint.starts_with('…') && hint.chars().count() == 5, "only the token's end: {hint}");

        let accepted = post_json(&app, &with_token, fixture("datagerry-create.json")).await;
        assert_eq!(accepted["events"].as_array().unwrap().len(), 1);

        let rotated = app.admin(Method::POST, &format!("/api/v1/sources/{id}/rotate")).send().await.unwrap();
        let rotated = path_of(&app, &expect_json(rotated, 200).await);
        assert_ne!(rotated, with_token);
        let old = send(&app, Method::POST, &with_token, &[], fixture("datagerry-create.json")).await;
        assert_eq!(old.status(), 401);
        assert_eq!(old.text().await.unwrap(), "", "a bare 401");
        post_json(&app, &rotated, fixture("datagerry-create.json")).await;
        assert_eq!(requests_of(&app, &created).await.len(), 2, "the refused request is not logged");
        let audit = app.get_json("/api/v1/audit").await.to_string();
        assert!(audit.contains("source.created") && audit.contains("source.rotated"));
        assert!(!audit.contains(rotated.rsplit('/').next().unwrap()), "the token is not in the audit log");

        // Leaving url_token forgets the token: coming back issues a new one.
        let put = |auth: Value| app.admin(Method::PUT, &format!("/api/v1/sources/{id}"))
            .json(&json!({"name": "cmdb", "kind": "datagerry", "auth": auth})).send();
        expect_json(put(json!({"type": "bearer", "token": "bearer-token-0123456789"})).await.unwrap(), 200).await;
        let back = expect_json(put(json!({"type": "url_token"})).await.unwrap(), 200).await;
        let renewed = path_of(&app, &back);
        assert_ne!(renewed, rotated, "{renewed}");
        assert_eq!(send(&app, Method::POST, &rotated, &[], fixture("datagerry-create.json")).await.status(), 401);
        post_json(&app, &renewed, fixture("datagerry-create.json")).await;
    }

    async fn requests_that_cannot_be_read_are_kept_whole_and_refusals_store_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let source = create_source(&app, json!({"name": "rmm", "kind": "tactical-rmm"})).await;
        let path = path_of(&app, &source);

        let prose = send(&app, Method::POST, &path, &[("Content-Type", "text/plain")], b"disk almost full on web-1".to_vec()).await;
        let prose = expect_json(prose, 200).await;
        let garbage = send(&app, Method::POST, &path, &[], vec![0xff, 0xfe, b'{', 0x80]).await;
        assert_eq!(garbage.status(), 200);
        let too_big = send(&app, Method::POST, &path, &[], vec![b' '; 1024 * 1024 + 1]).await;
        expect_error(too_big, 413, "payload_too_large").await;
        let no_token = send(&app, Method::POST, &format!("/hooks/in/{}", source["id"].as_str().unwrap()), &[], b"{}".to_vec()).await;
        assert_eq!(no_token.status(), 401);
        let unknown = send(&app, Method::POST, "/hooks/in/nobody/abc", &[], b"{}".to_vec()).await;
        expect_error(unknown, 404, "not_found").await;

        let opened = incidents(&app).await;
        assert_eq!(opened.len(), 2, "each unreadable body opened an alert");
        let kept = opened.iter().find(|incident| incident["id"] == prose["alerts"][0]["incident"]).unwrap();
        assert!(kept["description"].as_str().unwrap().contains("disk almost full on web-1"), "{kept}");
        let logged = requests_of(&app, &source).await;
        assert_eq!(logged.len(), 2);
        assert!(logged.iter().all(|request| request["outcome"]["unmapped"].is_string()));

        let mut disabled = source.clone();
        for computed in ["id", "url", "created_at", "updated_at"] {
            disabled.as_object_mut().unwrap().remove(computed);
        }
        disabled["enabled"] = json!(false);
        let id = source["id"].as_str().unwrap();
        expect_json(app.admin(Method::PUT, &format!("/api/v1/sources/{id}")).json(&disabled).send().await.unwrap(), 200).await;
        let refused = send(&app, Method::POST, &path, &[], b"{\"title\": \"x\"}".to_vec()).await;
        expect_error(refused, 404, "not_found").await;
        assert_eq!(requests_of(&app, &source).await.len(), 2, "nothing stored for a disabled source");
        assert_eq!(incidents(&app).await.len(), 2);
    }

    async fn sources_are_checked_and_their_secrets_masked(backend: Backend) {
        let app = spawn_app(backend).await;
        let cases = [
            ("kind", json!({"name": "a", "kind": "nagios"})),
            ("name", json!({"name": "has space", "kind": "grafana"})),
            ("auth.token", json!({"name": "a", "kind": "vergeos", "auth": {"type": "bearer", "token": ""}})),
            ("mapping", json!({"name": "a", "kind": "custom"})),
            ("mapping.dedup_key", json!({"name": "a", "kind": "custom", "mapping": {"target": "alert", "title": "x"}})),
            ("mapping.title", json!({"name": "a", "kind": "custom", "mapping": {"target": "alert", "dedup_key": "k", "title": "{{#if}}"}})),
        ];
        for (field, spec) in cases {
            let response = app.admin(Method::POST, "/api/v1/sources").json(&spec).send().await.unwrap();
            let error = expect_error(response, 422, "validation_failed").await;
            assert_eq!(error["field"], field, "{spec}: {error}");
        }
        let secret = "s3cret-bearer-token-for-vergeos";
        let created = create_source(&app, json!({"name": "verge", "kind": "vergeos", "auth": {"type": "bearer", "token": secret}})).await;
        assert_eq!(created["auth"]["token"], "…geos", "masked");
        assert_eq!(path_of(&app, &created), "/hooks/in/verge");
        let mut replaced = created.clone();
        for computed in ["id", "url", "created_at", "updated_at"] {
            replaced.as_object_mut().unwrap().remove(computed);
        }
        replaced["description"] = json!("the lab cluster");
        let id = created["id"].as_str().unwrap();
        expect_json(app.admin(Method::PUT, &format!("/api/v1/sources/{id}")).json(&replaced).send().await.unwrap(), 200).await;
        let bearer = format!("Bearer {secret}");
        let accepted = send(&app, Method::POST, "/hooks/in/verge", &[("Authorization", &bearer)], fixture("vergeos-default.json")).await;
        assert_eq!(accepted.status(), 200, "the masked token sent back kept the secret");
        let listed = app.get_json("/api/v1/sources").await.to_string();
        assert!(!listed.contains(secret));
    }

    async fn long_titles_are_cut_not_refused(backend: Backend) {
        let app = spawn_app(backend).await;
        let title = "x".repeat(600);
        let key = "k".repeat(300);
        let response = app.admin(Method::POST, "/api/v1/alerts")
            .json(&json!({"dedup_key": key, "action": "trigger", "title": title}))
            .send().await.unwrap();
        let answer = expect_json(response, 202).await;
        let incident = &answer["incident"];
        assert_eq!(incident["title"].as_str().unwrap().chars().count(), 500);
        assert!(incident["title"].as_str().unwrap().ends_with('…'));
        let full = incident["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "full_title").unwrap();
        assert_eq!(full["value"], title);
        let again = app.admin(Method::POST, "/api/v1/alerts")
            .json(&json!({"dedup_key": key, "action": "trigger", "title": "again"}))
            .send().await.unwrap();
        assert_eq!(expect_json(again, 202).await["result"], "occurrence", "the same long key, the same incident");
    }
}

backend_tests! {
    async fn the_request_log_keeps_the_latest_hundred_with_credentials_masked(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = subscribed(&app, json!(["x.*"])).await;
        let source = create_source(&app, json!({"name": "verge", "kind": "vergeos",
            "auth": {"type": "api_key", "header": "X-Verge-Key", "key": "verge-api-key-0123456789"}})).await;
        for n in 0..105 {
            let body = format!("{{\"text\": \"run {n}\"}}").into_bytes();
            let response = send(&app, Method::POST, "/hooks/in/verge", &[("X-Verge-Key", "verge-api-key-0123456789")], body).await;
            assert_eq!(response.status(), 200);
        }
        received(&target, 105).await;
        let logged = requests_of(&app, &source).await;
        assert_eq!(logged.len(), 100);
        assert_eq!(serde_json::from_str::<Value>(logged[0]["body"].as_str().unwrap()).unwrap(), json!({"text": "run 104"}));
        assert_eq!(logged[0]["headers"]["x-verge-key"], "…6789");
        assert_eq!(logged[0]["outcome"]["events"].as_array().unwrap().len(), 1);
    }
}
