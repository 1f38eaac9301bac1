//! Forwarding a chat request to a trigger's services: the body each service receives, and the
//! call itself with its answer read into an outcome.

pub mod payload;
pub mod services;
