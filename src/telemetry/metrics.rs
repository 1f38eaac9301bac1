//! The metrics registry every part of the service registers its own metrics in. One registry per
//! running application (not a process global), so tests can run several side by side.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http: HttpMetrics,
}

#[derive(Clone)]
pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

/// Latency buckets from 100 µs: the chat fast path is measured in fractions of a millisecond.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("switchyard".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            registry,
            http: HttpMetrics { requests, duration },
        })
    }

    /// The registry later subsystems (queue, delivery, chat) add their metrics to.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Everything registered, in the Prometheus text exposition format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8_lossy(&buffer).into_owned())
    }
}

impl HttpMetrics {
    /// `route` is the matched pattern (`/api/v1/tokens/{id}`), never the raw path: raw paths
    /// would give unbounded label sets and can carry capability ids.
    pub fn observe(&self, method: &str, route: &str, status: &str, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, route, status])
            .inc();
        self.duration
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_requests_show_in_the_text_format() {
        let metrics = Metrics::new().unwrap();
        metrics
            .http
            .observe("GET", "/healthz", "200", Duration::from_micros(300));
        let text = metrics.render().unwrap();
        assert!(text.contains(
            r#"switchyard_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ));
        assert!(text.contains("switchyard_http_request_duration_seconds_bucket"));
    }
}
