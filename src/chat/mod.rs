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
//! - `triggered` records the `chat.triggered` events, `settings` holds the `chat.*` switches,
//!   `incidents` is the seam the incidents module implements for patches and commands.

pub mod forwarding;
mod gateway;
pub mod inbound;
pub mod incidents;
pub mod replies;
pub mod routing;
pub mod settings;
pub mod trigger;
pub mod triggered;

pub use gateway::{ChatAnswer, ChatError, Gateway, Inbound, ServiceAccess};
