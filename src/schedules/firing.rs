//! Firing in the database. A pass claims the schedules that are due (locking their rows),
//! fires each one's due time and moves it on to the next, all in one transaction: a due time is
//! fired and consumed together or not at all, so it fires once across every process, and one
//! taken by a process that dies is fired by the next pass of another. A batch's events,
//! deliveries and runs are each stored in a few statements, whatever the batch's size.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::readable::{Readable, ReadableSchedules};
use super::spec::{Compiled, Missed, ScheduleSpec};
use super::{Schedule, ScheduleError};
use crate::events::{self, NewEvent, Outbox, PreparedEvent, Transaction};
use crate::ids::new_id;
use crate::store::schedules::{Advance, RunRow, ScheduleRow};
use crate::store::{self, StoreError};
use crate::templates::Globals;
use crate::timestamp::{now_millis, to_rfc3339};

pub const EVENT_TYPE: &str = "schedule.fired";
/// Schedules claimed and fired per transaction: a large batch costs few statements more than
/// a small one.
const BATCH: i64 = 1000;
/// Batches fired at once on PostgreSQL, each on a connection of its own.
const PARALLEL_POSTGRES: usize = 4;
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

/// What a claimed schedule does in this pass.
struct Decision {
    readable: Arc<Readable>,
    /// The due time it fires for, and how many it missed before it; `None` to fire nothing.
    fires: Option<(i64, u64)>,
    next_due_at: Option<i64>,
}

/// Fires every schedule due at `now`, a batch per transaction, several batches at once on
/// PostgreSQL (each claims rows the others skip); returns how many fired.
pub async fn fire_due(
    outbox: &Outbox,
    readable: &Arc<ReadableSchedules>,
    globals: &Globals,
    now: i64,
) -> Result<usize, StoreError> {
    let parallel = if outbox.store().is_sqlite() {
        1
    } else {
        PARALLEL_POSTGRES
    };
    let mut fired = 0;
    loop {
        let batches = (0..parallel).map(|_| {
            let (globals, readable) = (globals.clone(), Arc::clone(readable));
            outbox.write_apart(move |tx| fire_batch(tx, &readable, &globals, now))
        });
        let mut exhausted = false;
        for outcome in join_all(batches).await {
            let (claimed, batch) = outcome?;
            fired += batch;
            exhausted |= i64::try_from(claimed).unwrap_or(i64::MAX) < BATCH;
        }
        if exhausted {
            return Ok(fired);
        }
    }
}

/// Returns how many schedules were claimed and how many of them fired.
fn fire_batch(
    tx: &mut Transaction<'_>,
    readable: &ReadableSchedules,
    globals: &Globals,
    now: i64,
) -> Result<(usize, usize), StoreError> {
    let rows = store::schedules::claim_due(tx, now, BATCH)?;
    let mut advances = Vec::with_capacity(rows.len());
    let mut decisions = Vec::with_capacity(rows.len());
    for row in &rows {
        match decide(readable, row, now) {
            Ok(decision) => decisions.push(decision),
            Err(problem) => {
                // Checked when saved; only an upgrade or a hand-edited row can get here, and
                // `check-config` names it. Stopped rather than claimed again and again.
                tracing::error!(schedule = %row.name, %problem, "a stored schedule cannot be read; it is stopped");
                advances.push(Advance {
                    id: row.id.clone(),
                    next_due_at: None,
                    fired_at: None,
                });
            }
        }
    }
    // The row lock makes a second firing of a due time impossible; the unique key of runs
    // stands behind it, and a due time it already holds is only moved on.
    let wanted: Vec<(&str, i64)> = decisions
        .iter()
        .filter_map(|decision| Some((decision.readable.schedule.id.as_str(), decision.fires?.0)))
        .collect();
    let fired_before = store::schedules::fired_already(tx, &wanted)?;
    let firings = firings(&decisions, &fired_before, globals, now, &mut advances);
    let fired = store_firings(tx, firings)?.len();
    store::schedules::advance(tx, advances)?;
    Ok((rows.len(), fired))
}

