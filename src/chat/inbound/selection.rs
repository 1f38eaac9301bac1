//! Which trigger a request is for, and whether it may use it: the candidates that match the
//! message, narrowed to the one whose credentials the request presents. Nothing is answered
//! before authentication but "malformed": an unknown pinned trigger is a `401` like a wrong
//! token, so strangers learn neither trigger names nor trigger words.

use std::cell::RefCell;
use std::sync::Arc;

use super::auth::{Credentials, verify_slack};
use super::message::{ChatMessage, Encoding};
use crate::chat::ChatError;
use crate::chat::routing::route::Route;
use crate::chat::routing::table::{Candidate, Index};
use crate::chat::trigger::Kind;

/// What proves a request's origin, and how to check it against a trigger.
pub struct Verifier<'a> {
    credentials: Credentials<'a>,
    body: &'a [u8],
    encoding: Encoding,
    /// Unix seconds, for Slack's replay window.
    now: i64,
    /// Signing secrets checked so far, with the answer: each is checked once a request,
    /// however many candidates share it.
    checked: RefCell<Vec<(Arc<str>, bool)>>,
}

impl<'a> Verifier<'a> {
    pub fn new(credentials: Credentials<'a>, body: &'a [u8], encoding: Encoding, now: i64) -> Self {
        Self {
            credentials,
            body,
            encoding,
            now,
            checked: RefCell::new(Vec::new()),
        }
    }

    fn accepts(&self, route: &Route) -> bool {
        match &route.signing_secret {
            // Slack signs POST bodies; a query string is never Slack's.
            Some(_) if self.encoding == Encoding::Query => false,
            Some(secret) => self.signed_by(secret),
            None => self.credentials.presents_token(&route.spec.tokens),
        }
    }

    fn signed_by(&self, secret: &Arc<str>) -> bool {
        if let Some((_, verdict)) = self
            .checked
            .borrow()
            .iter()
            .find(|(seen, _)| **seen == **secret)
        {
            return *verdict;
        }
        let verdict = self.credentials.slack.is_some_and(|signature| {
            verify_slack(secret.as_bytes(), signature, self.body, self.now)
        });
        self.checked
            .borrow_mut()
            .push((Arc::clone(secret), verdict));
        verdict
    }

    /// Whether a presented token belongs to a trigger of `kind` that takes tokens. A
    /// signature is not tried against every signing secret: that would make a stranger's
    /// request cost more the more Slack apps there are.
    fn is_known(&self, index: &Index, kind: Kind) -> bool {
        index.knows_token(kind, self.credentials.token_digests())
    }
}

/// The first candidate that accepts the request's credentials. A request that no candidate
/// accepts is refused; one that matches nothing is answered with nothing if its token is
/// known, refused otherwise.
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

/// `/hooks/…/{trigger}`: that trigger alone, if the request may use it; a trigger that does
/// not exist (or is of the other kind) cannot authenticate anyone.
pub fn pinned(
    index: &Index,
    reference: &str,
    message: &ChatMessage,
    verifier: &Verifier<'_>,
) -> Result<Option<Candidate>, ChatError> {
    let route = index
        .find(reference)
        .filter(|route| route.spec.kind == message.kind)
        .filter(|route| verifier.accepts(route))
        .ok_or(ChatError::Unauthorized)?;
    Ok(route.fires_on(message).map(|trigger_word| Candidate {
        route: Arc::clone(route),
        trigger_word,
    }))
}
