//! A database that goes away: requests that need it are answered `503` with `Retry-After`
//! within `limits.database_wait_ms` instead of hanging, `/readyz` says so, and all of it
//! recovers when the database is back. The database is the shared PostgreSQL reached through
//! a proxy the test cuts (never the server itself).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, Response};
use serde_json::json;
use switchyard::config::DatabaseUrl;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{Backend, TestApp, TestDatabase, spawn_on};

/// A TCP proxy to PostgreSQL. Cut, it drops every open connection and closes new ones at once,
/// as a server that went away does.
struct Proxy {
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

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.open.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

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

async fn post_event(app: &TestApp) -> Response {
    app.admin(Method::POST, "/api/v1/events")
        .json(&json!({"type": "x.outage", "subject": "db", "data": {}}))
        .send()
        .await
        .unwrap()
}

async fn assert_unavailable(response: Response) {
    assert_eq!(response.status(), 503, "{:?}", response.text().await);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
}

/// Polls `check` until it holds, for at most `within`.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
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

// The proxy runs on the test's runtime while the server starts through it: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_is_answered_503_and_comes_back() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let db = TestDatabase::create(&backend);
    // The proxy's port must be known before the app starts: it connects at once.
    let (upstream, _) = through(&db, 0);
    let proxy = Proxy::start(upstream).await;
    let (_, proxied) = through(&db, proxy.port);
    let app = spawn_on(db, |config| {
        config.database_url = proxied;
        config.limits.database_wait_ms = 500;
    })
    .await;
    assert_eq!(post_event(&app).await.status(), 202);

    proxy.cut();
    assert_unavailable(post_event(&app).await).await;
    let read = app
        .admin(Method::GET, "/api/v1/events")
        .send()
        .await
        .unwrap();
    assert_unavailable(read).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    proxy.restore();
    let back = eventually(Duration::from_secs(20), || async {
        post_event(&app).await.status() == 202
    })
    .await;
    assert!(back, "writes resume once the database is back");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let listed = app.get_json("/api/v1/events").await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        2,
        "nothing answered 503 was stored"
    );
}
