//! Chat → services (SPEC §3): receive a Mattermost or Slack outgoing webhook or slash command,
//! authenticate it, match it to a trigger, forward it to the trigger's services and turn their
//! answers into the reply, at once or in later posts. The [`Gateway`] runs that path:
//!
//! - `inbound`: what arrived and who sent it: the request parsed (`message`, `fields`, `wire`
//!   for Mattermost's encodings), its credentials (`auth`), the trigger it is for (`selection`).
//! - `routing`: triggers compiled (`route`) into the indexed routing table (`table`), and the
//!   trigger resource that rebuilds it (`triggers`); `trigger` is the resource's definition.
//! - `forwarding`: what a service receives (`payload`) and calling it (`services`).
//! - `replies`: answers read (`answer`) and joined into the reply (`reply`), later posts
//!   (`posts`) and the gateway's own `response_url`s (`links`).
//! - `exchange` is the exchange log's record of one request (what came, what it came to and
//!   why, what services were sent and answered); `exchange_log` keeps the latest of each
//!   trigger and stores them off the request path; `triggered` records the `chat.triggered`
//!   events; both write through `gathering`, which batches writes a moment after the first
//!   addition.
//! - `settings` holds the `chat.*` switches; `incidents` is the seam the incidents module
//!   implements for patches and commands.

pub mod exchange;
pub mod exchange_log;
pub mod forwarding;
mod gateway;
mod gathering;
pub mod inbound;
pub mod incidents;
pub mod replies;
pub mod routing;
pub mod settings;
pub mod trigger;
pub mod triggered;

pub use gateway::{Gateway, ServiceAccess};

use hyper::body::Bytes;

use crate::store::StoreError;
use inbound::auth::SlackSignature;
use inbound::message::{Encoding, MessageError};
use replies::answer::Post;
use replies::links::LinkError;
use trigger::Kind;

/// A chat request as the HTTP layer hands it over.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub kind: Kind,
    /// `/hooks/…/{trigger}`: only this trigger (id or name) is considered.
    pub pinned: Option<String>,
    pub encoding: Encoding,
    /// The raw body (the query string for `GET`), exactly as received: signatures cover it.
    pub body: Bytes,
    pub authorization: Option<String>,
    pub slack: Option<SlackSignature>,
}

/// What the chat server gets back.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatAnswer {
    /// `200` with an empty body: nothing to post.
    Empty,
    /// `200` with the post as JSON.
    Post(Box<Post>),
}

impl ChatAnswer {
    pub fn post(&self) -> Option<&Post> {
        match self {
            ChatAnswer::Empty => None,
            ChatAnswer::Post(post) => Some(post),
        }
    }
}

/// What a chat user reads when their request needed the database while it was away.
pub const UNAVAILABLE_TEXT: &str =
    "Switchyard cannot reach its database right now; try again in a moment.";

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("chat triggers are disabled (chat.enabled is off)")]
    Disabled,
    #[error(transparent)]
    Malformed(#[from] MessageError),
    /// Answered with a bare `401`: nothing about why.
    #[error("not authenticated")]
    Unauthorized,
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ChatError {
    /// The request needed the database, which is away or full for now.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ChatError::Store(store) | ChatError::Link(LinkError::Store(store)) => {
                store.is_unavailable()
            }
            _ => false,
        }
    }
}
