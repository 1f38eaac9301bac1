//! The chat exchange log: for each request the gateway received, what it was, what it came to
//! and why, and for a forwarded one what each service was sent and answered and the reply.
//! On the request path an [`Exchange`] only takes what the request has anyway (moved, not
//! copied); masking, capping and encoding happen when the journal writes it.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::inbound::message::ChatMessage;
use super::replies::answer::Post;
use super::replies::reply::Outcome;
use super::routing::route::Route;
use super::trigger::Kind;
use crate::ids::new_id;
use crate::outbound::display::LOGGED_BODY_BYTES;
use crate::outbound::{OutboundRequest, OutboundResponse};
use crate::store::chat_exchanges::ExchangeRow;
use crate::timestamp::{now_millis, to_rfc3339};

/// What a request came to; `?outcome=` filters on these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Sent to the trigger's services.
    Forwarded,
    /// Authenticated, but no trigger fires on it: answered with nothing.
    Ignored,
    /// Not authenticated: `401`.
    Refused,
    /// Unreadable: `400`, `413` or `415`.
    Malformed,
    /// `chat.enabled` is off.
    Disabled,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Forwarded => "forwarded",
            Verdict::Ignored => "ignored",
            Verdict::Refused => "refused",
            Verdict::Malformed => "malformed",
            Verdict::Disabled => "disabled",
        }
    }

    pub const ALL: [Verdict; 5] = [
        Verdict::Forwarded,
        Verdict::Ignored,
        Verdict::Refused,
        Verdict::Malformed,
        Verdict::Disabled,
    ];
}

/// Why a request was not forwarded, and the trigger it was for, when one can be named.
#[derive(Debug)]
pub struct Why {
    pub verdict: Verdict,
    pub route: Option<Arc<Route>>,
    pub reason: Cow<'static, str>,
}

impl Why {
    pub fn new(
        verdict: Verdict,
        route: Option<&Arc<Route>>,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            verdict,
            route: route.cloned(),
            reason: reason.into(),
        }
    }
}

/// One service call of a forwarded request.
#[derive(Debug)]
pub struct ServiceCall {
    pub service: String,
    /// `None` for the built-in incident commands, and when no request could be built.
    pub request: Option<OutboundRequest>,
    pub latency: Option<Duration>,
    pub answer: Option<OutboundResponse>,
    pub outcome: Outcome,
}

impl ServiceCall {
    pub fn new(service: &str) -> Self {
        Self {
            service: service.to_owned(),
            request: None,
            latency: None,
            answer: None,
            outcome: Outcome::Nothing,
        }
    }
}

/// One request the gateway received and what became of it.
#[derive(Debug)]
pub struct Exchange {
    id: String,
    received_at: i64,
    kind: Kind,
    verdict: Verdict,
    route: Option<Arc<Route>>,
    reason: Option<Cow<'static, str>>,
    message: Option<ChatMessage>,
    trigger_word: Option<String>,
    /// The token the request presented, so that it is masked wherever a service's request
    /// repeats it.
    chat_token: String,
    pub services: Vec<ServiceCall>,
    /// What the chat server was answered.
    pub reply: Option<Post>,
    /// Asynchronous replies: the posts made after the answer.
    pub posts: Vec<Post>,
}

impl Exchange {
    /// A request that was not forwarded; `message` when it could be read.
    pub fn refused(kind: Kind, message: Option<ChatMessage>, why: Why) -> Self {
        Self {
            id: new_id("chx"),
            received_at: now_millis(),
            kind,
            verdict: why.verdict,
            route: why.route,
            reason: Some(why.reason),
            message,
            trigger_word: None,
            chat_token: String::new(),
            services: Vec::new(),
            reply: None,
            posts: Vec::new(),
        }
    }

    /// A forwarded request; its services, reply and posts are added as they are known.
    pub fn forwarded(
        route: Arc<Route>,
        message: ChatMessage,
        trigger_word: String,
        chat_token: String,
    ) -> Self {
        Self {
            id: new_id("chx"),
            received_at: now_millis(),
            kind: message.kind,
            verdict: Verdict::Forwarded,
            route: Some(route),
            reason: None,
            message: Some(message),
            trigger_word: Some(trigger_word),
            chat_token,
            services: Vec::new(),
            reply: None,
            posts: Vec::new(),
        }
    }

    /// The stored row: credentials masked, bodies capped at 64 KiB.
    pub fn encode(&self) -> ExchangeRow {
        let field = |name: &str| {
            let value = self
                .message
                .as_ref()
                .map_or("", |message| message.field(name));
            (!value.is_empty()).then_some(value)
        };
        let record = json!({
            "id": self.id,
            "received_at": to_rfc3339(self.received_at),
            "trigger": self.route.as_ref().map(|route| json!({"id": route.id, "name": route.spec.name})),
            "kind": self.kind.as_str(),
            "platform": self.message.as_ref().map(|message| message.platform.as_str()),
            "team": {"id": field("team_id"), "domain": field("team_domain")},
            "channel": {"id": field("channel_id"), "name": field("channel_name")},
            "user": {"id": field("user_id"), "name": field("user_name")},
            "command": field("command"),
            "text": field("text"),
            "trigger_word": self.trigger_word,
            "outcome": self.verdict.as_str(),
            "reason": self.reason,
            "services": self.services.iter().map(|call| self.service_json(call)).collect::<Vec<_>>(),
            "reply": self.reply,
            "posts": self.posts,
        });
        ExchangeRow {
            id: self.id.clone(),
            trigger_id: self.route.as_ref().map(|route| route.id.clone()),
            received_at: self.received_at,
            outcome: self.verdict.as_str().to_owned(),
            record: record.to_string(),
        }
    }

    fn service_json(&self, call: &ServiceCall) -> Value {
        let (outcome, error) = match &call.outcome {
            Outcome::Answered(_) => ("answered", None),
            Outcome::Nothing => ("nothing to post", None),
            Outcome::Failed(line) => ("failed", Some(line.as_str())),
        };
        let mut request = call
            .request
            .as_ref()
            .map(|request| request.to_json(LOGGED_BODY_BYTES));
        if let Some(request) = &mut request {
            self.mask_token(request);
        }
        json!({
            "service": call.service,
            "request": request,
            "status": call.answer.as_ref().map(|answer| answer.status),
            "latency_ms": call.latency.map(rounded_millis),
            "answer": call.answer.as_ref().map(|answer| answer.to_json(LOGGED_BODY_BYTES)),
            "outcome": outcome,
            "error": error,
        })
    }

    /// Services of Mattermost's formats get the chat's token in their body or query string, as
    /// Mattermost sends it; the log shows it masked.
    fn mask_token(&self, request: &mut Value) {
        if self.chat_token.is_empty() {
            return;
        }
        let encoded: String =
            url::form_urlencoded::byte_serialize(self.chat_token.as_bytes()).collect();
        for key in ["url", "body"] {
            if let Some(Value::String(text)) = request.get_mut(key)
                && (text.contains(&self.chat_token) || text.contains(&encoded))
            {
                *text = text
                    .replace(&self.chat_token, "[masked]")
                    .replace(&encoded, "[masked]");
            }
        }
    }
}

/// Milliseconds with at most three decimals, as people read latencies.
fn rounded_millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}
