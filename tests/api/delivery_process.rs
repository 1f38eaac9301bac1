//! Delivery across process boundaries: a kill -9 mid-delivery, two processes on one PostgreSQL
//! database, a graceful stop with a request in flight.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::MockServer;

use crate::binary::Server;
use crate::helpers::{Backend, TestDatabase, received};
use crate::receiver::{Script, receiver, status};

const ADMIN: &str = "process-test-admin-token";

fn env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SWITCHYARD_ADMIN_TOKEN", ADMIN.to_owned()),
        (
            "SWITCHYARD_OUTBOUND_ALLOWED_CIDRS",
            "127.0.0.0/8".to_owned(),
        ),
        ("SWITCHYARD_DATABASE_URL", url.to_owned()),
    ]
}

/// `switchyard serve` as a process on `db`, reaching loopback, with `extra` settings.
pub fn start(db: &TestDatabase, extra: &[(&'static str, &str)]) -> Server {
    let mut vars = env(&db.url_string());
    vars.extend(
        extra
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned())),
    );
    let borrowed: Vec<(&str, &str)> = vars
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    Server::start(db.dir.path(), &borrowed)
}

/// Posts `body` to `path` as the admin and returns the JSON answer, which must be a success.
pub async fn post(client: &reqwest::Client, server: &Server, path: &str, body: Value) -> Value {
    let response = client
        .post(server.url(path))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn create_webhook(client: &reqwest::Client, server: &Server, receiver: &MockServer) {
    let spec = json!({"name": "receiver", "endpoint": {"url": receiver.uri()}, "events": ["x.*"]});
    post(client, server, "/api/v1/webhooks", spec).await;
}

async fn distinct_deliveries(receiver: &MockServer) -> (usize, usize) {
    let requests = receiver.received_requests().await.unwrap_or_default();
    let ids: HashSet<String> = requests
        .iter()
        .map(|r| {
            r.headers
                .get("x-switchyard-delivery")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    (ids.len(), requests.len())
}

async fn wait_for_distinct(receiver: &MockServer, expected: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let (distinct, total) = distinct_deliveries(receiver).await;
        if distinct >= expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {distinct} of {expected} deliveries arrived ({total} requests)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_kill_9_mid_delivery_loses_nothing() {
    let db = TestDatabase::create(&Backend::Sqlite);
    let script = Script::new(vec![status(200).set_delay(Duration::from_millis(100))]);
    let slow = receiver(&script).await;
    let client = crate::helpers::http_client();
    let mut first = start(&db, &[]);
    create_webhook(&client, &first, &slow).await;
    const EVENTS: usize = 300;
    for n in 0..EVENTS {
        post(
            &client,
            &first,
            "/api/v1/events",
            json!({"type": "x.load", "data": {"n": n}}),
        )
        .await;
    }
    let (before_kill, _) = distinct_deliveries(&slow).await;
    assert!(
        before_kill < EVENTS,
        "the receiver was too fast to kill the process mid-way"
    );

    first.kill();
    let _second = start(&db, &[]);

    wait_for_distinct(&slow, EVENTS, Duration::from_secs(60)).await;
    let (distinct, total) = distinct_deliveries(&slow).await;
    assert_eq!(distinct, EVENTS);
    assert!(total >= EVENTS);
}

#[tokio::test]
async fn two_processes_on_one_postgresql_database_send_each_delivery_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let db = TestDatabase::create(&backend);
    let script = Script::new(vec![status(200)]);
    let target = receiver(&script).await;
    let client = crate::helpers::http_client();
    // Few places per process: most deliveries go through the shared queue, not the direct path.
    let tight = [
        ("SWITCHYARD_OUTBOUND_MAX_IN_FLIGHT", "2"),
        ("SWITCHYARD_OUTBOUND_MAX_IN_FLIGHT_PER_HOST", "2"),
    ];
    let a = start(&db, &tight);
    let b = start(&db, &tight);
    create_webhook(&client, &a, &target).await;
    const EVENTS: usize = 200;

    let posts = (0..EVENTS).map(|n| {
        let server = if n % 2 == 0 { &a } else { &b };
        post(
            &client,
            server,
            "/api/v1/events",
            json!({"type": "x.shared", "data": {"n": n}}),
        )
    });
    futures_util::future::join_all(posts).await;

    wait_for_distinct(&target, EVENTS, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (distinct, total) = distinct_deliveries(&target).await;
    assert_eq!(
        (distinct, total),
        (EVENTS, EVENTS),
        "every delivery exactly once"
    );
}

#[tokio::test]
async fn a_graceful_stop_lets_an_in_flight_delivery_finish_and_records_it() {
    let db = TestDatabase::create(&Backend::Sqlite);
    let script = Script::new(vec![status(200).set_delay(Duration::from_millis(1500))]);
    let slow = receiver(&script).await;
    let client = crate::helpers::http_client();
    let mut server = start(&db, &[]);
    create_webhook(&client, &server, &slow).await;
    let event = post(
        &client,
        &server,
        "/api/v1/events",
        json!({"type": "x.slow", "data": {}}),
    )
    .await;
    while script.arrivals().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let exit = server.terminate();

    assert!(exit.success(), "{}", server.log());
    let restarted = start(&db, &[]);
    let path = format!("/api/v1/deliveries?event={}", event["id"].as_str().unwrap());
    let deliveries = restarted.get_json(&path, ADMIN).await;
    assert_eq!(
        deliveries["items"][0]["status"], "succeeded",
        "{deliveries}"
    );
    assert_eq!(deliveries["items"][0]["attempts"], 1);
    assert_eq!(received(&slow, 1).await.len(), 1);
}
