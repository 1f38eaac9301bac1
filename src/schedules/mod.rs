//! Schedules (SPEC §8): webhooks fired at due times — every N seconds to weeks, or on a cron
//! pattern, in a time zone, inside windows — each due time exactly once across every process
//! sharing the database. `spec` checks the resource, `due` computes due times, `payload`
//! renders what a firing carries, `draft` shows an unsaved schedule, `firing` fires in the
//! database, `scheduler` waits for the next due time.

mod draft;
mod due;
mod firing;
mod payload;
mod readable;
mod scheduler;
mod spec;

use std::sync::Arc;

use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use draft::{Draft, draft};
pub use spec::{Compiled, Missed, ScheduleSpec, WindowSpec};

use crate::audit::{self, Change};
use crate::events::Outbox;
use crate::ids::new_id;
use crate::store::schedules::{RunDelivery, RunRow, ScheduleRow};
use crate::store::{self, AnyConnection, Page, PageRequest, StoreError};
use crate::timestamp::now_millis;
use crate::validation::Invalid;
use crate::vars::GlobalsSource;
use crate::webhooks;

/// How many upcoming due times a schedule shows.
pub const SHOWN_DUE_TIMES: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: String,
    pub spec: ScheduleSpec,
    pub last_fired_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One firing of a schedule, with its delivery as far as it has gone.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub due_at: i64,
    pub fired_at: i64,
    pub manual: bool,
    pub missed: i64,
    pub event_id: String,
    pub delivery: Option<RunDelivery>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a schedule named `{0}` already exists")]
    NameTaken(String),
    #[error("no schedule with id `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Schedule {
    fn from_row(row: &ScheduleRow) -> Result<Self, StoreError> {
        let spec = serde_json::from_str(&row.config)
            .map_err(|error| StoreError::Corrupt(format!("schedule {}: {error}", row.id)))?;
        Ok(Self {
            id: row.id.clone(),
            spec,
            last_fired_at: row.last_fired_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    fn compile(&self) -> Result<Compiled, Invalid> {
        self.spec.compile(self.created_at)
    }

    /// The next due times after now; none while the schedule is disabled.
    pub fn upcoming(&self) -> Result<Vec<i64>, Invalid> {
        if !self.spec.enabled {
            return Ok(Vec::new());
        }
        Ok(self.compile()?.plan.upcoming(now_millis(), SHOWN_DUE_TIMES))
    }

    fn to_row(&self, next_due_at: Option<i64>) -> Result<ScheduleRow, StoreError> {
        Ok(ScheduleRow {
            id: self.id.clone(),
            name: self.spec.name.clone(),
            webhook_id: self.spec.webhook.clone(),
            enabled: self.spec.enabled,
            config: serde_json::to_string(&self.spec)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?,
            next_due_at,
            last_fired_at: self.last_fired_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The schedule resource, and the scheduler that fires it.
#[derive(Clone)]
pub struct Schedules {
    outbox: Outbox,
    globals: GlobalsSource,
    readable: Arc<readable::ReadableSchedules>,
    /// Wakes this process's scheduler when a schedule changed here.
    changed: Arc<Notify>,
}

impl Schedules {
    pub fn new(outbox: Outbox, globals: GlobalsSource) -> Self {
        Self {
            outbox,
            globals,
            readable: Arc::default(),
            changed: Arc::new(Notify::new()),
        }
    }

    /// Fires due schedules until `stop`.
    pub async fn run_scheduler(self, stop: CancellationToken) {
        scheduler::run(self, stop).await;
    }

    pub async fn create(
        &self,
        mut spec: ScheduleSpec,
        actor: &str,
    ) -> Result<Schedule, ScheduleError> {
        let now = now_millis();
        let compiled = spec.validate(now)?;
        let next_due_at = spec.first_due(&compiled.plan, now)?;
        let schedule = Schedule {
            id: new_id("sch"),
            spec,
            last_fired_at: None,
            created_at: now,
            updated_at: now,
        };
        let actor = actor.to_owned();
        let created = self
            .outbox
            .store()
            .write(move |conn| {
                check_webhook(conn, &schedule.spec.webhook)?;
                store::schedules::insert(conn, &schedule.to_row(next_due_at)?).map_err(
                    |error| {
                        error.unique_or(|| ScheduleError::NameTaken(schedule.spec.name.clone()))
                    },
                )?;
                let details = json!({ "schedule": schedule.spec });
                audit::record(
                    conn,
                    Change::of(&actor, "schedule.created", &schedule.id, details),
                )?;
                Ok::<_, ScheduleError>(schedule)
            })
            .await?;
        self.changed.notify_one();
        Ok(created)
    }

    pub async fn get(&self, id: &str) -> Result<Schedule, ScheduleError> {
        let id = id.to_owned();
        self.outbox
            .store()
            .read(move |conn| Ok(Schedule::from_row(&find(conn, &id)?)?))
            .await
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<Schedule>, ScheduleError> {
        self.outbox
            .store()
            .read(move |conn| Ok(store::schedules::list(conn, &page)?.try_map(Schedule::from_row)?))
            .await
    }

    /// Replaces a schedule's whole definition. Due times are counted afresh from now: due
    /// times that passed before the change do not fire.
    pub async fn replace(
        &self,
        id: &str,
        mut spec: ScheduleSpec,
        actor: &str,
    ) -> Result<Schedule, ScheduleError> {
        let current = self.get(id).await?;
        let compiled = spec.validate(current.created_at)?;
        let now = now_millis();
        let next_due_at = spec.first_due(&compiled.plan, now)?;
        let updated = Schedule {
            spec,
            updated_at: now.max(current.updated_at + 1),
            ..current.clone()
        };
        let actor = actor.to_owned();
        let replaced = self
            .outbox
            .store()
            .write(move |conn| {
                check_webhook(conn, &updated.spec.webhook)?;
                let row = updated.to_row(next_due_at)?;
                let found = store::schedules::update(conn, &row).map_err(|error| {
                    error.unique_or(|| ScheduleError::NameTaken(row.name.clone()))
                })?;
                if !found {
                    return Err(ScheduleError::NotFound(row.id));
                }
                let details = audit::changes(&current.spec, &updated.spec);
                audit::record(
                    conn,
                    Change::of(&actor, "schedule.updated", &row.id, details),
                )?;
                Ok(updated)
            })
            .await?;
        self.changed.notify_one();
        Ok(replaced)
    }

    /// Deletes a schedule: from the next due time on, nothing fires. Its runs go with it.
    pub async fn delete(&self, id: &str, actor: &str) -> Result<(), ScheduleError> {
        self.readable.forget(id);
        let (id, actor) = (id.to_owned(), actor.to_owned());
        self.outbox
            .store()
            .write(move |conn| {
                let row = find(conn, &id)?;
                store::schedules::delete(conn, &id)?;
                let details = json!({ "name": row.name });
                audit::record(conn, Change::of(&actor, "schedule.deleted", &id, details))?;
                Ok::<_, ScheduleError>(())
            })
            .await?;
        self.changed.notify_one();
        Ok(())
    }

    /// Fires the schedule now, whatever its windows and even while disabled.
    pub async fn run(&self, id: &str, actor: &str) -> Result<Run, ScheduleError> {
        let globals = self.globals.current();
        let (id, actor) = (id.to_owned(), actor.to_owned());
        self.outbox
            .write(move |tx| {
                let schedule = Schedule::from_row(&find(tx, &id)?)?;
                let run = firing::fire_now(tx, &schedule, &globals)?;
                let details = json!({ "run": run.id, "event": run.event_id });
                audit::record(tx, Change::of(&actor, "schedule.run", &id, details))?;
                Ok(Run::from_row(run, None))
            })
            .await
    }

    /// A page of the schedule's runs, newest first, with their deliveries.
    pub async fn runs(&self, id: &str, page: PageRequest) -> Result<Page<Run>, ScheduleError> {
        let id = id.to_owned();
        self.outbox
            .store()
            .read(move |conn| {
                find(conn, &id)?;
                let (runs, deliveries) = store::schedules::runs(conn, &id, &page)?;
                Ok(runs.map(|run| {
                    let delivery = deliveries.iter().find(|d| d.event_id == run.event_id);
                    Run::from_row(run, delivery.cloned())
                }))
            })
            .await
    }
}

impl Run {
    fn from_row(row: RunRow, delivery: Option<RunDelivery>) -> Self {
        Self {
            id: row.id,
            due_at: row.due_at,
            fired_at: row.fired_at,
            manual: row.manual,
            missed: row.missed,
            event_id: row.event_id,
            delivery,
        }
    }
}

fn find(conn: &mut AnyConnection, id: &str) -> Result<ScheduleRow, ScheduleError> {
    store::schedules::find(conn, id)?.ok_or_else(|| ScheduleError::NotFound(id.to_owned()))
}

/// A schedule fires to a webhook a user made: one that exists, not one the gateway keeps.
fn check_webhook(conn: &mut AnyConnection, id: &str) -> Result<(), ScheduleError> {
    let exists = !webhooks::is_managed(id) && store::webhooks::find(conn, id)?.is_some();
    if exists {
        Ok(())
    } else {
        Err(Invalid::new("webhook", format!("no webhook with id `{id}`")).into())
    }
}

/// The first stored schedule whose cron, zone, windows or payload template no longer compile,
/// with the reason; for `check-config`.
pub fn first_broken(conn: &mut AnyConnection) -> Result<Option<(String, Invalid)>, StoreError> {
    for row in store::schedules::all(conn)? {
        if let Err(invalid) = Schedule::from_row(&row)?.compile() {
            return Ok(Some((row.name, invalid)));
        }
    }
    Ok(None)
}
