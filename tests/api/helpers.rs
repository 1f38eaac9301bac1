//! `spawn_app` and friends: the real server on a random loopback port, with its own database.

use std::sync::Once;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use switchyard::config::{Config, DatabaseUrl, Secret, SecretsConfig};
use switchyard::secrets::Key;
use switchyard::startup::Application;
use switchyard::store::AnyConnection;
use switchyard::store::connection::ConnectionManager;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
const POSTGRES_URL_VAR: &str = "SWITCHYARD_TEST_POSTGRES_URL";

/// Which database a test runs against.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The server URL from `SWITCHYARD_TEST_POSTGRES_URL`; each test creates its own database.
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend if configured; otherwise says once that those variants are skipped.
    pub fn postgres() -> Option<Backend> {
        static NOTICE: Once = Once::new();
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                NOTICE.call_once(|| {
                    use std::io::Write;
                    // Written to the process's stderr directly so the test harness does not capture it.
                    let _ = writeln!(
                        std::io::stderr(),
                        "NOTE: {POSTGRES_URL_VAR} is not set: the PostgreSQL variants of the tests were skipped"
                    );
                });
                None
            }
        }
    }
}

/// Runs each test body once on SQLite and once on PostgreSQL (when configured).
#[macro_export]
macro_rules! backend_tests {
    ($(async fn $name:ident($backend:ident: Backend) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($backend: $crate::helpers::Backend) $body

                #[tokio::test]
                async fn sqlite() {
                    run($crate::helpers::Backend::Sqlite).await
                }

                #[tokio::test]
                async fn postgres() {
                    if let Some(backend) = $crate::helpers::Backend::postgres() {
                        run(backend).await
                    }
                }
            }
        )*
    };
}

/// A fresh database: a SQLite file in a temporary folder, or a PostgreSQL database created for
/// this test and dropped with it.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    pub dir: TempDir,
    /// The key every server on this database seals secrets with.
    pub secrets_key: Key,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn create(backend: &Backend) -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary folder");
        match backend {
            Backend::Sqlite => TestDatabase::sqlite_in(dir),
            Backend::Postgres(server_url) => {
                let name = format!("switchyard_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(server_url).expect("PostgreSQL server");
                admin
                    .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .expect("create test database");
                let mut url = url::Url::parse(server_url).expect("PostgreSQL URL");
                url.set_path(&name);
                TestDatabase {
                    url: DatabaseUrl::Postgres(url.to_string()),
                    dir,
                    secrets_key: Key::generate().expect("a secrets key"),
                    postgres: Some((server_url.clone(), name)),
                }
            }
        }
    }

    /// A SQLite database in `dir`, which the test prepared (a small file system of its own).
    pub fn sqlite_in(dir: TempDir) -> TestDatabase {
        TestDatabase {
            url: DatabaseUrl::Sqlite(dir.path().join("switchyard.db")),
            dir,
            secrets_key: Key::generate().expect("a secrets key"),
            postgres: None,
        }
    }

    /// A direct connection, for asserting on what was stored.
    pub fn connect(&self) -> AnyConnection {
        ConnectionManager::new(self.url.clone())
            .open()
            .expect("connect to the test database")
    }

    pub fn url_string(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((server_url, name)) = &self.postgres
            && let Ok(mut admin) = PgConnection::establish(server_url)
        {
            let _ =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// The configuration tests start from: a random port, quiet logs, a known admin token.
pub fn test_config(db: &TestDatabase) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        database_url: db.url.clone(),
        admin_token: Some(Secret::new(ADMIN_TOKEN)),
        secrets: SecretsConfig {
            key: Some(db.secrets_key.clone()),
            ..SecretsConfig::default()
        },
        ..Config::default()
    }
}

/// A running server. Dropping it stops the server, waits for it, then drops its database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    server: Option<ServerThread>,
    db: Option<TestDatabase>,
}

struct ServerThread {
    shutdown: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl ServerThread {
    /// Stops the server the way SIGTERM does and waits for it to finish.
    fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.thread.join();
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the server with `adjust` applied to the test configuration.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_on(TestDatabase::create(&backend), adjust).await
}

/// A server whose outbound requests may reach loopback, where the tests' receivers listen.
pub async fn spawn_app_reaching_loopback(backend: Backend) -> TestApp {
    spawn_app_with(backend, allow_loopback).await
}

pub fn allow_loopback(config: &mut Config) {
    config.outbound.allowed_cidrs =
        vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
}

/// Starts a server on an existing database. It runs on its own thread and runtime, as it
/// would in its own process.
pub async fn spawn_on(db: TestDatabase, adjust: impl FnOnce(&mut Config)) -> TestApp {
    init_test_logging();
    let mut config = test_config(&db);
    adjust(&mut config);
    let (ready_tx, ready_rx) = oneshot::channel();
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            match Application::build(config, 1).await {
                Ok(app) => {
                    let _ = ready_tx.send(Ok(app.port()));
                    let _ = app
                        .run_until_stopped(async {
                            let _ = shutdown_rx.await;
                        })
                        .await;
                }
                Err(error) => {
                    let _ = ready_tx.send(Err(error.to_string()));
                }
            }
        });
    });
    let port = ready_rx
        .await
        .expect("server thread")
        .unwrap_or_else(|error| panic!("server failed to start: {error}"));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: http_client(),
        server: Some(ServerThread {
            shutdown: shutdown_tx,
            thread,
        }),
        db: Some(db),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

