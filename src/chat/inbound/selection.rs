//! Which trigger a request is for, and whether it may use it: the candidates that match the
//! message, narrowed to the one whose credentials the request presents. Nothing is answered
//! before authentication but "malformed": an unknown pinned trigger is a `401` like a wrong
//! token, so strangers learn neither trigger names nor trigger words. Why a request was not
//! forwarded is worked out only when it was not, for the exchange log.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use super::auth::{Credentials, SlackRefusal, check_slack, verify_slack};
use super::message::{ChatMessage, Encoding};
use crate::chat::exchange::{Verdict, Why};
use crate::chat::routing::route::Route;
use crate::chat::routing::table::{Candidate, Index};
use crate::chat::trigger::Kind;

/// The trigger a request is for, or why none.
#[derive(Debug)]
pub enum Selection {
    Chosen(Candidate),
    /// Ignored (answered with nothing) or refused (`401`).
    Not(Why),
}

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
            None => self.credentials.presents_token(&route.token_digests),
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

    /// Why `route` does not accept the request's credentials (asked only of a route that did
    /// not).
    fn refusal(&self, route: &Route) -> Cow<'static, str> {
        match (&route.signing_secret, self.credentials.slack) {
            (Some(_), _) if self.encoding == Encoding::Query => {
                "Slack-signed triggers take POST requests only".into()
            }
            (Some(_), None) => "no Slack signature".into(),
            (Some(secret), Some(signature)) => {
                check_slack(secret.as_bytes(), signature, self.body, self.now)
                    .err()
                    .unwrap_or(SlackRefusal::Mismatch)
                    .to_string()
                    .into()
            }
            (None, _) if self.credentials.tokens().next().is_none() => "no token".into(),
            (None, _) => "the token is not the trigger's".into(),
        }
    }

    /// Why a request that no trigger fires on gets nothing (its token is a trigger's: that
    /// trigger says why it did not fire) or is refused.
    fn unmatched(&self, index: &Index, message: &ChatMessage) -> Why {
        if let Some(route) = index.route_with_token(message.kind, self.credentials.token_digests())
        {
            return Why::new(Verdict::Ignored, Some(route), route.why_not_fired(message));
        }
        let reason = if self.credentials.tokens().next().is_some() {
            "no trigger matches this token"
        } else if self.credentials.slack.is_some() {
            "no Slack-signed trigger matches this command"
        } else {
            "no token"
        };
        Why::new(Verdict::Refused, None, reason)
    }
}

/// The first candidate that accepts the request's credentials. A request that no candidate
/// accepts is refused; one that matches nothing is answered with nothing if its token is
/// known, refused otherwise.
pub fn matched(index: &Index, message: &ChatMessage, verifier: &Verifier<'_>) -> Selection {
    let mut candidates = index.candidates(message);
    let Some(first) = candidates.first() else {
        return Selection::Not(verifier.unmatched(index, message));
    };
    match candidates
        .iter()
        .position(|candidate| verifier.accepts(&candidate.route))
    {
        Some(chosen) => Selection::Chosen(candidates.swap_remove(chosen)),
        None => Selection::Not(Why::new(
            Verdict::Refused,
            Some(&first.route),
            verifier.refusal(&first.route),
        )),
    }
}

/// `/hooks/…/{trigger}`: that trigger alone, if the request may use it; a trigger that does
/// not exist (or is of the other kind) cannot authenticate anyone.
pub fn pinned(
    index: &Index,
    reference: &str,
    message: &ChatMessage,
    verifier: &Verifier<'_>,
) -> Selection {
    let refused = |route, reason: Cow<'static, str>| {
        Selection::Not(Why::new(Verdict::Refused, route, reason))
    };
    let Some(route) = index.find(reference) else {
        return refused(None, "no trigger has this id or name".into());
    };
    if route.spec.kind != message.kind {
        let takes = match route.spec.kind {
            Kind::Outgoing => "the trigger takes outgoing webhooks, not slash commands",
            Kind::Slash => "the trigger takes slash commands, not outgoing webhooks",
        };
        return refused(Some(route), takes.into());
    }
    if !verifier.accepts(route) {
        return refused(Some(route), verifier.refusal(route));
    }
    match route.fires_on(message) {
        Some(trigger_word) => Selection::Chosen(Candidate {
            route: Arc::clone(route),
            trigger_word,
        }),
        None => Selection::Not(Why::new(
            Verdict::Ignored,
            Some(route),
            route.why_not_fired(message),
        )),
    }
}
