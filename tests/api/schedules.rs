//! Schedules over HTTP: the resource and its checks, firing on time through the real scheduler,
//! running by hand outside windows, runs with their deliveries, deletion, and two processes
//! on one PostgreSQL database firing each due time once, one of them killed mid-run.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use switchyard::store::schema::{schedule_runs, schedules};
use wiremock::MockServer;

use crate::backend_tests;
use crate::binary;
use crate::delivery_process::{post, start};
use crate::helpers::{
    Backend, TestApp, TestDatabase, expect_error, expect_json, http_client,
    spawn_app_reaching_loopback,
};
use crate::receiver::{Script, receiver, status};

async fn ok_receiver() -> MockServer {
    receiver(&Script::new(vec![status(200)])).await
}

async fn teams_webhook(app: &TestApp, target: &MockServer) -> String {
    app.create_webhook(
        json!({"name": "teams", "endpoint": {"url": target.uri()}, "events": ["schedule.fired"]}),
    )
    .await
}

async fn create(app: &TestApp, spec: Value) -> reqwest::Response {
    app.admin(Method::POST, "/api/v1/schedules")
        .json(&spec)
        .send()
        .await
        .unwrap()
}

/// The `data` of the `schedule.fired` events `target` received, once `count` arrived.
async fn fired(target: &MockServer, count: usize, patience: Duration) -> Vec<Value> {
    let deadline = Instant::now() + patience;
    loop {
        let requests = target.received_requests().await.unwrap_or_default();
        if requests.len() >= count {
            return requests
                .iter()
                .map(|request| {
                    serde_json::from_slice::<Value>(&request.body).unwrap()["data"].clone()
                })
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} firings arrived",
            requests.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

backend_tests! {
    async fn a_schedule_shows_its_next_five_due_times_and_every_change_is_audited(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        let webhook = teams_webhook(&app, &target).await;

        let spec = json!({"name": "standup", "webhook": webhook, "cron": "30 8 * * MON-FRI", "timezone": "Europe/Berlin",
                          "payload": {"text": "Stand-up in 5 minutes"}});
        let created = expect_json(create(&app, spec.clone()).await, 201).await;
        let id = created["id"].as_str().unwrap();
        let next: Vec<&str> = created["next_due"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(next.len(), 5);
        assert!(next.windows(2).all(|pair| pair[0] < pair[1]));
        for due in &next {
            let local = chrono::DateTime::parse_from_rfc3339(due).unwrap().with_timezone(&chrono_tz::Europe::Berlin);
            assert_eq!(local.format("%H:%M").to_string(), "08:30");
            assert!(!["Sat", "Sun"].contains(&local.format("%a").to_string().as_str()));
        }
        assert_eq!(created["missed"], "once");
        assert!(created["last_fired_at"].is_null());

        let mut paused = spec.clone();
        paused["enabled"] = json!(false);
        let replaced = app.admin(Method::PUT, &format!("/api/v1/schedules/{id}")).json(&paused).send().await.unwrap();
        let replaced = expect_json(replaced, 200).await;
        assert_eq!(replaced["next_due"], json!([]), "nothing is due while disabled");
        let duplicate = create(&app, spec).await;
        expect_error(duplicate, 409, "conflict").await;
        let listed = app.get_json("/api/v1/schedules").await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        let deleted = app.admin(Method::DELETE, &format!("/api/v1/schedules/{id}")).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        let gone = app.admin(Method::GET, &format!("/api/v1/schedules/{id}")).send().await.unwrap();
        expect_error(gone, 404, "not_found").await;

        let audit = app.get_json("/api/v1/audit").await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        for action in ["schedule.created", "schedule.updated", "schedule.deleted"] {
            assert!(actions.contains(&action), "{actions:?}");
        }
    }

    async fn bad_schedules_are_refused_naming_the_field(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        let webhook = teams_webhook(&app, &target).await;
        let base = json!({"name": "n", "webhook": webhook, "every": "1h"});
        let cases = [
            ("cron", json!({"every": null, "cron": "every monday"})),
            ("cron", json!({"every": null, "cron": "0 9 31 2 *"})),
            ("timezone", json!({"timezone": "Europe/Atlantis"})),
            ("every", json!({"every": "0s"})),
            ("windows[0].to", json!({"windows": [{"days": ["mon"], "from": "18:00", "to": "08:00"}]})),
            ("payload.text", json!({"payload": {"text": "{{#if}}never closed"}})),
            ("webhook", json!({"webhook": "whk_missing"})),
            ("webhook", json!({"webhook": "whk_system_chat_replies"})),
            ("missed", json!({"missed": "sometimes"})),
        ];
        for (field, change) in cases {
            let mut spec = base.clone();
            for (key, value) in change.as_object().unwrap() {
                spec[key] = value.clone();
            }
            let error = expect_error(create(&app, spec).await, 422, "validation_failed").await;
            assert_eq!(error["field"], field, "{change}: {error}");
        }
        assert_eq!(app.get_json("/api/v1/schedules").await["items"], json!([]), "nothing was stored");
    }

    async fn a_schedule_fires_on_time_through_the_scheduler_and_keeps_its_webhook(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        let webhook = teams_webhook(&app, &target).await;
        app.admin(Method::PUT, "/api/v1/vars/report_url").json(&json!({"value": "https://reports.example/daily"})).send().await.unwrap();
        let spec = json!({"name": "ticker", "webhook": webhook, "every": "1s",
                          "payload": {"text": "Report: {{vars.report_url}}", "due": "{{due_at}}"}});
        let id = expect_json(create(&app, spec).await, 201).await["id"].as_str().unwrap().to_owned();

        let data = fired(&target, 2, Duration::from_secs(10)).await;
        assert_eq!(data[0]["schedule"]["name"], "ticker");
        assert_eq!(data[0]["payload"]["text"], "Report: https://reports.example/daily");
        assert_eq!(data[0]["payload"]["due"], data[0]["due_at"]);
        assert_ne!(data[0]["due_at"], data[1]["due_at"]);

        let refused = app.admin(Method::DELETE, &format!("/api/v1/webhooks/{webhook}")).send().await.unwrap();
        let error = expect_error(refused, 409, "conflict").await;
        assert!(error["message"].as_str().unwrap().contains("ticker"), "{error}");

        let deleted = app.admin(Method::DELETE, &format!("/api/v1/schedules/{id}")).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        let stopped_at = chrono::Utc::now();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let events = app.get_json("/api/v1/events?type=schedule.fired&limit=500").await;
        let after: Vec<&Value> = events["items"].as_array().unwrap().iter()
            .filter(|event| chrono::DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap()).unwrap() > stopped_at)
            .collect();
        assert!(after.is_empty(), "fired after it was deleted: {after:?}");
    }

    async fn run_fires_now_outside_every_window_and_runs_show_the_delivery(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        let webhook = teams_webhook(&app, &target).await;
        // A window of one minute a week, in the past of every test run: nothing is due soon.
        let spec = json!({"name": "on-demand", "webhook": webhook, "every": "1m", "end_at": "2026-01-01T00:00:00Z",
                          "windows": [{"days": ["sun"], "from": "03:00", "to": "03:01"}], "payload": {"text": "{{schedule.name}}"}});
        let id = expect_json(create(&app, spec).await, 201).await["id"].as_str().unwrap().to_owned();

        let run = app.admin(Method::POST, &format!("/api/v1/schedules/{id}/run")).send().await.unwrap();
        let run = expect_json(run, 202).await;
        assert_eq!(run["manual"], true);
        let again = app.admin(Method::POST, &format!("/api/v1/schedules/{id}/run")).send().await.unwrap();
        expect_json(again, 202).await;

        let data = fired(&target, 2, Duration::from_secs(10)).await;
        assert_eq!(data[0]["payload"]["text"], "on-demand");
        assert_eq!(data[0]["manual"], true);
        let runs = loop {
            let runs = app.get_json(&format!("/api/v1/schedules/{id}/runs")).await;
            if runs["items"][0]["delivery"]["status"] == "succeeded" {
                break runs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(runs["items"].as_array().unwrap().len(), 2);
        assert_eq!(runs["items"][1]["event_id"], run["event_id"], "newest first");
        let mut schedule = app.get_json(&format!("/api/v1/schedules/{id}")).await;
        let fired_at = schedule["last_fired_at"].clone();
        assert!(fired_at.is_string());
        for computed in ["id", "next_due", "last_fired_at", "created_at", "updated_at"] {
            schedule.as_object_mut().unwrap().remove(computed);
        }
        schedule["description"] = json!("on demand only");
        let replaced = app.admin(Method::PUT, &format!("/api/v1/schedules/{id}")).json(&schedule).send().await.unwrap();
        assert_eq!(expect_json(replaced, 200).await["last_fired_at"], fired_at, "a change keeps when it last fired");
        let missing = app.admin(Method::POST, "/api/v1/schedules/sch_missing/run").send().await.unwrap();
        expect_error(missing, 404, "not_found").await;
    }

    async fn webhooks_take_up_to_a_hundred_retries_as_vergeos_does(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        let hook = |attempts: u32| json!({"name": format!("v{attempts}"), "endpoint": {"url": target.uri()}, "events": ["x.*"], "max_attempts": attempts});
        app.create_webhook(hook(101)).await;
        let refused = app.admin(Method::POST, "/api/v1/webhooks").json(&hook(102)).send().await.unwrap();
        let error = expect_error(refused, 422, "validation_failed").await;
        assert_eq!(error["field"], "max_attempts");
        assert!(error["message"].as_str().unwrap().contains("retries = attempts − 1"), "{error}");
    }

    async fn check_config_compiles_every_stored_schedule(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        let webhook = teams_webhook(&app, &target).await;
        expect_json(create(&app, json!({"name": "nightly", "webhook": webhook, "cron": "0 2 * * *"})).await, 201).await;
        let dir = tempfile::tempdir().unwrap();
        let database = app.db().url_string();
        let check = || binary::run(dir.path(), &["check-config"], &[("SWITCHYARD_DATABASE_URL", &database)]);
        let good = check();
        let broken = json!({"name": "nightly", "webhook": webhook, "cron": "0 2 * * * * *"}).to_string();
        diesel::update(schedules::table.filter(schedules::name.eq("nightly")))
            .set(schedules::config.eq(broken))
            .execute(&mut app.db().connect())
            .unwrap();
        let bad = check();

        assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
        assert_eq!(bad.status.code(), Some(2), "a stored template that does not compile is invalid configuration");
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(stderr.contains("schedule `nightly`") && stderr.contains("cron"), "{stderr}");
    }
}

#[tokio::test]
async fn two_processes_on_one_postgresql_database_fire_each_due_time_once_even_when_one_is_killed()
{
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let db = TestDatabase::create(&backend);
    let target = ok_receiver().await;
    let client = http_client();
    let mut a = start(&db, &[]);
    let b = start(&db, &[]);
    let webhook = post(&client, &a, "/api/v1/webhooks", json!({"name": "receiver", "endpoint": {"url": target.uri()}, "events": ["schedule.fired"]})).await;
    for n in 0..5 {
        let spec = json!({"name": format!("tick-{n}"), "webhook": webhook["id"], "every": "1s", "payload": {"n": n}});
        post(&client, &b, "/api/v1/schedules", spec).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    a.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(b);

    // Every due time from the first to the last fired once: a run of its own, or counted as
    // missed in the next one (when no process was up in time), never twice.
    let runs: Vec<(String, i64, i64)> = schedule_runs::table
        .select((
            schedule_runs::schedule_id,
            schedule_runs::due_at,
            schedule_runs::missed,
        ))
        .load(&mut db.connect())
        .unwrap();
    let mut by_schedule: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for (schedule, due_at, missed) in runs {
        by_schedule
            .entry(schedule)
            .or_default()
            .push((due_at, missed));
    }
    assert_eq!(by_schedule.len(), 5, "every schedule fired");
    for runs in by_schedule.values_mut() {
        runs.sort();
        let (first, last) = (runs[0].0, runs[runs.len() - 1].0);
        let covered: i64 = runs.iter().map(|(_, missed)| 1 + missed).sum();
        assert_eq!(
            covered,
            (last - first) / 1000 + 1,
            "each second once: {runs:?}"
        );
        assert!(runs.len() >= 4, "fired {} times in 6 s", runs.len());
    }
    // What arrived (a's leased deliveries wait for their lease), each due time once.
    let requests = target.received_requests().await.unwrap_or_default();
    let arrived: HashSet<(String, String)> = requests
        .iter()
        .map(|request| {
            let data = serde_json::from_slice::<Value>(&request.body).unwrap()["data"].clone();
            (
                data["schedule"]["id"].to_string(),
                data["due_at"].to_string(),
            )
        })
        .collect();
    assert_eq!(arrived.len(), requests.len(), "no due time delivered twice");
}

#[tokio::test]
async fn a_due_time_claimed_by_a_connection_that_dies_is_fired_by_another() {
    use diesel::connection::SimpleConnection;
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = spawn_app_reaching_loopback(backend).await;
    let target = ok_receiver().await;
    let webhook = teams_webhook(&app, &target).await;
    let due = chrono::Utc::now() + chrono::Duration::seconds(2);
    let spec =
        json!({"name": "held", "webhook": webhook, "every": "1d", "start_at": due.to_rfc3339()});
    expect_json(create(&app, spec).await, 201).await;
    // A process claims the due schedule, as the scheduler does, and hangs past the due time.
    let mut claimer = app.db().connect();
    claimer
        .batch_execute("BEGIN; SELECT id FROM schedules FOR UPDATE;")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        target.received_requests().await.unwrap().is_empty(),
        "the row is held: nobody else fires it"
    );

    drop(claimer);

    let data = fired(&target, 1, Duration::from_secs(10)).await;
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(data[0]["due_at"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        due.timestamp()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        target.received_requests().await.unwrap().len(),
        1,
        "fired once"
    );
}
