//! `/api/v1/triggers` and `/api/v1/settings`: validation, masked secrets, the audit log, and
//! changes routed at once — also by another instance on the same PostgreSQL database.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::backend_tests;
use crate::binary::Server;
use crate::helpers::{
    Backend, TestDatabase, expect_error, expect_json, spawn_app_reaching_loopback,
};

backend_tests! {
    async fn triggers_are_created_read_listed_replaced_and_deleted_with_secrets_masked(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({})).await;
        let mut spec = trigger("build", &svc.uri(), json!({"slack_signing_secret": SIGNING_SECRET}));
        spec["services"][0]["endpoint"]["auth"] = json!({"type": "bearer", "token": "svc-secret-0123456789"});

        let created = create_trigger(&app, spec.clone()).await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("trg_"));
        assert_eq!(created["tokens"], json!(["…ypjc"]));
        assert_eq!(created["slack_signing_secret"], "…85a5");
        assert_eq!(created["services"][0]["endpoint"]["auth"]["token"], "…6789");
        assert_eq!(created["reply"]["mode"], "sync");
        assert_eq!(created["trigger_when"], "exact");
        let shown = created.to_string();
        assert!(!shown.contains(TOKEN) && !shown.contains(SIGNING_SECRET) && !shown.contains("svc-secret"), "{shown}");

        assert_eq!(app.get_json(&format!("/api/v1/triggers/{id}")).await, created);
        create_trigger(&app, trigger("deploy", &svc.uri(), json!({}))).await;
        let first = app.get_json("/api/v1/triggers?limit=1").await;
        assert_eq!(first["items"][0]["name"], "deploy");
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = app.get_json(&format!("/api/v1/triggers?limit=1&cursor={cursor}")).await;
        assert_eq!(second["items"][0]["name"], "build");

        // Masked values sent back keep the stored secrets.
        let mut replacement = created.clone();
        for key in ["id", "created_at", "updated_at"] {
            replacement.as_object_mut().unwrap().remove(key);
        }
        replacement["trigger_words"] = json!(["#make"]);
        replacement["slack_signing_secret"] = Value::Null;
        let replaced = app.admin(Method::PUT, &format!("/api/v1/triggers/{id}")).json(&replacement).send().await.unwrap();
        let replaced = expect_json(replaced, 200).await;
        assert_eq!(replaced["trigger_words"], json!(["#make"]));
        let answer = post_form(&app, "/hooks/outgoing", mattermost_form("#make", &[])).await;
        assert_eq!(answer.status(), 200, "the stored token still authenticates");
        assert_eq!(svc.received_requests().await.unwrap()[0].headers["authorization"], "Bearer svc-secret-0123456789");

        let deleted = app.admin(Method::DELETE, &format!("/api/v1/triggers/{id}")).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        let gone = app.admin(Method::GET, &format!("/api/v1/triggers/{id}")).send().await.unwrap();
        expect_error(gone, 404, "not_found").await;

        let audit = app.get_json("/api/v1/audit").await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter()
            .filter(|entry| entry["resource_id"] == id.as_str())
            .map(|entry| entry["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["trigger.deleted", "trigger.updated", "trigger.created"]);
        let audited = audit.to_string();
        for secret in [TOKEN, SIGNING_SECRET, "svc-secret-0123456789"] {
            assert!(!audited.contains(secret), "the audit log masks {secret}");
        }
    }

    async fn invalid_triggers_are_refused_naming_the_field(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let url = "http://127.0.0.1:9/chat";
        let cases = [
            (trigger("a", url, json!({"tokens": []})), "tokens"),
            (trigger("a", url, json!({"trigger_words": ["#a b"]})), "trigger_words[0]"),
            (trigger("a", url, json!({"trigger_words": []})), "trigger_words"),
            (trigger("a", url, json!({"kind": "slash", "trigger_words": ["build"]})), "trigger_words[0]"),
            (trigger("a", url, json!({"services": []})), "services"),
            (trigger("a", url, json!({"services": [{"endpoint": {"url": "ftp://x"}}]})), "services[0].endpoint.url"),
            (trigger("a", url, json!({"services": [{"endpoint": {"url": url}, "format": "template", "body_template": "{{#if}}"}]})), "services[0].body_template"),
            (trigger("a", url, json!({"reply": {"template": "{{nope x}}"}})), "reply.template"),
            (trigger("a", url, json!({"reply": {"mode": "async"}})), "reply.post_url"),
            (trigger("a b", url, json!({})), "name"),
            (trigger("a", url, json!({"colour": "red"})), "colour"),
        ];
        for (spec, field) in cases {
            let response = app.admin(Method::POST, "/api/v1/triggers").json(&spec).send().await.unwrap();
            let error = expect_error(response, 422, "validation_failed").await;
            assert_eq!(error["field"], field, "{error}");
        }
        create_trigger(&app, trigger("a", url, json!({}))).await;
        let taken = app.admin(Method::POST, "/api/v1/triggers").json(&trigger("a", url, json!({}))).send().await.unwrap();
        expect_error(taken, 409, "conflict").await;
        let (_, reader) = app.create_token("reader", "read").await;
        let forbidden = app.with_token(Method::POST, "/api/v1/triggers", &reader).json(&trigger("b", url, json!({}))).send().await.unwrap();
        expect_error(forbidden, 403, "forbidden").await;
    }

    async fn a_missing_required_field_is_named_with_its_path(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let url = "http://127.0.0.1:9/chat";
        let mut unnamed = trigger("a", url, json!({}));
        unnamed.as_object_mut().unwrap().remove("name");
        let cases = [
            (unnamed, "name"),
            (trigger("a", url, json!({"services": [{"format": "json"}]})), "services[0].endpoint"),
            (trigger("a", url, json!({"services": [{"endpoint": {"method": "POST"}}]})), "services[0].endpoint.url"),
        ];
        for (spec, field) in cases {
            let response = app.admin(Method::POST, "/api/v1/triggers").json(&spec).send().await.unwrap();
            let error = expect_error(response, 422, "validation_failed").await;
            assert_eq!(error["field"], field, "{error}");
        }
        let listed = app.get_json("/api/v1/triggers").await;
        assert_eq!(listed["items"], json!([]), "nothing is stored");
    }

    async fn trigger_changes_are_routed_at_once(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "ok"})).await;
        let ask = |text: &'static str| {
            let app = &app;
            async move { post_form(app, "/hooks/outgoing", mattermost_form(text, &[])).await }
        };
        assert_refused(ask("#build").await).await;
        let created = create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;
        assert_eq!(reply_of(ask("#build").await).await["text"], "ok");

        let path = format!("/api/v1/triggers/{}", created["id"].as_str().unwrap());
        let disabled = trigger("build", &svc.uri(), json!({"enabled": false}));
        expect_json(app.admin(Method::PUT, &path).json(&disabled).send().await.unwrap(), 200).await;
        assert_eq!(reply_of(ask("#build").await).await, Value::Null);

        app.admin(Method::DELETE, &path).send().await.unwrap();
        assert_refused(ask("#build").await).await;
    }

    async fn settings_are_validated_and_need_an_admin_to_change(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let put = |body: Value| app.admin(Method::PUT, "/api/v1/settings").json(&body).send();
        expect_error(put(json!({"chat": {"max_post_chars": 0}})).await.unwrap(), 422, "validation_failed").await;
        expect_error(put(json!({"chat": {"colour": true}})).await.unwrap(), 422, "validation_failed").await;
        let (_, reader) = app.create_token("reader", "read").await;
        let read = app.with_token(Method::GET, "/api/v1/settings", &reader).send().await.unwrap();
        assert_eq!(expect_json(read, 200).await["chat"]["enabled"], true);
        let change = app.with_token(Method::PUT, "/api/v1/settings", &reader).json(&json!({"chat": {}})).send().await.unwrap();
        expect_error(change, 403, "forbidden").await;
        let audited = expect_json(put(json!({"chat": {"max_post_chars": 500}})).await.unwrap(), 200).await;
        assert_eq!(audited["chat"]["max_post_chars"], 500);
        let audit = app.get_json("/api/v1/audit").await;
        assert_eq!(audit["items"][0]["action"], "settings.updated");
    }
}

