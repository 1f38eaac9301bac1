//! What chat needs from incidents: applying a patch a service answered with, and the built-in
//! incident commands. Chat sits beside incidents, not above them, so it defines this seam and
//! the incidents module implements it; `startup` wires the two.

use futures_util::future::BoxFuture;
use serde_json::Value;

pub trait IncidentDesk: Send + Sync {
    /// Applies All Quiet `operations` to the incident `reference` (id or number) as `actor`;
    /// `Err` carries the reason it was refused, for the reply.
    fn patch<'a>(
        &'a self,
        reference: &'a str,
        operations: Value,
        actor: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// Runs a built-in incident command (`list`, `ack 12`, …) and answers with a post's text.
    fn command<'a>(&'a self, text: &'a str, actor: &'a str) -> BoxFuture<'a, String>;
}
