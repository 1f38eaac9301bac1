//! Delivery metrics: attempts by outcome, their duration, requests in flight.

use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

pub struct DeliveryMetrics {
    attempts: IntCounterVec,
    duration: Histogram,
    pub in_flight: IntGauge,
}

impl DeliveryMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let attempts = IntCounterVec::new(
            Opts::new(
                "delivery_attempts_total",
                "Delivery attempts by outcome: succeeded, retrying, failed",
            ),
            &["outcome"],
        )?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "delivery_attempt_duration_seconds",
                "Time from sending a delivery to its answer",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )?;
        let in_flight = IntGauge::new("deliveries_in_flight", "Delivery requests being sent now")?;
        registry.register(Box::new(attempts.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        Ok(Self {
            attempts,
            duration,
            in_flight,
        })
    }

    pub fn observe(&self, outcome: &str, elapsed: Duration) {
        self.attempts.with_label_values(&[outcome]).inc();
        self.duration.observe(elapsed.as_secs_f64());
    }
}
