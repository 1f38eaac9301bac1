//! Incident changes take turns per incident on PostgreSQL (SPEC §10, scale-out): two processes
//! on one database take alerts for many incidents and for one shared incident at once.

use std::collections::HashMap;

use diesel::prelude::*;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;
use switchyard::store::schema::{incident_timeline, incidents};

use crate::helpers::{Backend, TestApp, spawn_app};

const KEYS: usize = 1_000;
/// Triggers for each of the many keys: one through each process, so that the two also meet
/// on each of those incidents.
const PER_KEY: usize = 2;
const SHARED: usize = 300;
const IN_FLIGHT: usize = 64;

async fn trigger(app: &TestApp, key: String) -> u16 {
    app.admin(Method::POST, "/api/v1/alerts")
        .json(&json!({"dedup_key": key, "action": "trigger", "title": "Disk full"}))
        .send()
        .await
        .map_or(0, |response| response.status().as_u16())
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
        .map(|(n, key)| trigger(if n % 2 == 0 { &a } else { &b }, key))
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
