//! Sign-in attempts per client address, counted in fixed one-minute windows, in memory: a
//! process forgets them when it stops, which only resets the limit early.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Beyond this many tracked addresses, those whose window has passed are forgotten, so a flood
/// from many addresses cannot grow the map without bound.
const SWEEP_ABOVE: usize = 10_000;

pub struct SignInAttempts {
    per_window: u32,
    started: Instant,
    counts: Mutex<HashMap<IpAddr, (u64, u32)>>,
}

impl SignInAttempts {
    pub fn new(per_window: u32) -> Self {
        Self {
            per_window,
            started: Instant::now(),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `client`; false when it is over the limit for this window.
    pub fn admit(&self, client: IpAddr) -> bool {
        let window = self.started.elapsed().as_secs() / WINDOW.as_secs();
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if counts.len() > SWEEP_ABOVE {
            counts.retain(|_, (seen, _)| *seen == window);
        }
        let entry = counts.entry(client).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.per_window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_budget() {
        let attempts = SignInAttempts::new(2);
        let first: IpAddr = "192.0.2.1".parse().unwrap();
        let second: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(attempts.admit(first) && attempts.admit(first));
        assert!(!attempts.admit(first));
        assert!(attempts.admit(second));
    }
}
