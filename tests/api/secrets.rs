//! Secrets at rest (SPEC §6.5): what the database holds after credentials were configured,
//! that they still authenticate after a restart, the key checked at the start, rotation, and
//! the sealing of what an earlier version stored in clear.

use diesel::sql_types::Text;
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use reqwest::Method;
use serde_json::{Value, json};
use switchyard::secrets::Key;
use switchyard::startup::Application;
use switchyard::store::schema::{secret_keys, triggers, webhooks};

use crate::backend_tests;
use crate::chat::{TOKEN, create_trigger, mattermost_form, post_form, reply_of, trigger};
use crate::deliveries::hmac_sha256;
use crate::helpers::{
    Backend, TestApp, TestDatabase, expect_error, header, received, spawn_on, test_config, webhook,
};
use crate::receiver::{Script, receiver, status};
use crate::sources::{create_source, fixture, path_of};

const BEARER: &str = "bearer-secret-0123456789";
const HMAC: &str = "hmac-secret-for-tests-0001";
const API_KEY: &str = "api-key-header-secret-42";
const SERVICE_PASSWORD: &str = "service-password-000777";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SOURCE_TOKEN: &str = "source-bearer-token-31337";
const ALL: [&str; 7] = [
    BEARER,
    HMAC,
    API_KEY,
    SERVICE_PASSWORD,
    SLACK_SECRET,
    SOURCE_TOKEN,
    TOKEN,
];

#[derive(diesel::QueryableByName)]
struct Text1 {
    #[diesel(sql_type = Text)]
    text: String,
}

