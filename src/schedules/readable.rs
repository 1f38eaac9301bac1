//! Schedules as firing reads them: parsing a definition and compiling its cron and templates
//! is most of what a firing costs, so each is kept while its `updated_at` is unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Schedule;
use super::spec::Compiled;
use crate::store::schedules::ScheduleRow;

/// A schedule, parsed and compiled.
pub struct Readable {
    updated_at: i64,
    pub schedule: Schedule,
    pub compiled: Compiled,
}

#[derive(Default)]
pub struct ReadableSchedules {
    kept: Mutex<HashMap<String, Arc<Readable>>>,
}

impl ReadableSchedules {
    pub fn get(&self, row: &ScheduleRow) -> Result<Arc<Readable>, String> {
        if let Some(kept) = self
            .lock()
            .get(&row.id)
            .filter(|kept| kept.updated_at == row.updated_at)
        {
            return Ok(Arc::clone(kept));
        }
        let schedule = Schedule::from_row(row).map_err(|error| error.to_string())?;
        let compiled = schedule.compile().map_err(|invalid| invalid.to_string())?;
        let readable = Arc::new(Readable {
            updated_at: row.updated_at,
            schedule,
            compiled,
        });
        self.lock().insert(row.id.clone(), Arc::clone(&readable));
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
