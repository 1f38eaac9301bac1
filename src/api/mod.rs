//! The HTTP surface (SPEC §2): thin handlers that parse a request, call a domain function and
//! map its result. Every route is registered in [`configure`].

mod audit;
pub mod auth;
pub mod body;
mod deliveries;
mod error;
mod events;
mod exchanges;
mod health;
mod hooks;
mod incidents;
pub mod observe;
pub mod openapi;
mod paging;
mod schedules;
mod settings;
mod sources;
mod tokens;
mod triggers;
mod vars;
mod webhooks;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, Resource, web};

pub use body::{ApiJson, BodyLimit};
pub use error::{ApiError, ErrorBody};

use crate::chat::Gateway;
use crate::config::Config;
use crate::delivery::DeliveryEngine;
use crate::events::Outbox;
use crate::outbound::HttpClients;
use crate::schedules::Schedules;
use crate::sessions::Sessions;
use crate::sources::Sources;
use crate::store::Store;
use crate::telemetry::metrics::Metrics;
use crate::tokens::Authenticator;
use crate::vars::{GlobalsSource, Vars};

/// What handlers share. Built once in `startup` and handed to every worker.
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub authenticator: Authenticator,
    pub metrics: Metrics,
    /// Where events go out: every producer writes through it.
    pub outbox: Outbox,
    /// For the delivery log's retries and replays alone.
    pub engine: DeliveryEngine,
    /// The outbound clients (and their network policy), for tests and for checking URLs.
    pub clients: HttpClients,
    pub globals: GlobalsSource,
    pub gateway: Arc<Gateway>,
    pub schedules: Schedules,
    pub sources: Sources,
    pub vars: Arc<Vars>,
    /// The web console's sessions and sign-in limit.
    pub sessions: Sessions,
    /// The address the server listens on (a port of 0 resolved): the console's "try it" sends
    /// its chat requests here, to the real `/hooks/…` routes.
    pub listening: std::net::SocketAddr,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/readyz").route(web::get().to(health::readyz)))
        .service(resource("/metrics").route(web::get().to(health::metrics)))
        .configure(hooks::routes)
        .service(
            web::scope("/api/v1")
                .service(resource("/openapi.json").route(web::get().to(openapi::openapi_json)))
                .configure(tokens::routes)
                .configure(audit::routes)
                .configure(webhooks::routes)
                .configure(events::routes)
                .configure(deliveries::routes)
                .configure(vars::routes)
                .configure(incidents::routes)
                .configure(triggers::routes)
                .configure(exchanges::routes)
                .configure(schedules::routes)
                .configure(sources::routes)
                .configure(settings::routes),
        );
}

/// A resource whose unsupported methods get the JSON error shape instead of a bare `405`.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(|req: HttpRequest| async move {
        Err::<HttpResponse, _>(ApiError::method_not_allowed(format!(
            "{} is not supported on this route",
            req.method()
        )))
    }))
}

/// Answers requests no route matched.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("no such route"))
}

/// Query strings that cannot be decoded are the caller's fault, reported in the usual shape.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        ApiError::malformed(format!("invalid query string: {error}")).into()
    })
}
