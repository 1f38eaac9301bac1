//! Building and running the application: storage, the secrets key, the admin bootstrap, the
//! HTTP server, and the graceful stop on SIGTERM or Ctrl-C.

pub mod secrets;

use std::future::Future;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState, BodyLimit};
use crate::chat::replies::links::ReplyLinks;
use crate::chat::replies::posts;
use crate::chat::routing::triggers::Triggers;
use crate::chat::settings::ChatSettings;
use crate::chat::{Gateway, ServiceAccess};
use crate::config::Config;
use crate::delivery::{DeliveryEngine, DeliveryRunner};
use crate::events::Outbox;
use crate::incidents::{AnswerPatches, IncidentCommands};
use crate::outbound::client::ClientError;
use crate::outbound::{HttpClients, NetworkPolicy};
use crate::schedules::Schedules;
use crate::sessions::Sessions;
use crate::sources::Sources;
use crate::store::{Store, StoreError};
use crate::telemetry::metrics::Metrics;
use crate::templates::{self, formats::BuiltInError};
use crate::tokens::{Authenticator, BootstrapError, ensure_admin_exists};
use crate::vars::{GlobalsSource, Vars};
use crate::{ui, webhooks};

/// In-flight requests get this long to finish after a stop signal (SPEC §6.3).
const SHUTDOWN_GRACE_SECONDS: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database {url}: {source}")]
    Database { url: String, source: StoreError },
    #[error(transparent)]
    Secrets(#[from] secrets::SecretsStartError),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: io::Error },
    #[error("cannot set up metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Templates(#[from] BuiltInError),
    #[error("console page {0}")]
    ConsolePages(String),
}

pub struct Application {
    port: u16,
    server: Server,
    deliveries: DeliveryRunner,
    vars: Arc<Vars>,
    gateway: Arc<Gateway>,
    schedules: Schedules,
}

