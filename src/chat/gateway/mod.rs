//! The gateway: one chat request from arrival to reply. It parses and authenticates the
//! request, picks its trigger, forwards it to the trigger's services, and answers at once
//! (`sync`) or acknowledges and posts each service's reply later (`async`, in `later`).

mod later;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::exchange::{Exchange, ServiceCall, Verdict, Why};
use super::exchange_log::{self, ExchangeLog};
use super::forwarding::payload::Forwarded;
use super::forwarding::services::{self, Caller, Request};
use super::inbound::auth::Credentials;
use super::inbound::message::ChatMessage;
use super::inbound::selection::{Selection, Verifier, matched, pinned};
use super::incidents::IncidentDesk;
use super::replies::links::ReplyLinks;
use super::replies::posts::Conversation;
use super::replies::reply::Rules;
use super::routing::table::Candidate;
use super::routing::triggers::Triggers;
use super::settings::ChatSettings;
use super::trigger::{Kind, ReplyMode, ReplySpec};
use super::triggered::{self, TriggeredEvents};
use super::{ChatAnswer, ChatError, Inbound};

use crate::events::Outbox;
use crate::ids::new_id;
use crate::outbound::HttpClients;
use crate::periodic;
use crate::templates::Globals;
use crate::timestamp::now_nanos;
use crate::vars::GlobalsSource;
use later::{OwnedRequest, acknowledgement};

const PRUNE_LINKS_EVERY: Duration = Duration::from_secs(60 * 60);
/// At a stop, asynchronous replies get this long to finish, as deliveries do (SPEC §6.3).
const REPLIES_GRACE: Duration = Duration::from_secs(10);

/// How the gateway reaches services: the outbound clients, what templates read besides the
/// request, and the timeout of a service that sets none.
pub struct ServiceAccess {
    pub clients: HttpClients,
    pub globals: GlobalsSource,
    pub default_timeout_ms: u64,
}

pub struct Gateway {
    outbox: Outbox,
    access: ServiceAccess,
    incidents: Arc<dyn IncidentDesk>,
    triggers: Triggers,
    settings: Arc<ChatSettings>,
    links: ReplyLinks,
    triggered: TriggeredEvents,
    exchanges: ExchangeLog,
    /// Asynchronous replies run on the main runtime, which outlives the HTTP workers at a
    /// stop; a stop gives them [`REPLIES_GRACE`] to finish.
    runtime: Handle,
    replies: TaskTracker,
}

impl Gateway {
    /// Call on the main runtime: asynchronous replies and event writes run there.
    /// `incidents` applies incident patches and runs the built-in incident commands.
    pub fn new(
        outbox: Outbox,
        access: ServiceAccess,
        incidents: Arc<dyn IncidentDesk>,
        triggers: Triggers,
        settings: Arc<ChatSettings>,
        links: ReplyLinks,
    ) -> Self {
        Self {
            triggered: TriggeredEvents::new(outbox.clone(), triggered::GATHER_FOR),
            exchanges: ExchangeLog::new(outbox.store().clone(), exchange_log::GATHER_FOR),
            outbox,
            access,
            incidents,
            triggers,
            settings,
            links,
            runtime: Handle::current(),
            replies: TaskTracker::new(),
        }
    }

    pub fn triggers(&self) -> &Triggers {
        &self.triggers
    }

    pub fn settings(&self) -> &ChatSettings {
        &self.settings
    }

    /// Keeps the routing table and the settings current and prunes spent reply links, until
    /// `stop`.
    pub fn run_background(&self, stop: &CancellationToken) {
        tokio::spawn(self.triggers.clone().keep_fresh(stop.clone()));
        tokio::spawn(Arc::clone(&self.settings).keep_fresh(stop.clone()));
        let (links, stop) = (self.links.clone(), stop.clone());
        tokio::spawn(async move {
            periodic::every(PRUNE_LINKS_EVERY, stop, || async {
                if let Err(error) = links.prune().await {
                    tracing::warn!(%error, "cannot prune expired reply links");
                }
            })
            .await;
        });
    }

    /// What calling services needs now: this thread's connection pools, the template globals.
    fn call_context(&self) -> (Arc<HttpClients>, Globals) {
        (
            self.access.clients.on_this_thread(),
            self.access.globals.current(),
        )
    }

