//! Per-incident turns on PostgreSQL. A write that changes incidents declares up front which
//! ones ([`Locks`]); the writer thread running it takes a transaction-scoped advisory lock per
//! incident for its whole batch, before any job of the batch runs (see `writer`). Changes to one
//! incident take turns; changes to different incidents run in parallel, across writer threads
//! and processes.
//!
//! Why up front, for the whole batch, in sorted order: a batch holds what it locked until it
//! commits. Were each job to lock its incident as it ran, a batch could hold incident A's lock
//! (or the incident number counter's row) while waiting for B's, and another batch the reverse:
//! a deadlock that PostgreSQL breaks only after `deadlock_timeout` (a second). Taking every
//! advisory lock first, in one order shared by every thread and process, leaves no such cycle:
//! a batch that holds row locks never waits for an advisory lock again, and the rows it then
//! waits for (an incident row, a dedup key's index entry) belong to incidents whose advisory
//! locks it holds itself. Only the number counter's row is shared by batches that hold
//! different incidents, and its holder waits for nothing its waiters hold.

use sha2::{Digest, Sha256};

use super::AnyConnection;
use super::StoreError;
use super::incidents::IncidentRow;

/// The incidents a write changes, as advisory lock keys: sorted, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locks(Vec<i64>);

impl Locks {
    /// No incident: the write takes no turn.
    pub fn none() -> Self {
        Self::default()
    }

    /// The incident that owns (or would own) `dedup_key`: alerts find theirs by it.
    pub fn dedup_key(dedup_key: &str) -> Self {
        Self(vec![key("dedup_key", dedup_key)])
    }

    /// Several dedup keys (a source request's alerts).
    pub fn dedup_keys<'a>(dedup_keys: impl IntoIterator<Item = &'a str>) -> Self {
        Self::from_keys(
            dedup_keys
                .into_iter()
                .map(|dedup_key| key("dedup_key", dedup_key))
                .collect(),
        )
    }

    /// The incident `row`: by its dedup key when it has one, so that a change to it takes turns
    /// with the alerts for that key (a dedup key never changes), else by its id.
    pub fn incident(row: &IncidentRow) -> Self {
        match &row.dedup_key {
            Some(dedup_key) => Self::dedup_key(dedup_key),
            None => Self(vec![key("incident", &row.id)]),
        }
    }

    /// The keys of both.
    pub fn and(mut self, other: &Locks) -> Self {
        self.0.extend_from_slice(&other.0);
        Self::from_keys(self.0)
    }

    pub fn keys(&self) -> &[i64] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn from_keys(mut keys: Vec<i64>) -> Self {
        keys.sort_unstable();
        keys.dedup();
        Self(keys)
    }
}

/// A stable 64-bit key: the first 8 bytes of SHA-256 of the kind and the name. Every build and
/// process must derive the same key (std's hasher is seeded per process and may change between
/// releases). Two incidents sharing a key (odds of 2^-64 per pair) would only take turns.
fn key(kind: &str, name: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(kind.as_bytes())
        .chain_update([0])
        .chain_update(name.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Takes the advisory lock of each key (which must be sorted, without repeats) until the
/// transaction ends, in one round trip. Nothing on SQLite, which has one writer at a time.
pub(super) fn take(conn: &mut AnyConnection, keys: &[i64]) -> Result<(), StoreError> {
    let AnyConnection::Postgresql(c) = conn else {
        return Ok(());
    };
    if keys.is_empty() {
        return Ok(());
    }
    // One statement per key, run in order: a single `SELECT f(a), f(b)` leaves the order of
    // evaluation to the planner, and the order is what rules deadlocks out. The keys are
    // integers, so writing them into the text is safe.
    let statements: String = keys
        .iter()
        .map(|key| format!("SELECT pg_advisory_xact_lock({key});"))
        .collect();
    diesel::connection::SimpleConnection::batch_execute(c, &statements)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_across_builds_and_processes() {
        // Pinned: a change would make processes of two versions lock different keys.
        assert_eq!(
            Locks::dedup_key("disk-full").keys(),
            &[-6_482_278_407_933_242_981]
        );
        assert_ne!(key("dedup_key", "a"), key("incident", "a"));
    }

    #[test]
    fn keys_are_sorted_without_repeats() {
        let locks = Locks::dedup_keys(["b", "a", "b", "c"]).and(&Locks::dedup_key("a"));
        let mut expected: Vec<i64> = ["a", "b", "c"]
            .iter()
            .map(|name| key("dedup_key", name))
            .collect();
        expected.sort_unstable();
        assert_eq!(locks.keys(), expected);
    }
}