impl Application {
    /// Opens and migrates the database, makes sure an admin credential exists, and binds the
    /// listener (port 0 picks a free one). Serving starts with [`Application::run_until_stopped`].
    pub async fn build(config: Config, http_workers: usize) -> Result<Self, StartupError> {
        let wait = Duration::from_millis(config.limits.database_wait_ms);
        let store = Store::open_waiting(config.database_url.clone(), wait)
            .await
            .map_err(|source| StartupError::Database {
                url: config.database_url.to_string(),
                source,
            })?;
        let store = secrets::open(store, &config).await?;
        if let Some(path) = ensure_admin_exists(&store, &config).await? {
            tracing::warn!(
                path = %path.display(),
                "no admin token existed: generated one and wrote it to this file (readable by this user only)"
            );
        }
        let listener =
            TcpListener::bind(&config.listen).map_err(|source| StartupError::Listen {
                address: config.listen.to_string(),
                source,
            })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartupError::Listen {
                address: config.listen.to_string(),
                source,
            })?;
        let metrics = Metrics::new()?;
        let clients = HttpClients::new(NetworkPolicy::new(&config.outbound))?;
        templates::formats::load()?;
        ui::pages::load().map_err(StartupError::ConsolePages)?;
        let vars =
            Arc::new(
                Vars::load(store.clone())
                    .await
                    .map_err(|source| StartupError::Database {
                        url: config.database_url.to_string(),
                        source,
                    })?,
            );
        let env_allow = config
            .templates
            .env_allow
            .iter()
            .map(|name| name.0.as_str());
        let globals = GlobalsSource::new(env_allow, Arc::clone(&vars));
        let (engine, deliveries) = DeliveryEngine::new(
            store.clone(),
            clients.clone(),
            globals.clone(),
            Arc::new(AnswerPatches::new(store.clone())),
            &config,
            metrics.registry(),
        )?;
        let outbox = Outbox::new(store.clone(), engine.clone());
        let access = ServiceAccess {
            clients: clients.clone(),
            globals: globals.clone(),
            default_timeout_ms: config.outbound.default_timeout_ms,
        };
        let base_url = config
            .public_url
            .as_ref()
            .map_or_else(|| format!("http://{address}"), ToString::to_string);
        let schedules = Schedules::new(outbox.clone(), globals.clone());
        let sources = Sources::new(outbox.clone(), &base_url);
        let gateway = build_gateway(&outbox, access, &config, &base_url)
            .await
            .map_err(|source| StartupError::Database {
                url: config.database_url.to_string(),
                source,
            })?;
        let authenticator = Authenticator::new(store.clone(), config.admin_token.as_ref());
        let state = web::Data::new(AppState {
            sessions: Sessions::new(store.clone(), authenticator.clone()),
            authenticator,
            store,
            metrics,
            outbox,
            engine,
            clients,
            globals,
            gateway: Arc::clone(&gateway),
            schedules: schedules.clone(),
            sources,
            vars: Arc::clone(&vars),
            config: Arc::new(config),
            listening: address,
        });
        let server =
            http_server(state, listener, http_workers).map_err(|source| StartupError::Listen {
                address: address.to_string(),
                source,
            })?;
        tracing::info!(%address, "listening");
        Ok(Self {
            port: address.port(),
            server,
            deliveries,
            vars,
            gateway,
            schedules,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves and delivers until `shutdown` completes. Then the server stops taking connections
    /// and lets in-flight requests finish, after which the delivery engine stops (SPEC §6.3).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let stop_deliveries = CancellationToken::new();
        let deliveries = tokio::spawn(self.deliveries.run(stop_deliveries.clone()));
        tokio::spawn(self.vars.keep_fresh(stop_deliveries.clone()));
        self.gateway.run_background(&stop_deliveries);
        let stop_scheduler = CancellationToken::new();
        let scheduler = tokio::spawn(self.schedules.run_scheduler(stop_scheduler.clone()));
        let result = serve_until(self.server, shutdown).await;
        stop_scheduler.cancel();
        let _ = scheduler.await;
        self.gateway.finish().await;
        stop_deliveries.cancel();
        let _ = deliveries.await;
        result
    }
}

/// The chat side: triggers routed, settings loaded, the webhook that carries chat posts in
/// place, and incidents wired in for patches and built-in commands.
async fn build_gateway(
    outbox: &Outbox,
    access: ServiceAccess,
    config: &Config,
    base_url: &str,
) -> Result<Arc<Gateway>, StoreError> {
    let store = outbox.store();
    webhooks::ensure_managed(store, posts::REPLIES_WEBHOOK, posts::replies_webhook()).await?;
    let triggers = Triggers::load(store.clone()).await?;
    let settings = ChatSettings::load(store.clone(), config.chat.clone()).await?;
    let links = ReplyLinks::new(store.clone(), base_url);
    Ok(Arc::new(Gateway::new(
        outbox.clone(),
        access,
        Arc::new(IncidentCommands::new(outbox.clone())),
        triggers,
        settings,
        links,
    )))
}

async fn serve_until(server: Server, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => result,
        () = shutdown => {
            tracing::info!("stopping: finishing in-flight requests");
            // The stop command is processed by the server future itself, so both are driven together.
            let ((), result) = tokio::join!(handle.stop(true), server);
            result
        }
    }
}

/// How long an idle client connection is kept open. Longer than the idle timeout of the
/// clients that post here (Go's default `http.Transport` keeps idle connections 90 s; Mattermost
/// and most senders are Go): the client then closes first, so a request is never sent down a
/// connection the server is closing at that moment (which a client reports as an error, and
/// does not retry for a `POST`). actix-web's default is 5 s.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(120);

fn http_server(
    state: web::Data<AppState>,
    listener: TcpListener,
    workers: usize,
) -> io::Result<Server> {
    let body_limit = BodyLimit(state.config.limits.max_body_bytes);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(body_limit)
            .app_data(api::query_config())
            .wrap(from_fn(api::observe::observe))
            .configure(api::configure)
            .configure(ui::configure)
            .default_service(web::to(api::not_found))
    })
    .workers(workers.max(1))
    .keep_alive(KEEP_ALIVE)
    .shutdown_timeout(SHUTDOWN_GRACE_SECONDS)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = tokio::signal::ctrl_c();
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = interrupt.await;
        }
    }
}

/// HTTP workers for a normal start: one per core.
pub fn default_http_workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}
