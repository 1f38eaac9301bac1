//! A database that goes away: requests that need it are answered `503` with `Retry-After`
//! within `limits.database_wait_ms` instead of hanging, `/readyz` says so, and all of it
//! recovers when the database is back. The database is the shared PostgreSQL reached through
//! a proxy the test cuts (never the server itself); `disk_full` fills the disk under SQLite.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, Response};
use serde_json::json;
use switchyard::config::DatabaseUrl;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{Backend, TestApp, TestDatabase, allow_loopback, settled, spawn_on, webhook};
use crate::sources::{create_source, fixture, path_of, send};

mod chat;
mod disk_full;

/// A TCP proxy to PostgreSQL. Cut, it drops every open connection and closes new ones at once,
/// as a server that went away does.
pub struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (accepting, connections) = (Arc::clone(&cut), Arc::clone(&open));
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if accepting.load(Ordering::SeqCst) {
                    continue;
                }
                let upstream = upstream.clone();
                connections.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy { port, cut, open }
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.open.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// A server on a fresh PostgreSQL database reached through a proxy, and the proxy; `None`
/// without PostgreSQL. Requests wait at most 500 ms for the database.
pub async fn spawn_behind_proxy(
    adjust: impl FnOnce(&mut switchyard::config::Config),
) -> Option<(TestApp, Proxy)> {
    let backend = Backend::postgres()?;
    let db = TestDatabase::create(&backend);
    // The proxy's port must be known before the app starts: it connects at once.
    let (upstream, _) = through(&db, 0);
    let proxy = Proxy::start(upstream).await;
    let (_, proxied) = through(&db, proxy.port);
    let app = spawn_on(db, |config| {
        config.database_url = proxied;
        config.limits.database_wait_ms = WAIT_MS;
        adjust(config);
    })
    .await;
    Some((app, proxy))
}

/// `limits.database_wait_ms` in these tests.
const WAIT_MS: u64 = 500;
/// What "not held past the wait" allows: the wait, libpq's least connect timeout (2 s) and
/// a generous margin for a loaded machine.
pub const NOT_HELD_PAST: Duration = Duration::from_secs(8);

/// The database's URL with the proxy's port in place of the server's.
fn through(db: &TestDatabase, port: u16) -> (String, DatabaseUrl) {
    let DatabaseUrl::Postgres(url) = &db.url else {
        panic!("a PostgreSQL database");
    };
    let mut url = url::Url::parse(url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    url.set_port(Some(port)).unwrap();
    (upstream, DatabaseUrl::Postgres(url.to_string()))
}

pub async fn post_event(app: &TestApp) -> Response {
    app.admin(Method::POST, "/api/v1/events")
        .json(&json!({"type": "x.outage", "subject": "db", "data": {}}))
        .send()
        .await
        .unwrap()
}

pub async fn assert_unavailable(response: Response) {
    assert_eq!(response.status(), 503, "{:?}", response.text().await);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
}

/// Polls `check` until it holds, for at most `within`.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A DATAGERRY document to the source at `path` (SPEC §4.5).
async fn to_source(app: &TestApp, path: &str) -> Response {
    let json = [("Content-Type", "application/json")];
    send(
        app,
        Method::POST,
        path,
        &json,
        fixture("datagerry-create.json"),
    )
    .await
}

async fn readyz(app: &TestApp) -> u16 {
    let started = Instant::now();
    let status = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status();
    assert!(
        started.elapsed() < NOT_HELD_PAST,
        "/readyz answered after {:?}",
        started.elapsed()
    );
    status.as_u16()
}

// The proxy runs on the test's runtime while the server starts through it: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_is_answered_503_and_comes_back() {
    let Some((app, proxy)) = spawn_behind_proxy(allow_loopback).await else {
        return;
    };
    // Slow answers keep the first deliveries in flight across the cut: their outcomes are
    // stored only once the database is back.
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_delay(Duration::from_millis(1500)))
        .mount(&receiver)
        .await;
    app.create_webhook(webhook("slow", &receiver.uri(), json!({})))
        .await;
    let source = create_source(&app, json!({"name": "cmdb", "kind": "datagerry"})).await;
    let intake = path_of(&app, &source);
    let mut accepted = Vec::new();
    for _ in 0..3 {
        let response = post_event(&app).await;
        assert_eq!(response.status(), 202);
        accepted.push(
            response.json::<serde_json::Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    proxy.cut();
    let cut_at = Instant::now();
    assert_unavailable(post_event(&app).await).await;
    let read = app
        .admin(Method::GET, "/api/v1/events")
        .send()
        .await
        .unwrap();
    assert_unavailable(read).await;
    assert_eq!(readyz(&app).await, 503);
    let sent = to_source(&app, &intake).await;
    assert_unavailable(sent).await;
    // Long enough for the deliveries in flight to finish while the database is away.
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(cut_at.elapsed())).await;

    proxy.restore();
    let back = eventually(Duration::from_secs(20), || async {
        post_event(&app).await.status() == 202
    })
    .await;
    assert!(back, "writes resume once the database is back");
    assert_eq!(readyz(&app).await, 200);
    let listed = app.get_json("/api/v1/events").await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        4,
        "nothing answered 503 was stored"
    );
    for id in &accepted {
        // Well before the claims' 90 s leases end: outcomes that could not be stored during
        // the cut were kept and stored once it was back.
        let deliveries = app.deliveries_of(id, settled).await;
        assert_eq!(deliveries[0]["status"], "succeeded", "{deliveries:#?}");
    }
    let accepted_intake = to_source(&app, &intake).await;
    assert_eq!(accepted_intake.status(), 200);
}