/// The firings of a batch with their events, each schedule's move on added to `advances`.
fn firings<'a>(
    decisions: &'a [Decision],
    fired_before: &HashSet<(String, i64)>,
    globals: &Globals,
    now: i64,
    advances: &mut Vec<Advance>,
) -> Vec<(Firing<'a>, PreparedEvent)> {
    let mut firings = Vec::with_capacity(decisions.len());
    for decision in decisions {
        let schedule = &decision.readable.schedule;
        let fires = decision
            .fires
            .filter(|(due_at, _)| !fired_before.contains(&(schedule.id.clone(), *due_at)));
        let firing = fires.map(|(due_at, missed)| Firing {
            schedule,
            compiled: &decision.readable.compiled,
            due_at,
            fired_at: now,
            manual: false,
            missed,
        });
        let fired = match firing.map(|firing| (fired_event(&firing, globals), firing)) {
            Some((Ok(event), firing)) => {
                firings.push((firing, event));
                true
            }
            Some((Err(error), _)) => {
                tracing::error!(schedule = %schedule.spec.name, %error, "a schedule's event cannot be encoded; this due time is skipped");
                false
            }
            None => false,
        };
        advances.push(Advance {
            id: schedule.id.clone(),
            next_due_at: decision.next_due_at,
            fired_at: fired.then_some(now),
        });
    }
    firings
}

/// Which due time a claimed schedule fires for (the latest that passed, and what it missed
/// before, as its `missed` rule says), and its next due time.
fn decide(readable: &ReadableSchedules, row: &ScheduleRow, now: i64) -> Result<Decision, String> {
    let readable = readable.get(row)?;
    let plan = &readable.compiled.plan;
    let due = row.next_due_at.unwrap_or(now);
    let latest = plan.latest_until(due, now);
    let missed = plan.count_between(due - 1, latest, MISSED_COUNTED);
    let fires = match readable.schedule.spec.missed {
        Missed::Once => true,
        Missed::Skip => now - latest <= ON_TIME_MS,
    };
    Ok(Decision {
        fires: fires.then_some((latest, missed)),
        next_due_at: plan.next_after(now),
        readable,
    })
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
    let event = fired_event(&firing, globals)?;
    let run = store_firings(tx, vec![(firing, event)])?.remove(0);
    store::schedules::mark_fired(tx, &schedule.id, now)?;
    Ok(run)
}

/// Stores each firing's `schedule.fired` event, with its delivery to the schedule's webhook,
/// and its run.
fn store_firings(
    tx: &mut Transaction<'_>,
    firings: Vec<(Firing<'_>, PreparedEvent)>,
) -> Result<Vec<RunRow>, StoreError> {
    let (firings, events): (Vec<_>, Vec<_>) = firings
        .into_iter()
        .map(|(firing, event)| {
            let webhook = firing.schedule.spec.webhook.as_str();
            (firing, (event, webhook))
        })
        .unzip();
    let emitted = tx.emit_each_to(events)?;
    let runs: Vec<RunRow> = firings
        .iter()
        .zip(emitted)
        .map(|(firing, emitted)| RunRow {
            id: new_id("run"),
            schedule_id: firing.schedule.id.clone(),
            due_at: firing.due_at,
            fired_at: firing.fired_at,
            manual: firing.manual,
            missed: i64::try_from(firing.missed).unwrap_or(i64::MAX),
            event_id: emitted.event.event.id.clone(),
        })
        .collect();
    store::schedules::insert_runs(tx, &runs)?;
    Ok(runs)
}

/// What a payload template sees (SPEC §8); the console's preview renders over the same.
pub(super) fn payload_context(
    id: &str,
    spec: &ScheduleSpec,
    due_at: &str,
    fired_at: &str,
    globals: &Globals,
) -> Value {
    json!({
        "schedule": {"id": id, "name": spec.name, "description": spec.description},
        "due_at": due_at,
        "fired_at": fired_at,
        "vars": Value::clone(&globals.vars),
        "env": Value::clone(&globals.env),
    })
}

/// The `schedule.fired` event of a firing, its payload rendered.
fn fired_event(firing: &Firing<'_>, globals: &Globals) -> Result<PreparedEvent, StoreError> {
    let schedule = firing.schedule;
    let (due_at, fired_at) = (to_rfc3339(firing.due_at), to_rfc3339(firing.fired_at));
    let context = payload_context(&schedule.id, &schedule.spec, &due_at, &fired_at, globals);
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
    events::prepare(NewEvent {
        event_type: EVENT_TYPE.into(),
        subject: Some(schedule.id.clone()),
        data,
        previous: None,
        changes: None,
    })
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
        fire_due(
            &setup.fixture.outbox,
            &setup.schedules.readable,
            &globals,
            now,
        )
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
