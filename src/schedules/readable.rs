//! Schedules as firing reads them: parsing a definition and compiling its cron and templates
//! is most of what a firing costs, so each is kept while its stored definition is unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Schedule;
use super::spec::Compiled;
use crate::store::schedules::ScheduleRow;

/// A schedule, parsed and compiled.
pub struct Readable {
    /// The stored definition this was read from.
    config: String,
    /// Its `last_fired_at` and `updated_at` are those of the first read: firing reads the
    /// row's own.
    pub schedule: Schedule,
    pub compiled: Compiled,
}

/// Beyond this many kept schedules (those deleted through other processes stay until then),
/// all are dropped and read again as they fall due.
const MAX_KEPT: usize = 100_000;

#[derive(Default)]
pub struct ReadableSchedules {
    kept: Mutex<HashMap<String, Arc<Readable>>>,
}

impl ReadableSchedules {
    pub fn get(&self, row: &ScheduleRow) -> Result<Arc<Readable>, String> {
        if let Some(kept) = self
            .lock()
            .get(&row.id)
            .filter(|kept| kept.config == row.config)
        {
            return Ok(Arc::clone(kept));
        }
        let schedule = Schedule::from_row(row).map_err(|error| error.to_string())?;
        let compiled = schedule.compile().map_err(|invalid| invalid.to_string())?;
        let readable = Arc::new(Readable {
            config: row.config.clone(),
            schedule,
            compiled,
        });
        let mut kept = self.lock();
        if kept.len() >= MAX_KEPT {
            kept.clear();
        }
        kept.insert(row.id.clone(), Arc::clone(&readable));
        Ok(readable)
    }

    /// Drops a deleted schedule.
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Readable>>> {
        // A panic while holding this lock cannot leave the map inconsistent: keep using it.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
