//! One attempt: render, wait for a place (globally and at the host), sign and send, judge the
//! answer, and hand the outcome to the recorder.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use super::outcome::{self, Outcome};
use super::render::{Target, build_request, render};
use super::retry::{Verdict, judge_answer, judge_error, next_delay, random_unit, retry_after};
use super::{Answer, DeliveryEngine, Job, LEASE_MARGIN_MS, Shared};
use crate::outbound::display::LOGGED_BODY_BYTES;
use crate::outbound::{OutboundRequest, OutboundResponse, SendError};
use crate::store::deliveries::{AttemptRow, FAILED, PENDING, SUCCEEDED, StateChange};
use crate::store::{self};
use crate::templates::text::truncate;
use crate::timestamp::now_millis;

/// A `429` without `Retry-After` still pauses its host this long.
const DEFAULT_429_PAUSE: Duration = Duration::from_secs(5);

pub async fn run(shared: Arc<Shared>, job: Job) {
    if let Some(outcome) = perform(&shared, job).await {
        outcome::store(&shared, outcome).await;
    }
}

/// A successful answer to an incident event, from a webhook that may patch incidents, goes to
/// the answer handler; what it did is returned for the attempt's record.
async fn act_on_answer(
    shared: &Arc<Shared>,
    job: &Job,
    response: &OutboundResponse,
) -> Option<Value> {
    let event = &job.event.event;
    if !job.webhook.spec.incident_updates || !event.event_type.starts_with("incident.") {
        return None;
    }
    let answer = Answer {
        delivery_id: job.delivery_id.clone(),
        incident_id: event.subject.clone()?,
        webhook_name: job.webhook.spec.name.clone(),
        body: response.body.clone(),
    };
    let engine = DeliveryEngine {
        shared: Arc::clone(shared),
    };
    shared.answers.handle(&engine, answer).await
}

/// `None` when there is nothing to record: the claim was lost to another process, or the
/// process is stopping and gave up waiting; either way the delivery is sent again.
async fn perform(shared: &Arc<Shared>, job: Job) -> Option<Outcome> {
    let target = Target {
        webhook: &job.webhook,
        event: &job.event,
        delivery_id: &job.delivery_id,
        attempt: job.attempt,
    };
    let rendered = match render(target, &shared.globals.current()) {
        Ok(rendered) => rendered,
        Err(error) => {
            let failure = Failure::Render(error.to_string());
            return Some(finish(job, now_millis(), Duration::ZERO, None, failure).0);
        }
    };
    // Two services on one address are two destinations: limits apply per host and port.
    let host = format!(
        "{}:{}",
        rendered.url.host_str().unwrap_or_default(),
        rendered.url.port_or_known_default().unwrap_or_default()
    );
    if let Some(wait) = shared.hosts.paused_for(&host) {
        let due = now_millis() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        return Some(Outcome::release(job, due));
    }
    let _in_flight = Arc::clone(&shared.in_flight).acquire_owned().await.ok()?;
    let _at_host = shared.hosts.acquire(&host).await;
    let endpoint = &job.webhook.spec.endpoint;
    let timeout = endpoint.timeout(shared.default_timeout_ms);
    if !hold_lease(shared, &job, timeout).await {
        return None;
    }
    // Built only now, so the signature's timestamp is the moment of sending.
    let request = build_request(&job.webhook, &job.event, &job.delivery_id, rendered);
    let started_at = now_millis();
    shared.metrics.in_flight.inc();
    let sent = Instant::now();
    let result = shared
        .clients
        .send(&request, timeout, endpoint.allow_insecure_tls)
        .await;
    let elapsed = sent.elapsed();
    shared.metrics.in_flight.dec();
    let failure = match result {
        Ok(response) => {
            let verdict = judge_answer(job.webhook.spec.format, &response, Utc::now());
            if response.status == 429 {
                let pause = retry_after(&response, Utc::now()).unwrap_or(DEFAULT_429_PAUSE);
                shared.hosts.pause(&host, pause);
            }
            let acted = match verdict {
                Verdict::Succeeded => act_on_answer(shared, &job, &response).await,
                _ => None,
            };
            Failure::Answered(response, verdict, acted)
        }
        Err(error) => Failure::Unsent(error),
    };
    let (outcome, label) = finish(job, started_at, elapsed, Some(&request), failure);
    shared.metrics.observe(label, elapsed);
    Some(outcome)
}