/// Every configuration and audit entry as stored, as one string.
fn stored_text(db: &TestDatabase) -> String {
    let query = "SELECT config AS text FROM webhooks UNION ALL SELECT config FROM triggers \
                 UNION ALL SELECT config FROM sources UNION ALL SELECT details FROM audit_log";
    let rows: Vec<Text1> = diesel::sql_query(query).load(&mut db.connect()).unwrap();
    rows.into_iter()
        .map(|row| row.text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The SQLite files as they are on disk (the database and its write-ahead log).
fn sqlite_files(db: &TestDatabase) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["switchyard.db", "switchyard.db-wal"] {
        if let Ok(content) = std::fs::read(db.dir.path().join(name)) {
            bytes.extend(content);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

async fn configure_everything(app: &TestApp, target: &str) {
    app.create_webhook(webhook(
        "sealed",
        target,
        json!({"endpoint": {
        "auth": {"type": "bearer", "token": BEARER},
        "headers": {"X-API-Key": API_KEY, "X-Team": "platform"},
        "signing": {"scheme": "hmac-sha256", "secret": HMAC}}}),
    ))
    .await;
    let service = json!([{"endpoint": {"url": format!("{target}/chat"),
        "auth": {"type": "basic", "username": "bot", "password": SERVICE_PASSWORD}}, "format": "json"}]);
    create_trigger(app, trigger("build", target, json!({"services": service}))).await;
    create_trigger(
        app,
        json!({"name": "slack", "kind": "slash", "slack_signing_secret": SLACK_SECRET,
        "trigger_words": ["/deploy"], "services": [{"endpoint": {"url": target}}]}),
    )
    .await;
    create_source(app, json!({"name": "am", "kind": "alertmanager", "auth": {"type": "bearer", "token": SOURCE_TOKEN}})).await;
}

backend_tests! {
    async fn stored_credentials_are_sealed_and_still_authenticate_after_a_restart(backend: Backend) {
        let db = TestDatabase::create(&backend);
        let app = spawn_on(db, crate::helpers::allow_loopback).await;
        let script = Script::new(vec![status(200)]);
        let target = receiver(&script).await;
        configure_everything(&app, &target.uri()).await;
        // Each write that seals records its key, so a rotation cannot forget it.
        diesel::delete(secret_keys::table).execute(&mut app.db().connect()).unwrap();
        create_source(&app, json!({"name": "am2", "kind": "alertmanager", "auth": {"type": "bearer", "token": SOURCE_TOKEN}})).await;
        let recorded: Vec<String> = secret_keys::table.select(secret_keys::key_id).load(&mut app.db().connect()).unwrap();
        assert_eq!(recorded, [app.db().secrets_key.id()]);
        let stored_form = trigger("stored", &target.uri(), json!({"tokens": [format!("sha256:…ypjc:{}", "ab".repeat(32))]}));
        let refused = app.admin(Method::POST, "/api/v1/triggers").json(&stored_form).send().await.unwrap();
        assert_eq!(expect_error(refused, 422, "validation_failed").await["field"], "tokens[0]");

        let stored = stored_text(app.db());
        for secret in ALL {
            assert!(!stored.contains(secret), "{secret} stored in clear");
        }
        if matches!(backend, Backend::Sqlite) {
            let files = sqlite_files(app.db());
            for secret in ALL {
                assert!(!contains(&files, secret), "{secret} in the database files");
            }
        }

        let app = app.restart(crate::helpers::allow_loopback).await;
        let read = app.get_json("/api/v1/webhooks").await.to_string();
        let triggers = app.get_json("/api/v1/triggers").await.to_string();
        for secret in ALL {
            assert!(!read.contains(secret) && !triggers.contains(secret), "{secret} shown");
        }
        assert!(triggers.contains("…ypjc"), "a token is shown by its end: {triggers}");

        app.post_event(json!({"type": "x.deploy", "data": {"version": "1.2"}})).await;
        let requests = received(&target, 1).await;
        let delivered = &requests[0];
        assert_eq!(header(delivered, "authorization"), format!("Bearer {BEARER}"));
        assert_eq!(header(delivered, "x-api-key"), API_KEY);
        let timestamp = header(delivered, "x-switchyard-timestamp");
        let signed = [timestamp.as_bytes(), b".", &delivered.body].concat();
        let expected = format!("sha256={}", hex::encode(hmac_sha256(HMAC.as_bytes(), &signed)));
        assert_eq!(header(delivered, "x-switchyard-signature"), expected);

        // The chat token, stored as a digest, still matches; the service gets its password.
        reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#build now", &[])).await).await;
        let requests = received(&target, 2).await;
        let chat = requests.iter().find(|request| request.url.path() == "/chat").expect("the service was called");
        let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("bot:{SERVICE_PASSWORD}"));
        assert_eq!(header(chat, "authorization"), format!("Basic {basic}"));
        let wrong = mattermost_form("#build now", &[("token", Some("not-the-token-00000000000"))]);
        assert_eq!(post_form(&app, "/hooks/outgoing", wrong).await.status(), 401);

        let source = app.get_json("/api/v1/sources").await["items"][0].clone();
        let intake = app.client.post(app.url(&path_of(&app, &source)))
            .bearer_auth(SOURCE_TOKEN).header("Content-Type", "application/json")
            .body(fixture("alertmanager-firing.json")).send().await.unwrap();
        assert_eq!(intake.status(), 200, "{}", intake.text().await.unwrap());
    }

    async fn the_start_refuses_a_key_that_did_not_seal_what_is_stored(backend: Backend) {
        let app = spawn_on(TestDatabase::create(&backend), crate::helpers::allow_loopback).await;
        app.create_webhook(webhook("sealed", "http://127.0.0.1:9/x", json!({"endpoint": {"auth": {"type": "bearer", "token": BEARER}}}))).await;
        let db = app.stop().await;

        let mut config = test_config(&db);
        let wrong = Key::generate().unwrap();
        config.secrets.key = Some(wrong.clone());
        let error = Application::build(config.clone(), 1).await.err().expect("a wrong key must not start").to_string();
        assert!(error.contains(db.secrets_key.id()) && error.contains(wrong.id()), "{error}");
        assert!(error.contains("secrets.previous_keys"), "{error}");

        // No key at all: nothing is generated over a database that has sealed secrets. (With
        // PostgreSQL the key file's place is the working directory, shared by the tests.)
        if matches!(backend, Backend::Sqlite) {
            config.secrets.key = None;
            let error = Application::build(config, 1).await.err().expect("no key must not start").to_string();
            assert!(error.contains("no secrets key") && error.contains(db.secrets_key.id()), "{error}");
            assert!(!db.dir.path().join("switchyard-secrets.key").exists());
        }

        // The right key as a previous one reads; rotation moves everything to the new key.
        let rotated = spawn_on(db, |config| {
            config.secrets.previous_keys = config.secrets.key.take().into_iter().collect();
            config.secrets.key = Some(wrong.clone());
        }).await;
        let shown = rotated.get_json("/api/v1/webhooks").await;
        assert_eq!(shown["items"][0]["endpoint"]["auth"]["token"], "…6789");
        let old_key = rotated.db().secrets_key.clone();
        let db = rotated.stop().await;
        let mut config = test_config(&db);
        config.secrets.key = Some(wrong.clone());
        config.secrets.previous_keys = vec![old_key.clone()];
        let store = switchyard::store::Store::open(db.url.clone()).await.unwrap();
        let store = switchyard::startup::secrets::open(store, &config).await.unwrap();
        assert_eq!(switchyard::startup::secrets::rotate(&store).await.unwrap(), 2, "the webhook and the managed one");
        drop(store);

        let config_old_only = { let mut c = test_config(&db); c.secrets.key = Some(old_key); c };
        assert!(Application::build(config_old_only, 1).await.is_err(), "the old key alone no longer opens anything");
        let after = spawn_on(db, |config| config.secrets.key = Some(wrong)).await;
        let webhook = &after.get_json("/api/v1/webhooks").await["items"][0];
        assert_eq!(webhook["endpoint"]["auth"]["token"], "…6789");
    }

    async fn credentials_stored_in_clear_by_an_earlier_version_are_sealed_at_the_next_start(backend: Backend) {
        let app = spawn_on(TestDatabase::create(&backend), crate::helpers::allow_loopback).await;
        let script = Script::new(vec![status(200)]);
        let target = receiver(&script).await;
        let id = app.create_webhook(webhook("legacy", &target.uri(), json!({}))).await;
        let created = create_trigger(&app, trigger("legacy", &target.uri(), json!({}))).await;
        let db = app.stop().await;
        // What a version before sealing stored (or one still running beside this one during an
        // upgrade): the whole configuration in clear.
        let mut conn = db.connect();
        let clear_webhook = json!({"name": "legacy", "endpoint": {"url": target.uri(), "auth": {"type": "bearer", "token": BEARER}}, "events": ["*"]});
        let clear_trigger = trigger("legacy", &target.uri(), json!({}));
        diesel::update(webhooks::table.find(&id)).set(webhooks::config.eq(clear_webhook.to_string())).execute(&mut conn).unwrap();
        diesel::update(triggers::table.find(created["id"].as_str().unwrap())).set(triggers::config.eq(clear_trigger.to_string())).execute(&mut conn).unwrap();
        drop(conn);

        let app = spawn_on(db, crate::helpers::allow_loopback).await;
        let stored = stored_text(app.db());
        assert!(!stored.contains(BEARER) && !stored.contains(TOKEN), "sealed and hashed at the start: {stored}");
        app.post_event(json!({"type": "x.deploy", "data": {}})).await;
        assert_eq!(header(&received(&target, 1).await[0], "authorization"), format!("Bearer {BEARER}"));
        reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#legacy now", &[])).await).await;
        let listed: Value = app.admin(Method::GET, "/api/v1/triggers").send().await.unwrap().json().await.unwrap();
        assert_eq!(listed["items"][0]["tokens"][0], "…ypjc");
    }
}

/// The binary as an operator meets it: the key generated on the first start, the one line a
/// wrong key stops the start with, and the `secrets` commands.
#[tokio::test]
async fn the_binary_generates_its_key_refuses_a_wrong_one_and_rotates() {
    use std::os::unix::fs::PermissionsExt;

    use crate::binary::{self, Server};

    let dir = tempfile::tempdir().unwrap();
    let admin = [("SWITCHYARD_ADMIN_TOKEN", "admin-token-for-the-binary-01")];
    let mut server = Server::start(dir.path(), &admin);
    let created = crate::helpers::http_client()
        .post(server.url("/api/v1/webhooks"))
        .bearer_auth(admin[0].1)
        .json(&webhook(
            "sealed",
            "https://93.184.215.14/x",
            json!({"endpoint": {"auth": {"type": "bearer", "token": BEARER}}}),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(server.terminate().success());
    let key_file = dir.path().join("switchyard-secrets.key");
    let mode = std::fs::metadata(&key_file)
        .expect("the key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let first: Key = std::fs::read_to_string(&key_file).unwrap().parse().unwrap();

    let new_key = binary::run(dir.path(), &["secrets", "new-key"], &[]);
    assert!(new_key.status.success());
    let new_key = String::from_utf8(new_key.stdout).unwrap().trim().to_owned();
    let parsed: Key = new_key.parse().expect("new-key prints a key");

    let wrong = binary::run(
        dir.path(),
        &["serve"],
        &[admin[0], ("SWITCHYARD_SECRETS_KEY", &new_key)],
    );
    let stderr = String::from_utf8_lossy(&wrong.stderr).into_owned();
    assert_eq!(wrong.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains(first.id()))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one line names the key that sealed: {stderr}"
    );

    let rotate = [
        ("SWITCHYARD_SECRETS_KEY", new_key.as_str()),
        ("SWITCHYARD_SECRETS_PREVIOUS_KEYS", first.encoded()),
    ];
    let rotated = binary::run(dir.path(), &["secrets", "rotate"], &rotate);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(String::from_utf8_lossy(&rotated.stdout).contains(parsed.id()));
    // The key file is no longer the key: without the new one, the start stops.
    let old_only = binary::run(dir.path(), &["serve"], &admin);
    assert_eq!(
        old_only.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&old_only.stderr)
    );
    let mut server = Server::start(
        dir.path(),
        &[admin[0], ("SWITCHYARD_SECRETS_KEY", &new_key)],
    );
    let listed = server.get_json("/api/v1/webhooks", admin[0].1).await;
    assert_eq!(listed["items"][0]["endpoint"]["auth"]["token"], "…6789");
    assert!(server.terminate().success());
}
