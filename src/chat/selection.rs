//! Which trigger a request is for, and whether it may use it: the candidates that match the
//! message, narrowed to the one whose credentials the request presents.

use std::sync::Arc;

use super::ChatError;
use super::auth::{Credentials, verify_slack};
use super::message::{ChatMessage, Encoding};
use super::route::Route;
use super::routing::{Candidate, Index};
use super::trigger::Kind;

/// What proves a request's origin, and how to check it against a trigger.
pub struct Verifier<'a> {
    pub credentials: &'a Credentials,
    pub body: &'a [u8],
    pub encoding: Encoding,
    /// Unix seconds, for Slack's replay window.
    pub now: i64,
}

impl Verifier<'_> {
    fn accepts(&self, route: &Route) -> bool {
        match &route.spec.slack_signing_secret {
            // Slack signs POST bodies; a query string is never Slack's.
            Some(_) if self.encoding == Encoding::Query => false,
            Some(secret) => self.signed_by(secret.as_bytes()),
            None => self.credentials.presents_token(&route.spec.tokens),
        }
    }

    fn signed_by(&self, secret: &[u8]) -> bool {
        self.credentials
            .slack
            .as_ref()
            .is_some_and(|signature| verify_slack(secret, signature, self.body, self.now))
    }

    /// Whether the request comes from a chat some trigger of `kind` trusts, whatever it says.
    fn is_known(&self, index: &Index, kind: Kind) -> bool {
        index.knows_token(kind, self.credentials.token_digests())
            || (self.encoding != Encoding::Query
                && index
                    .signing_secrets(kind)
                    .iter()
                    .any(|secret| self.signed_by(secret)))
    }
}

/// The first candidate that accepts the request's credentials. A request that no candidate
/// accepts is refused; one that matches nothing is answered with nothing if its credentials
/// are known, refused otherwise, so strangers learn nothing about trigger words.
pub fn matched(
    index: &Index,
    message: &ChatMessage,
    verifier: &Verifier<'_>,
) -> Result<Option<Candidate>, ChatError> {
    let candidates = index.candidates(message);
    if candidates.is_empty() {
        return if verifier.is_known(index, message.kind) {
            Ok(None)
        } else {
            Err(ChatError::Unauthorized)
        };
    }
    candidates
        .into_iter()
        .find(|candidate| verifier.accepts(&candidate.route))
        .map(Some)
        .ok_or(ChatError::Unauthorized)
}

pub fn pinned(
    index: &Index,
    reference: &str,
    message: &ChatMessage,
    verifier: &Verifier<'_>,
) -> Result<Option<Candidate>, ChatError> {
    let route = index
        .find(reference)
        .filter(|route| route.spec.kind == message.kind)
        .ok_or_else(|| ChatError::NoSuchTrigger {
            kind: message.kind.as_str(),
            reference: reference.to_owned(),
        })?;
    if verifier.encoding == Encoding::Query && route.spec.slack_signing_secret.is_some() {
        return Err(ChatError::SignedNeedsPost);
    }
    if !verifier.accepts(route) {
        return Err(ChatError::Unauthorized);
    }
    Ok(route.fires_on(message).map(|trigger_word| Candidate {
        route: Arc::clone(route),
        trigger_word,
    }))
}