/// What came of sending (despite its name, an answer may be a success).
enum Failure {
    Render(String),
    Unsent(SendError),
    /// With what acting on the answer did, if anything.
    Answered(OutboundResponse, Verdict, Option<Value>),
}

/// Makes sure the claim outlasts the request about to be sent; `false` if it was lost to
/// another process (which then sends the delivery itself).
async fn hold_lease(shared: &Shared, job: &Job, timeout: Duration) -> bool {
    let needed = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX) + LEASE_MARGIN_MS;
    let now = now_millis();
    if job.lease_until - now >= needed {
        return true;
    }
    let (id, owner) = (job.delivery_id.clone(), shared.owner.clone());
    match shared
        .store
        .write(move |conn| store::deliveries::extend_lease(conn, &id, &owner, now + needed))
        .await
    {
        Ok(held) => held,
        Err(error) => {
            tracing::warn!(%error, delivery = %job.delivery_id, "could not extend a delivery's lease; sending anyway");
            true
        }
    }
}

/// `HTTP 503`; a failure answered with a success status also shows the start of the body, which
/// is where the platform said what went wrong.
fn answer_error(response: &OutboundResponse) -> String {
    if (200..300).contains(&response.status) {
        let body = String::from_utf8_lossy(&response.body);
        format!(
            "HTTP {}: {}",
            response.status,
            truncate(body.trim(), 200, "…")
        )
    } else {
        format!("HTTP {}", response.status)
    }
}

/// The outcome to store, and its label for the metrics.
fn finish(
    job: Job,
    started_at: i64,
    elapsed: Duration,
    request: Option<&OutboundRequest>,
    failure: Failure,
) -> (Outcome, &'static str) {
    let (verdict, status_code, error, response) = match failure {
        Failure::Render(error) => (
            Verdict::Failed,
            None,
            Some(format!("render: {error}")),
            None,
        ),
        Failure::Unsent(error) => (judge_error(&error), None, Some(error.to_string()), None),
        Failure::Answered(response, verdict, acted) => {
            let error = (verdict != Verdict::Succeeded).then(|| answer_error(&response));
            let mut shown = response.to_json(LOGGED_BODY_BYTES);
            if let (Some(acted), Some(fields)) = (acted, shown.as_object_mut()) {
                fields.insert("incident_update".into(), acted);
            }
            (
                verdict,
                Some(i32::from(response.status)),
                error,
                Some(shown),
            )
        }
    };
    let now = now_millis();
    let (status, outcome, next_attempt_at) = match &verdict {
        Verdict::Succeeded => (SUCCEEDED, "succeeded", now),
        Verdict::Retry { after } if job.attempt < job.max_attempts => {
            let delay = next_delay(job.attempt, *after, random_unit());
            (
                PENDING,
                "retrying",
                now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX),
            )
        }
        Verdict::Retry { .. } | Verdict::Failed => (FAILED, "failed", now),
    };
    let attempt = AttemptRow {
        delivery_id: job.delivery_id.clone(),
        attempt: i32::try_from(job.attempt).unwrap_or(i32::MAX),
        initiated_by: job.initiated_by.clone(),
        started_at,
        duration_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
        outcome: outcome.to_owned(),
        request: request
            .map_or_else(|| json!({}), |request| request.to_json(LOGGED_BODY_BYTES))
            .to_string(),
        response: response.map(|shown| shown.to_string()),
        error: error.clone(),
    };
    let change = StateChange {
        id: job.delivery_id,
        status,
        attempts: attempt.attempt,
        next_attempt_at,
        last_status_code: status_code,
        last_error: error,
        updated_at: now,
    };
    let stored = Outcome::Attempt {
        written: Box::new((attempt, change)),
        slot: job.slot,
    };
    (stored, outcome)
}
