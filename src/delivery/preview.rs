//! Previewing a webhook's request and sending a test, outside the queue (SPEC §6.2).

use std::time::Instant;

use super::render::{RenderError, Target, build_request, render};
use crate::ids::new_id;
use crate::model::EncodedEvent;
use crate::outbound::{HttpClients, OutboundRequest, OutboundResponse, SendError};
use crate::templates::Globals;
use crate::webhooks::Webhook;

/// The request exactly as it would be sent now (headers still unmasked: mask before showing).
pub fn build(
    webhook: &Webhook,
    event: &EncodedEvent,
    globals: &Globals,
) -> Result<OutboundRequest, RenderError> {
    let delivery_id = new_id("dlv");
    let target = Target {
        webhook,
        event,
        delivery_id: &delivery_id,
        attempt: 1,
    };
    let rendered = render(target, globals)?;
    Ok(build_request(webhook, event, &delivery_id, rendered))
}

pub struct TestResult {
    pub request: OutboundRequest,
    pub outcome: Result<OutboundResponse, SendError>,
    pub duration_ms: u128,
}

/// Sends the request now, through the same guarded clients as real deliveries.
pub async fn send_test(
    clients: &HttpClients,
    default_timeout_ms: u64,
    webhook: &Webhook,
    event: &EncodedEvent,
    globals: &Globals,
) -> Result<TestResult, RenderError> {
    let request = build(webhook, event, globals)?;
    let endpoint = &webhook.spec.endpoint;
    let started = Instant::now();
    let outcome = clients
        .send(
            &request,
            endpoint.timeout(default_timeout_ms),
            endpoint.allow_insecure_tls,
        )
        .await;
    Ok(TestResult {
        request,
        outcome,
        duration_ms: started.elapsed().as_millis(),
    })
}
