//! The chat exchange log: for each request the gateway received, what it was, what it came to
//! and why, and for a forwarded one what each service was sent and answered and the reply.
//! On the request path an [`Exchange`] only takes what the request has anyway (moved, not
//! copied); one the log keeps is given its id and capped (`keep`), and masked and encoded when
//! `exchange_log` writes it.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Bytes;
use serde::Serialize;

use super::inbound::message::ChatMessage;
use super::replies::answer::Post;
use super::replies::reply::Outcome;
use super::routing::route::Route;
use super::trigger::Kind;
use crate::ids::id_at;
use crate::outbound::display::{LOGGED_BODY_BYTES, ShownRequest, ShownResponse, mask_in};
use crate::outbound::{OutboundRequest, OutboundResponse};
use crate::store::chat_exchanges::ExchangeRow;
use crate::timestamp::{rounded_millis, to_rfc3339};

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
    /// Given when the log keeps it.
    id: String,
    /// Unix nanoseconds.
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
    pub fn not_forwarded(
        received_at: i64,
        kind: Kind,
        message: Option<ChatMessage>,
        why: Why,
    ) -> Self {
        Self {
            id: String::new(),
            received_at,
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
        received_at: i64,
        route: Arc<Route>,
        message: ChatMessage,
        trigger_word: String,
        chat_token: String,
    ) -> Self {
        Self {
            id: String::new(),
            received_at,
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

    pub fn route(&self) -> Option<&Route> {
        self.route.as_deref()
    }

    /// The trigger whose log it belongs to (`None`: it matched none).
    pub fn trigger_id(&self) -> Option<&str> {
        self.route.as_ref().map(|route| route.id.as_str())
    }

    /// Readies an exchange the log keeps: its id, in the order exchanges are kept, and its
    /// bodies only as far as the log shows them, so that waiting exchanges hold little memory
    /// (what is cut keeps a few bytes beyond the limit, so that it is still shown cut).
    pub fn keep(&mut self) {
        self.id = id_at("chx", self.received_at);
        const KEPT_BYTES: usize = LOGGED_BODY_BYTES + 4;
        for call in &mut self.services {
            // The token is masked before a body is cut, so that no part of it is left at
            // the cut.
            if let Some(request) = &mut call.request
                && request.body.len() > KEPT_BYTES
            {
                request.body =
                    Bytes::from(masked_and_cut(&request.body, &self.chat_token, KEPT_BYTES));
            }
            if let Some(answer) = &mut call.answer
                && answer.body.len() > KEPT_BYTES
            {
                answer.body =
                    masked_and_cut(&answer.body, &self.chat_token, KEPT_BYTES).into_bytes();
            }
        }
    }

    /// The stored row: credentials masked, bodies capped at 64 KiB. Serialised straight from
    /// the exchange: no JSON tree is built.
    pub fn encode(&self) -> Result<ExchangeRow, serde_json::Error> {
        let field = |name: &str| {
            let value = self
                .message
                .as_ref()
                .map_or("", |message| message.field(name));
            (!value.is_empty()).then_some(value)
        };
        let record = Record {
            id: &self.id,
            received_at: to_rfc3339(self.received_at / 1_000_000),
            trigger: self.route.as_deref().map(|route| TriggerRef {
                id: &route.id,
                name: &route.spec.name,
            }),
            kind: self.kind.as_str(),
            platform: self
                .message
                .as_ref()
                .map(|message| message.platform.as_str()),
            team: Team {
                id: field("team_id"),
                domain: field("team_domain"),
            },
            channel: Named {
                id: field("channel_id"),
                name: field("channel_name"),
            },
            user: Named {
                id: field("user_id"),
                name: field("user_name"),
            },
            command: field("command"),
            text: field("text"),
            trigger_word: self.trigger_word.as_deref(),
            outcome: self.verdict.as_str(),
            reason: self.reason.as_deref(),
            services: self
                .services
                .iter()
                .map(|call| self.service_record(call))
                .collect(),
            reply: self.reply.as_ref(),
            posts: &self.posts,
        };
        Ok(ExchangeRow {
            id: self.id.clone(),
            trigger_id: self.trigger_id().map(str::to_owned),
            received_at: self.received_at / 1_000_000,
            outcome: self.verdict.as_str().to_owned(),
            record: self.masked(serde_json::to_string(&record)?),
        })
    }

    /// Services of Mattermost's formats get the chat's token in their body or query string,
    /// as Mattermost sends it, and a service may echo it in its answer: wherever it is in the
    /// record, it is masked.
    fn masked(&self, mut record: String) -> String {
        mask_in(&mut record, &self.chat_token);
        record
    }

    fn service_record<'a>(&'a self, call: &'a ServiceCall) -> ServiceRecord<'a> {
        let (outcome, error) = match &call.outcome {
            Outcome::Answered(_) => ("answered", None),
            Outcome::Nothing => ("nothing to post", None),
            Outcome::Failed(line) => ("failed", Some(line.as_str())),
        };
        let request = call
            .request
            .as_ref()
            .map(|request| request.shown(LOGGED_BODY_BYTES));
        ServiceRecord {
            service: &call.service,
            request,
            status: call.answer.as_ref().map(|answer| answer.status),
            latency_ms: call.latency.map(rounded_millis),
            answer: call
                .answer
                .as_ref()
                .map(|answer| answer.shown(LOGGED_BODY_BYTES)),
            outcome,
            error,
        }
    }
}

/// The stored JSON of an exchange.
#[derive(Serialize)]
struct Record<'a> {
    id: &'a str,
    received_at: String,
    trigger: Option<TriggerRef<'a>>,
    kind: &'static str,
    platform: Option<&'static str>,
    team: Team<'a>,
    channel: Named<'a>,
    user: Named<'a>,
    command: Option<&'a str>,
    text: Option<&'a str>,
    trigger_word: Option<&'a str>,
    outcome: &'static str,
    reason: Option<&'a str>,
    services: Vec<ServiceRecord<'a>>,
    reply: Option<&'a Post>,
    posts: &'a [Post],
}

#[derive(Serialize)]
struct TriggerRef<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Team<'a> {
    id: Option<&'a str>,
    domain: Option<&'a str>,
}

#[derive(Serialize)]
struct Named<'a> {
    id: Option<&'a str>,
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct ServiceRecord<'a> {
    service: &'a str,
    request: Option<ShownRequest<'a>>,
    status: Option<u16>,
    latency_ms: Option<f64>,
    answer: Option<ShownResponse<'a>>,
    outcome: &'static str,
    error: Option<&'a str>,
}

/// A long body as text, `secret` masked, cut to `max` bytes.
fn masked_and_cut(body: &[u8], secret: &str, max: usize) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    mask_in(&mut text, secret);
    text.truncate(text.floor_char_boundary(max));
    text
}
