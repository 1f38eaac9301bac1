//! Firing in the database. A pass claims the schedules that are due (locking their rows),
//! fires each one's due time and moves it on to the next, all in one transaction: a due time is
//! fired and consumed together or not at all, so it fires once across every process, and one
//! taken by a process that dies is fired by the next pass of another.

use serde_json::{Value, json};

use super::spec::{Compiled, Missed};
use super::{Schedule, ScheduleError};
use crate::events::{self, NewEvent, Outbox, Transaction};
use crate::ids::new_id;
use crate::store::schedules::{RunRow, ScheduleRow};
use crate::store::{self, StoreError};
use crate::templates::Globals;
use crate::timestamp::{now_millis, to_rfc3339};

pub const EVENT_TYPE: &str = "schedule.fired";
/// Schedules claimed and fired per transaction.
const BATCH: i64 = 256;
/// A due time reached more than this after it passed counts as missed: no process was
/// running, or none could keep up.
const ON_TIME_MS: i64 = 60_000;
/// Missed due times are counted up to this many.
const MISSED_COUNTED: u64 = 10_000;

/// One firing about to be stored.
struct Firing<'a> {
    schedule: &'a Schedule,
    compiled: &'a Compiled,
    due_at: i64,
    fired_at: i64,
    manual: bool,
    /// Due times before this one that were not fired.
    missed: u64,
}

/// Fires every schedule due at `now`, a batch per transaction; returns how many fired.
pub async fn fire_due(outbox: &Outbox, globals: &Globals, now: i64) -> Result<usize, StoreError> {
    let mut fired = 0;
    loop {
        let globals = globals.clone();
        let (claimed, batch) = outbox
            .write(move |tx| fire_batch(tx, &globals, now))
            .await?;
        fired += batch;
        if i64::try_from(claimed).unwrap_or(i64::MAX) < BATCH {
            return Ok(fired);
        }
    }
}

/// Returns how many schedules were claimed and how many of them fired.
fn fire_batch(
    tx: &mut Transaction<'_>,
    globals: &Globals,
    now: i64,
) -> Result<(usize, usize), StoreError> {
    let rows = store::schedules::claim_due(tx, now, BATCH)?;
    let mut fired = 0;
    for row in &rows {
        if fire_claimed(tx, row, globals, now)? {
            fired += 1;
        }
    }
    Ok((rows.len(), fired))
}

/// Fires a claimed schedule's due time (and what it missed, as its `missed` rule says) and
/// moves it on; returns whether it fired.
fn fire_claimed(
    tx: &mut Transaction<'_>,
    row: &ScheduleRow,
    globals: &Globals,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(due) = row.next_due_at else {
        return Ok(false);
    };
    let (schedule, compiled) = match readable(row) {
        Ok(readable) => readable,
        Err(problem) => {
            // Checked when saved; only an upgrade or a hand-edited row can get here, and
            // `check-config` names it. Stopped rather than claimed again and again.
            tracing::error!(schedule = %row.name, %problem, "a stored schedule cannot be read; it is stopped");
            store::schedules::advance(tx, &row.id, None, None)?;
            return Ok(false);
        }
    };
    let plan = &compiled.plan;
    let latest = plan.latest_until(due, now);
    let missed = plan.count_between(due - 1, latest, MISSED_COUNTED);
    let fires = match schedule.spec.missed {
        Missed::Once => true,
        Missed::Skip => now - latest <= ON_TIME_MS,
    };
    let mut fired = false;
    if fires {
        let firing = Firing {
            schedule: &schedule,
            compiled: &compiled,
            due_at: latest,
            fired_at: now,
            manual: false,
            missed,
        };
        // A due time already fired (the unique key says so) is only moved on.
        match tx.savepoint(|tx| store_firing(tx, &firing, globals)) {
            Ok(_) => fired = true,
            Err(error) if error.is_unique_violation() => {}
            Err(error) => return Err(error),
        }
    }
    let next = plan.next_after(now);
    store::schedules::advance(tx, &row.id, next, fired.then_some(now))?;
    Ok(fired)
}

