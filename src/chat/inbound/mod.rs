//! What arrived and who sent it: a chat request parsed from its form, JSON or query string,
//! its credentials checked, and the one trigger it is for.

pub mod auth;
pub mod fields;
pub mod message;
pub mod selection;
pub mod wire;
