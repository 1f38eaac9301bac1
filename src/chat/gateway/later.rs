//! Replies made after the chat was answered: an asynchronous trigger's services called and
//! their replies posted, and the posts services send to the gateway's own `response_url`s.

use std::sync::Arc;

use futures_util::future::join_all;

use super::Gateway;
use crate::chat::ChatAnswer;
use crate::chat::ChatError;
use crate::chat::exchange::Exchange;
use crate::chat::forwarding::payload::Forwarded;
use crate::chat::forwarding::services::{self, Request};
use crate::chat::inbound::message::{ChatMessage, MessageError};
use crate::chat::replies::answer::{self, Post, Read};
use crate::chat::replies::posts::{Conversation, reply_events, store_posts};
use crate::chat::replies::reply::Outcome;
use crate::chat::routing::route::Route;
use crate::chat::trigger::{Kind, ReplySpec};

/// The immediate answer of an asynchronous slash command without `reply.ack_text`.
const WORKING_ON_IT: &str = "Working on it…";

impl Gateway {
    /// `async` mode: each service's reply is posted when it arrives; the exchange is logged
    /// once every service has answered.
    pub(super) async fn reply_later(
        self: Arc<Self>,
        owned: OwnedRequest,
        conversation: Option<Conversation>,
        acknowledgement: Option<Post>,
    ) {
        let request = owned.request();
        let (clients, globals) = self.call_context();
        let caller = self.caller(&clients, &globals);
        let (conversation, route, gateway) = (conversation.as_ref(), &owned.route, &self);
        let answered = join_all(route.services.iter().map(|service| async move {
            let call = services::call(caller, request, service).await;
            let posts = match conversation {
                Some(conversation) => gateway.post(route, conversation, &call.outcome).await,
                None => {
                    tracing::warn!(
                        trigger = %route.spec.name,
                        "an asynchronous reply has nowhere to go: the request had no response_url and the trigger no reply.post_url"
                    );
                    Vec::new()
                }
            };
            (call, posts)
        }))
        .await;
        let OwnedRequest {
            received_at,
            route,
            message,
            trigger_word,
            chat_token,
            ..
        } = owned;
        let mut exchange =
            Exchange::forwarded(received_at, route, message, trigger_word, chat_token);
        exchange.reply = acknowledgement;
        for (call, posts) in answered {
            exchange.services.push(call);
            exchange.posts.extend(posts);
        }
        self.exchanges.record(exchange);
    }

    /// Stores the posts of one outcome, each a delivery of its own, and returns them.
    async fn post(
        &self,
        route: &Route,
        conversation: &Conversation,
        outcome: &Outcome,
    ) -> Vec<Post> {
        let max = conversation.max_chars(self.settings.max_post_chars());
        let rules = self.rules(conversation.kind, &route.spec.reply, max);
        let posts = if conversation.splits() {
            rules.posts(outcome)
        } else {
            rules
                .join(std::slice::from_ref(outcome))
                .into_iter()
                .collect()
        };
        if posts.is_empty() {
            return posts;
        }
        let stored = match reply_events(conversation, &route.spec.name, &posts) {
            Ok(events) => self.outbox.write(move |tx| store_posts(tx, events)).await,
            Err(error) => Err(error),
        };
        if let Err(error) = stored {
            tracing::error!(trigger = %route.spec.name, %error, "could not store a chat reply");
        }
        posts
    }

    /// A post to `/hooks/reply/{id}`: the answer, in a service answer's format, is posted
    /// into the conversation the link belongs to.
    pub async fn reply_to_link(
        &self,
        id: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), ChatError> {
        // Read as Mattermost reads posts to its own response URLs (JSON when the media type is
        // `application/json`, else text), and first: an unreadable post spends no use.
        self.links.check_usable(id).await?;
        let answer = match answer::read(Kind::Slash, content_type, body, false) {
            Read::Answer(answer) => *answer,
            Read::Empty => return Ok(()),
            Read::Unusable(reason) => return Err(MessageError::Json(reason).into()),
        };
        let conversation = self.links.take(id).await?;
        let index = self.triggers.routing().current();
        let Some(route) = index.find(&conversation.trigger_id) else {
            tracing::warn!("a reply link was used after its trigger was deleted; nothing posted");
            return Ok(());
        };
        let (clients, globals) = self.call_context();
        let caller = self.caller(&clients, &globals);
        let outcome = services::apply_patch(caller, route, &route.spec.name, answer).await;
        self.post(route, &conversation, &outcome).await;
        Ok(())
    }
}

pub(super) fn acknowledgement(kind: Kind, reply: &ReplySpec) -> ChatAnswer {
    match (kind, reply.ack_text.as_deref()) {
        (Kind::Outgoing, _) | (Kind::Slash, Some("")) => ChatAnswer::Empty,
        (Kind::Slash, text) => ChatAnswer::Post(Box::new(Post {
            response_type: Some("ephemeral".to_owned()),
            text: Some(text.unwrap_or(WORKING_ON_IT).to_owned()),
            ..Post::default()
        })),
    }
}

/// A request's parts, owned, for replies made after the chat was answered.
pub(super) struct OwnedRequest {
    pub(super) received_at: i64,
    pub(super) route: Arc<Route>,
    pub(super) message: ChatMessage,
    pub(super) trigger_word: String,
    pub(super) response_url: Option<String>,
    pub(super) request_id: String,
    pub(super) chat_token: String,
}

impl OwnedRequest {
    fn request(&self) -> Request<'_> {
        Request {
            route: &self.route,
            forwarded: Forwarded {
                message: &self.message,
                trigger_name: &self.route.spec.name,
                trigger_word: &self.trigger_word,
                response_url: self.response_url.as_deref(),
            },
            request_id: &self.request_id,
            chat_token: &self.chat_token,
        }
    }
}