fn readable(row: &ScheduleRow) -> Result<(Schedule, Compiled), String> {
    let schedule = Schedule::from_row(row).map_err(|error| error.to_string())?;
    let compiled = schedule.compile().map_err(|invalid| invalid.to_string())?;
    Ok((schedule, compiled))
}

/// Fires `schedule` now, by hand: outside its windows too, and while disabled.
pub fn fire_now(
    tx: &mut Transaction<'_>,
    schedule: &Schedule,
    globals: &Globals,
) -> Result<RunRow, ScheduleError> {
    let compiled = schedule.compile()?;
    let now = now_millis();
    let firing = Firing {
        schedule,
        compiled: &compiled,
        due_at: now,
        fired_at: now,
        manual: true,
        missed: 0,
    };
    let run = store_firing(tx, &firing, globals)?;
    store::schedules::mark_fired(tx, &schedule.id, now)?;
    Ok(run)
}

/// Stores the `schedule.fired` event with its delivery to the schedule's webhook, and the run.
fn store_firing(
    tx: &mut Transaction<'_>,
    firing: &Firing<'_>,
    globals: &Globals,
) -> Result<RunRow, StoreError> {
    let schedule = firing.schedule;
    let (due_at, fired_at) = (to_rfc3339(firing.due_at), to_rfc3339(firing.fired_at));
    let context = json!({
        "schedule": {"id": schedule.id, "name": schedule.spec.name, "description": schedule.spec.description},
        "due_at": due_at,
        "fired_at": fired_at,
        "vars": Value::clone(&globals.vars),
        "env": Value::clone(&globals.env),
    });
    let mut data = json!({
        "schedule": {"id": schedule.id, "name": schedule.spec.name},
        "due_at": due_at,
        "fired_at": fired_at,
        "manual": firing.manual,
        "missed": firing.missed,
    });
    // A payload that cannot render still fires: the receiver learns why it is empty.
    match firing.compiled.payload.render(&context) {
        Ok(payload) => data["payload"] = payload,
        Err(error) => {
            data["payload"] = Value::Null;
            data["payload_error"] = error.to_string().into();
        }
    }
    let event = events::prepare(NewEvent {
        event_type: EVENT_TYPE.into(),
        subject: Some(schedule.id.clone()),
        data,
        previous: None,
        changes: None,
    })?;
    let emitted = tx.emit_to(event, &schedule.spec.webhook, None)?;
    let run = RunRow {
        id: new_id("run"),
        schedule_id: schedule.id.clone(),
        due_at: firing.due_at,
        fired_at: firing.fired_at,
        manual: firing.manual,
        missed: i64::try_from(firing.missed).unwrap_or(i64::MAX),
        event_id: emitted.event.event.id.clone(),
    };
    store::schedules::insert_run(tx, &run)?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::events::testing::OutboxFixture;
    use crate::outbound::NetworkPolicy;
    use crate::schedules::Schedules;
    use crate::store::PageRequest;
    use crate::webhooks;

    const TEN_MINUTES: i64 = 600_000;

    struct Setup {
        fixture: OutboxFixture,
        schedules: Schedules,
        receiver: MockServer,
        id: String,
        /// The schedule's first due time.
        first: i64,
    }

    /// A schedule every 10 minutes to a receiver; the test clock is the `now` it passes.
    async fn every_ten_minutes(missed: &str) -> Setup {
        let fixture = OutboxFixture::new().await;
        let receiver = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200))
            .mount(&receiver)
            .await;
        let spec = serde_json::from_value(json!({"name": "receiver", "endpoint": {"url": receiver.uri()}, "events": ["schedule.fired"]})).unwrap();
        let policy = NetworkPolicy::new(&fixture.config.outbound);
        let webhook = webhooks::create(&fixture.store, &policy, spec, "test")
            .await
            .unwrap();
        let schedules = Schedules::new(fixture.outbox.clone(), fixture.globals.clone());
        let spec = serde_json::from_value(
            json!({"name": "report", "webhook": webhook.id, "every": "10m",
            "missed": missed, "payload": {"text": "{{schedule.name}} due {{due_at}}"}}),
        )
        .unwrap();
        let schedule = schedules.create(spec, "test").await.unwrap();
        let first = next_due(&fixture, &schedule.id).await.unwrap();
        Setup {
            fixture,
            schedules,
            receiver,
            id: schedule.id,
            first,
        }
    }

    async fn next_due(fixture: &OutboxFixture, id: &str) -> Option<i64> {
        let id = id.to_owned();
        fixture
            .store
            .read(move |conn| store::schedules::find(conn, &id))
            .await
            .unwrap()
            .unwrap()
            .next_due_at
    }

    async fn fire_at(setup: &Setup, now: i64) -> usize {
        let globals = setup.fixture.globals.current();
        fire_due(&setup.fixture.outbox, &globals, now)
            .await
            .unwrap()
    }

    async fn runs(setup: &Setup) -> Vec<crate::schedules::Run> {
        setup
            .schedules
            .runs(&setup.id, PageRequest::default())
            .await
            .unwrap()
            .items
    }

    /// The `data` of the `schedule.fired` events the receiver got, waiting for `count`.
    async fn fired(receiver: &MockServer, count: usize) -> Vec<serde_json::Value> {
        for _ in 0..500 {
            let requests = receiver.received_requests().await.unwrap_or_default();
            if requests.len() >= count {
                return requests
                    .iter()
                    .map(|request| {
                        serde_json::from_slice::<serde_json::Value>(&request.body).unwrap()["data"]
                            .clone()
                    })
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fewer than {count} firings arrived");
    }

    #[tokio::test]
    async fn a_due_time_fires_once_however_many_passes_see_it() {
        let setup = every_ten_minutes("once").await;
        assert_eq!(fire_at(&setup, setup.first - 1).await, 0, "not due yet");
        assert_eq!(fire_at(&setup, setup.first).await, 1);
        assert_eq!(fire_at(&setup, setup.first + 1000).await, 0);

        let data = fired(&setup.receiver, 1).await;
        assert_eq!(data[0]["due_at"], to_rfc3339(setup.first));
        assert_eq!(
            data[0]["payload"]["text"],
            format!("report due {}", to_rfc3339(setup.first))
        );
        assert_eq!(data[0]["missed"], 0);
        assert_eq!(
            next_due(&setup.fixture, &setup.id).await,
            Some(setup.first + TEN_MINUTES)
        );
        assert_eq!(runs(&setup).await.len(), 1);
    }

    #[tokio::test]
    async fn downtime_across_three_due_times_fires_the_latest_once_with_missed_once() {
        let setup = every_ten_minutes("once").await;
        let back = setup.first + 2 * TEN_MINUTES + 5 * 60_000;
        assert_eq!(fire_at(&setup, back).await, 1);
        assert_eq!(fire_at(&setup, back).await, 0);

        let runs = runs(&setup).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(
            runs[0].due_at,
            setup.first + 2 * TEN_MINUTES,
            "the latest missed due time"
        );
        assert_eq!(runs[0].missed, 2);
        assert_eq!(fired(&setup.receiver, 1).await[0]["missed"], 2);
        assert_eq!(
            next_due(&setup.fixture, &setup.id).await,
            Some(setup.first + 3 * TEN_MINUTES)
        );
    }

    #[tokio::test]
    async fn downtime_across_three_due_times_fires_nothing_with_missed_skip() {
        let setup = every_ten_minutes("skip").await;
        let back = setup.first + 2 * TEN_MINUTES + 5 * 60_000;
        assert_eq!(fire_at(&setup, back).await, 0);
        assert!(runs(&setup).await.is_empty());
        assert_eq!(
            next_due(&setup.fixture, &setup.id).await,
            Some(setup.first + 3 * TEN_MINUTES)
        );
        // Back on time: the next due time fires as usual.
        assert_eq!(
            fire_at(&setup, setup.first + 3 * TEN_MINUTES + 500).await,
            1
        );
    }

    #[tokio::test]
    async fn a_deleted_schedule_fires_nothing() {
        let setup = every_ten_minutes("once").await;
        setup.schedules.delete(&setup.id, "test").await.unwrap();
        assert_eq!(fire_at(&setup, setup.first + 3 * TEN_MINUTES).await, 0);
        assert!(setup.receiver.received_requests().await.unwrap().is_empty());
    }
}