    fn caller<'a>(&'a self, clients: &'a HttpClients, globals: &'a Globals) -> Caller<'a> {
        Caller {
            clients,
            default_timeout_ms: self.access.default_timeout_ms,
            globals,
            incidents: self.incidents.as_ref(),
        }
    }

    fn rules<'a>(&self, kind: Kind, reply: &'a ReplySpec, max_post_chars: usize) -> Rules<'a> {
        Rules {
            kind,
            reply,
            allow_username_override: self.settings.allow_username_override(),
            allow_icon_override: self.settings.allow_icon_override(),
            max_post_chars,
        }
    }

    /// At a stop, after the last request: lets asynchronous replies finish (for up to
    /// [`REPLIES_GRACE`]) and stores the `chat.triggered` events and exchanges still queued.
    pub async fn finish(&self) {
        self.replies.close();
        if tokio::time::timeout(REPLIES_GRACE, self.replies.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.replies.len(),
                "asynchronous chat replies still waiting for their services at the stop; they are dropped"
            );
        }
        self.triggered.flush().await;
        self.exchanges.flush().await;
    }

    /// `chat.enabled` is the master switch of `/hooks/outgoing` and `/hooks/slash`.
    pub fn check_enabled(&self, kind: Kind) -> Result<(), ChatError> {
        if self.settings.enabled() {
            return Ok(());
        }
        let why = Why::new(
            Verdict::Disabled,
            None,
            "chat is disabled (chat.enabled is off)",
        );
        self.not_forwarded(kind, None, why);
        Err(ChatError::Disabled)
    }

    /// A request that could not be read (`413`, `415`): logged like any other.
    pub fn unreadable(&self, kind: Kind, reason: String) {
        self.not_forwarded(kind, None, Why::new(Verdict::Malformed, None, reason));
    }

    /// Logs a request that was not forwarded, and why.
    fn not_forwarded(&self, kind: Kind, message: Option<ChatMessage>, why: Why) {
        self.exchanges.not_forwarded(kind, message, why);
    }

    /// Authenticates, matches and forwards one chat request (SPEC §3.2–3.4).
    pub async fn receive(self: &Arc<Self>, inbound: Inbound) -> Result<ChatAnswer, ChatError> {
        let received_at = now_nanos();
        let parsed = ChatMessage::parse(
            inbound.kind,
            inbound.encoding,
            &inbound.body,
            inbound.slack.is_some(),
        );
        let message = match parsed {
            Ok(message) => message,
            Err(error) => {
                let why = Why::new(Verdict::Malformed, None, error.to_string());
                self.not_forwarded(inbound.kind, None, why);
                return Err(error.into());
            }
        };
        let credentials = Credentials::new(
            message.token(),
            inbound.authorization.as_deref(),
            inbound.slack.as_ref(),
        );
        let index = self.triggers.routing().current();
        let now = chrono::Utc::now().timestamp();
        let verifier = Verifier::new(credentials, &inbound.body, inbound.encoding, now);
        let selection = match &inbound.pinned {
            Some(reference) => pinned(&index, reference, &message, &verifier),
            None => matched(&index, &message, &verifier),
        };
        let candidate = match selection {
            Selection::Chosen(candidate) => candidate,
            Selection::Not(why) => {
                let verdict = why.verdict;
                self.not_forwarded(inbound.kind, Some(message), why);
                return match verdict {
                    Verdict::Ignored => Ok(ChatAnswer::Empty),
                    _ => Err(ChatError::Unauthorized),
                };
            }
        };
        let chat_token = credentials.tokens().next().unwrap_or_default().to_owned();
        self.forward(received_at, candidate, message, chat_token)
            .await
    }

    async fn forward(
        self: &Arc<Self>,
        received_at: i64,
        candidate: Candidate,
        message: ChatMessage,
        chat_token: String,
    ) -> Result<ChatAnswer, ChatError> {
        let Candidate {
            route,
            trigger_word,
        } = candidate;
        let conversation = Conversation::of(&route, &message);
        let response_url = match &conversation {
            Some(conversation) => Some(self.links.create(conversation).await?),
            None => None,
        };
        self.triggered
            .record_forwarded(&route, &message, &trigger_word);
        let forwarded = Forwarded {
            message: &message,
            trigger_name: &route.spec.name,
            trigger_word: &trigger_word,
            response_url: response_url.as_deref(),
        };
        let request_id = new_id("chat");
        let request = Request {
            route: &route,
            forwarded,
            request_id: &request_id,
            chat_token: &chat_token,
        };
        if route.spec.reply.mode == ReplyMode::Sync {
            let (answer, calls) = self.reply_now(request).await;
            let mut exchange = Exchange::forwarded(
                received_at,
                Arc::clone(&route),
                message,
                trigger_word,
                chat_token,
            );
            exchange.services = calls;
            exchange.reply = answer.post().cloned();
            self.exchanges.record(exchange);
            return Ok(answer);
        }
        let acknowledgement = acknowledgement(message.kind, &route.spec.reply);
        let owned = OwnedRequest {
            received_at,
            route: Arc::clone(&route),
            message,
            trigger_word,
            response_url,
            request_id,
            chat_token,
        };
        self.replies.spawn_on(
            Arc::clone(self).reply_later(owned, conversation, acknowledgement.post().cloned()),
            &self.runtime,
        );
        Ok(acknowledgement)
    }

    /// `sync` mode: every service's answer, joined into the answer to the chat's request.
    async fn reply_now(&self, request: Request<'_>) -> (ChatAnswer, Vec<ServiceCall>) {
        let (clients, globals) = self.call_context();
        let caller = self.caller(&clients, &globals);
        let route = request.route;
        let calls = join_all(
            route
                .services
                .iter()
                .map(|service| services::call(caller, request, service)),
        )
        .await;
        let kind = request.forwarded.message.kind;
        let answer = self
            .rules(kind, &route.spec.reply, self.settings.max_post_chars())
            .join(calls.iter().map(|call| &call.outcome))
            .map_or(ChatAnswer::Empty, |reply| ChatAnswer::Post(Box::new(reply)));
        (answer, calls)
    }
}
