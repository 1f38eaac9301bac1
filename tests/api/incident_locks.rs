//! Incident changes take turns per incident on PostgreSQL (SPEC §10, scale-out): two processes
//! on one database take alerts for many incidents and for one shared incident at once; and an
//! alert waits for its own incident's turn only.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;
use switchyard::store::Locks;
use switchyard::store::schema::{incident_timeline, incidents};

use crate::helpers::{Backend, TestApp, spawn_app};

const KEYS: usize = 1_000;
/// Triggers for each of the many keys: one through each process, so that the two also meet
/// on each of those incidents.
const PER_KEY: usize = 2;
const SHARED: usize = 300;
const IN_FLIGHT: usize = 64;

/// Generous: each step takes milliseconds unless something waits for a lock it should not.
const PATIENCE: Duration = Duration::from_secs(60);

/// The trigger's status (0 when there was no answer). Owns what it needs, so it can be spawned.
fn trigger(app: &TestApp, key: &str) -> impl Future<Output = u16> + Send + use<> {
    let sent = app
        .admin(Method::POST, "/api/v1/alerts")
        .json(&json!({"dedup_key": key, "action": "trigger", "title": "Disk full"}))
        .send();
    async move { sent.await.map_or(0, |response| response.status().as_u16()) }
}

#[tokio::test]
async fn two_processes_apply_alerts_for_many_incidents_and_one_shared_exactly_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let a = spawn_app(backend).await;
    let b = a.spawn_beside().await;

    // The shared key's triggers are spread among the others, all in flight together.
    let mut alerts: Vec<(usize, String)> = (0..KEYS * PER_KEY)
        .map(|n| (n, format!("host-{}/disk", n / PER_KEY)))
        .collect();
    for n in 0..SHARED {
        alerts.insert(n * alerts.len() / SHARED, (n, "shared/disk".to_owned()));
    }
    let statuses: Vec<u16> = futures_util::stream::iter(alerts)
        .map(|(n, key)| trigger(if n % 2 == 0 { &a } else { &b }, &key))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;

    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for status in statuses {
        *by_status.entry(status).or_default() += 1;
    }
    assert_eq!(
        by_status,
        HashMap::from([(202, KEYS * PER_KEY + SHARED)]),
        "every alert accepted: no 5xx, no deadlock reaching a client"
    );
    let mut conn = a.db().connect();
    let stored: Vec<(String, Option<String>, i64, i64)> = incidents::table
        .select((
            incidents::id,
            incidents::dedup_key,
            incidents::occurrences,
            incidents::number,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(stored.len(), KEYS + 1, "one incident per key");
    let mut numbers: Vec<i64> = stored.iter().map(|(_, _, _, number)| *number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=(KEYS + 1) as i64).collect::<Vec<_>>());
    let entries: HashMap<String, i64> = incident_timeline::table
        .group_by(incident_timeline::incident_id)
        .select((incident_timeline::incident_id, diesel::dsl::count_star()))
        .load(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    for (id, key, occurrences, _) in &stored {
        let expected = if key.as_deref() == Some("shared/disk") {
            SHARED
        } else {
            PER_KEY
        };
        assert_eq!(
            *occurrences, expected as i64,
            "{key:?}: each alert counted once"
        );
        assert_eq!(
            entries[id], expected as i64,
            "{key:?}: one timeline entry per alert"
        );
    }
    drop(b);
}

#[tokio::test]
async fn an_alert_waits_for_its_own_incident_only() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = spawn_app(backend).await;
    let url = app.db().url_string();
    let mut observer = PgConnection::establish(&url).unwrap();
    let deadlocks_before = deadlocks(&mut observer);

    // Another process's transaction holds the held key's incident, as a batch of its would.
    let mut holder = PgConnection::establish(&url).unwrap();
    let held_key = Locks::dedup_key("held/disk").keys()[0];
    holder
        .batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({held_key});"))
        .unwrap();
    let held = tokio::spawn(trigger(&app, "held/disk"));
    // Only once its batch waits for the lock is the other alert sure to be in another batch.
    tokio::time::timeout(PATIENCE, async {
        while waiting_for_advisory_locks(&mut observer) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the alert for the held incident waits for its lock");

    let free = tokio::time::timeout(PATIENCE, trigger(&app, "free/disk")).await;
    assert_eq!(free, Ok(202), "an alert for another incident does not wait");
    assert!(
        !held.is_finished(),
        "the alert for the held incident waits its turn"
    );

    holder.batch_execute("ROLLBACK").unwrap();
    let held = tokio::time::timeout(PATIENCE, held).await;
    assert_eq!(held.map(Result::ok), Ok(Some(202)), "its turn came");

    // A backend reports its deadlocks to the statistics when idle a while or when it exits:
    // stop the server and wait for its connections to end before reading them again.
    drop(holder);
    let _db = app.stop().await;
    tokio::time::timeout(PATIENCE, async {
        while other_backends(&mut observer) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the server's connections end");
    assert_eq!(deadlocks(&mut observer), deadlocks_before, "no deadlock");
}

fn deadlocks(conn: &mut PgConnection) -> i64 {
    diesel::select(sql::<BigInt>(
        "(SELECT deadlocks FROM pg_stat_database WHERE datname = current_database())",
    ))
    .get_result(conn)
    .unwrap()
}

fn waiting_for_advisory_locks(conn: &mut PgConnection) -> i64 {
    diesel::select(sql::<BigInt>(
        "(SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
          WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database())",
    ))
    .get_result(conn)
    .unwrap()
}

fn other_backends(conn: &mut PgConnection) -> i64 {
    diesel::select(sql::<BigInt>(
        "(SELECT count(*) FROM pg_stat_activity \
          WHERE datname = current_database() AND pid <> pg_backend_pid())",
    ))
    .get_result(conn)
    .unwrap()
}