impl TestApp {
    pub fn db(&self) -> &TestDatabase {
        self.db
            .as_ref()
            .expect("the app owns its database until restarted")
    }

    /// Stops the server gracefully and starts a new one on the same database.
    pub async fn restart(self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        spawn_on(self.stop().await, adjust).await
    }

    /// Stops the server gracefully; the database stays.
    pub async fn stop(mut self) -> TestDatabase {
        if let Some(server) = self.server.take() {
            tokio::task::spawn_blocking(move || server.stop())
                .await
                .expect("stop the server");
        }
        self.db.take().expect("database")
    }

    /// A second server on this one's database, on its own thread and runtime as a second
    /// process would be. The database stays this app's: drop the second one first.
    pub async fn spawn_beside(&self) -> TestApp {
        let db = TestDatabase {
            url: self.db().url.clone(),
            dir: tempfile::tempdir().expect("temporary folder"),
            // Processes sharing a database share its secrets key.
            secrets_key: self.db().secrets_key.clone(),
            postgres: None,
        };
        spawn_on(db, |_| {}).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request with the admin token.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.with_token(method, path, ADMIN_TOKEN)
    }

    pub fn with_token(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// Creates a token through the API and returns `(id, secret)`.
    pub async fn create_token(&self, name: &str, scope: &str) -> (String, String) {
        let response = self
            .admin(Method::POST, "/api/v1/tokens")
            .json(&serde_json::json!({ "name": name, "scope": scope }))
            .send()
            .await
            .expect("request");
        let body = expect_json(response, 201).await;
        (
            body["id"].as_str().expect("id").to_owned(),
            body["token"].as_str().expect("token").to_owned(),
        )
    }

    /// Creates a webhook and returns its id.
    pub async fn create_webhook(&self, spec: Value) -> String {
        let response = self
            .admin(Method::POST, "/api/v1/webhooks")
            .json(&spec)
            .send()
            .await
            .expect("request");
        expect_json(response, 201).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Posts an event and returns its id.
    pub async fn post_event(&self, event: Value) -> String {
        let response = self
            .admin(Method::POST, "/api/v1/events")
            .json(&event)
            .send()
            .await
            .expect("request");
        expect_json(response, 202).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        expect_json(
            self.admin(Method::GET, path).send().await.expect("request"),
            200,
        )
        .await
    }

    /// The deliveries of an event, with their attempts, once `done` holds for all of them.
    pub async fn deliveries_of(&self, event_id: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let page = self
                .get_json(&format!("/api/v1/deliveries?event={event_id}"))
                .await;
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if !items.is_empty() && items.iter().all(&done) {
                let mut detailed = Vec::new();
                for item in items {
                    detailed.push(
                        self.get_json(&format!(
                            "/api/v1/deliveries/{}",
                            item["id"].as_str().unwrap()
                        ))
                        .await,
                    );
                }
                return detailed;
            }
            assert!(
                Instant::now() < deadline,
                "deliveries of {event_id} never settled: {items:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A webhook for `object.*` and `x.*` events to `url`; `extra` adds fields (and endpoint
/// options under `endpoint`).
pub fn webhook(name: &str, url: &str, extra: Value) -> Value {
    let mut spec =
        serde_json::json!({"name": name, "endpoint": {"url": url}, "events": ["object.*", "x.*"]});
    if let Value::Object(fields) = extra {
        for (key, value) in fields {
            if key == "endpoint" {
                for (k, v) in value.as_object().unwrap() {
                    spec["endpoint"][k] = v.clone();
                }
            } else {
                spec[key] = value;
            }
        }
    }
    spec
}

/// A delivery that will not change any more.
pub fn settled(delivery: &Value) -> bool {
    delivery["status"] != "pending"
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text}"))
}

/// Asserts an error answer in the shape of SPEC §2 and returns its `error` object.
pub async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    let body = expect_json(response, status).await;
    let error = body["error"].clone();
    assert_eq!(error["code"], code, "unexpected error: {body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
    error
}

fn init_test_logging() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            switchyard::telemetry::init_logging(&switchyard::config::LogConfig::default());
        }
    });
}

/// Waits until `mock` has received `count` requests and returns them.
pub async fn received(mock: &wiremock::MockServer, count: usize) -> Vec<wiremock::Request> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let requests = mock.received_requests().await.unwrap_or_default();
        if requests.len() >= count {
            return requests;
        }
        assert!(
            Instant::now() < deadline,
            "the receiver got {} of {count} requests",
            requests.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A header of a received request, as text.
pub fn header<'a>(request: &'a wiremock::Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// An HTTP client for tests.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::new()
}
