//! What a webhook's answer may do beyond succeeding: patch the incident its delivery concerned
//! (`incident_updates: true`). The delivery engine sits below incidents, so it defines this
//! seam and the incidents module implements it; `startup` wires the two.

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::DeliveryEngine;

/// A successful answer to a delivery of an incident event.
#[derive(Debug, Clone)]
pub struct Answer {
    pub delivery_id: String,
    pub incident_id: String,
    pub webhook_name: String,
    pub body: Vec<u8>,
}

pub trait AnswerHandler: Send + Sync {
    /// Acts on the answer; returns what happened, to be shown on the attempt, or `None` when
    /// the answer asked for nothing. The engine is handed in rather than held: the handler is
    /// built before the engine (which takes it at construction), and writes its patch through
    /// an outbox on this engine.
    fn handle<'a>(
        &'a self,
        engine: &'a DeliveryEngine,
        answer: Answer,
    ) -> BoxFuture<'a, Option<Value>>;
}
