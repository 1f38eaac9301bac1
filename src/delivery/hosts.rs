//! Per-destination limits: at most `outbound.max_in_flight_per_host` requests to one host at a
//! time, and a host that answered `429` is left alone until it asked to be, while every other
//! host carries on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct HostLimits {
    per_host: usize,
    hosts: Mutex<HashMap<String, HostState>>,
}

struct HostState {
    permits: Arc<Semaphore>,
    resume_at: Option<Instant>,
}

impl HostLimits {
    pub fn new(per_host: usize) -> Self {
        Self {
            per_host,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HostState>> {
        self.hosts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn state<'a>(
        &self,
        hosts: &'a mut HashMap<String, HostState>,
        host: &str,
    ) -> &'a mut HostState {
        hosts.entry(host.to_owned()).or_insert_with(|| HostState {
            permits: Arc::new(Semaphore::new(self.per_host)),
            resume_at: None,
        })
    }

    /// How long the host still wants to be left alone, if at all.
    pub fn paused_for(&self, host: &str) -> Option<Duration> {
        let resume_at = self.lock().get(host)?.resume_at?;
        resume_at
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    /// Leaves the host alone for `duration`; a longer pause already in place stays.
    pub fn pause(&self, host: &str, duration: Duration) {
        let until = Instant::now() + duration;
        let mut hosts = self.lock();
        let state = self.state(&mut hosts, host);
        state.resume_at = Some(state.resume_at.map_or(until, |current| current.max(until)));
    }

    /// Waits for a free place among the host's concurrent requests.
    pub async fn acquire(&self, host: &str) -> OwnedSemaphorePermit {
        let permits = Arc::clone(&self.state(&mut self.lock(), host).permits);
        loop {
            // The semaphore is never closed, so acquiring only fails in theory.
            if let Ok(permit) = Arc::clone(&permits).acquire_owned().await {
                return permit;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_host_takes_at_most_its_share_and_pauses_alone() {
        let limits = HostLimits::new(2);
        let _a = limits.acquire("slow.example").await;
        let _b = limits.acquire("slow.example").await;
        let third =
            tokio::time::timeout(Duration::from_millis(50), limits.acquire("slow.example")).await;
        assert!(third.is_err(), "a third request to one host must wait");
        let other =
            tokio::time::timeout(Duration::from_millis(50), limits.acquire("fast.example")).await;
        assert!(other.is_ok(), "another host must not wait");

        limits.pause("slow.example", Duration::from_secs(30));
        limits.pause("slow.example", Duration::from_secs(1));
        assert!(limits.paused_for("slow.example").unwrap() > Duration::from_secs(29));
        assert_eq!(limits.paused_for("fast.example"), None);
    }
}