/// Two processes on one PostgreSQL database: a trigger created through one routes on the other.
#[tokio::test]
async fn a_trigger_created_on_one_instance_routes_on_another() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let db = TestDatabase::create(&backend);
    let svc = json_service(json!({"text": "from b"})).await;
    let env = [
        ("SWITCHYARD_DATABASE_URL", db.url_string()),
        (
            "SWITCHYARD_ADMIN_TOKEN",
            "two-instances-admin-token".to_owned(),
        ),
        (
            "SWITCHYARD_OUTBOUND_ALLOWED_CIDRS",
            "127.0.0.0/8".to_owned(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Server::start(db.dir.path(), &env);
    let b = Server::start(db.dir.path(), &env);
    let client = crate::helpers::http_client();
    let ask = || {
        client
            .post(b.url("/hooks/outgoing"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(mattermost_form("#build", &[]))
            .send()
    };
    assert_eq!(ask().await.unwrap().status(), 401);

    let created = client
        .post(a.url("/api/v1/triggers"))
        .bearer_auth("two-instances-admin-token")
        .json(&trigger("build", &svc.uri(), json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = ask().await.unwrap();
        if response.status() == 200 {
            assert_eq!(response.json::<Value>().await.unwrap()["text"], "from b");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the other instance never routed the trigger"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Tokens and signing secrets never reach the log, whatever is sent: right, wrong, in the
/// body, in `Authorization: Token …`, forwarded to a Mattermost-format service, at debug level.
#[tokio::test]
async fn the_log_says_why_requests_were_refused_and_never_shows_chat_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let svc = json_service(json!({"text": "ok"})).await;
    let server = Server::start(
        dir.path(),
        &[
            ("SWITCHYARD_ADMIN_TOKEN", "log-test-admin-token-0123"),
            ("SWITCHYARD_OUTBOUND_ALLOWED_CIDRS", "127.0.0.0/8"),
            ("SWITCHYARD_LOG_FORMAT", "json"),
            ("SWITCHYARD_LOG_LEVEL", "debug"),
        ],
    );
    let client = crate::helpers::http_client();
    let service = json!([{"endpoint": {"url": svc.uri()}, "format": "mattermost-form"}]);
    for spec in [
        trigger("build", &svc.uri(), json!({"services": service})),
        json!({"name": "deploy", "kind": "slash", "tokens": [TOKEN], "trigger_words": ["/deploy"], "services": service}),
        json!({"name": "signed", "kind": "slash", "slack_signing_secret": SIGNING_SECRET, "trigger_words": ["/signed"], "services": service}),
    ] {
        let created = client
            .post(server.url("/api/v1/triggers"))
            .bearer_auth("log-test-admin-token-0123")
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let bad_token = "badbadbadbadbadbadbadbad42";
    let send = |path: &str, body: String, authorization: Option<&str>| {
        let mut request = client
            .post(server.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(token) = authorization {
            request = request.header("Authorization", format!("Token {token}"));
        }
        request.send()
    };
    let mut statuses = Vec::new();
    for token in [TOKEN, bad_token] {
        let outgoing = mattermost_form("#build", &[("token", Some(token))]);
        statuses.push(
            send("/hooks/outgoing", outgoing, None)
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
        let slash = slash_form("/deploy", "main", "https://chat.example/hooks/commands/x")
            .replace(TOKEN, token);
        statuses.push(
            send("/hooks/slash", slash.clone(), Some(token))
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
        let now = now_seconds();
        let signed = slash.replace("%2Fdeploy", "%2Fsigned");
        let signature = slack_signature(
            if token == TOKEN {
                SIGNING_SECRET
            } else {
                bad_token
            },
            now,
            &signed,
        );
        let response = client
            .post(server.url("/hooks/slash"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Slack-Request-Timestamp", now.to_string())
            .header("X-Slack-Signature", signature)
            .body(signed)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 401, 401, 401]);
    assert_eq!(
        svc.received_requests().await.unwrap().len(),
        3,
        "the good ones were forwarded"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    while server.log().matches("request completed").count() < 9 {
        assert!(Instant::now() < deadline, "{}", server.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = server.log();
    for secret in [TOKEN, bad_token, SIGNING_SECRET] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    // Each refusal is a debug line with its reason.
    let refusals: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("a chat request was not forwarded"))
        .collect();
    assert_eq!(refusals.len(), 3, "{log}");
    for reason in [
        "the token is not the trigger's",
        "the Slack signature does not match",
    ] {
        assert!(
            refusals.iter().any(|line| line.contains(reason)),
            "no refusal says {reason:?}:\n{log}"
        );
    }
}
