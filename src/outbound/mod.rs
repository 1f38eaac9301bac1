//! Outbound HTTP, shared by webhook deliveries and chat forwarding: endpoints, headers,
//! authentication, signing, the SSRF guard and the pooled clients.

pub mod client;
pub mod display;
pub mod endpoint;
pub mod headers;
pub mod request;
pub mod secret;
pub mod signing;
pub mod ssrf;
mod tls;

pub use client::{HttpClients, OutboundResponse, SendError};
pub use endpoint::{Auth, Endpoint, HttpMethod, Signing};
pub use request::{Body, OutboundRequest, RequestSpec};
pub use ssrf::{NetworkPolicy, SsrfError};
