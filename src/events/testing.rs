//! A real store and delivery engine behind an [`Outbox`], for unit tests of producers.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::Outbox;
use crate::config::{Config, DatabaseUrl};
use crate::delivery::{Answer, AnswerHandler, DeliveryEngine, DeliveryRunner};
use crate::outbound::{HttpClients, NetworkPolicy};
use crate::secrets::{Key, Secrets};
use crate::store::Store;
use crate::vars::{GlobalsSource, Vars};

/// Answers ask for nothing here: no incidents are wired in.
struct IgnoreAnswers;

impl AnswerHandler for IgnoreAnswers {
    fn handle<'a>(&'a self, _: &'a DeliveryEngine, _: Answer) -> BoxFuture<'a, Option<Value>> {
        Box::pin(async { None })
    }
}

pub struct OutboxFixture {
    /// Outbound requests may reach loopback, where the tests' receivers listen.
    pub config: Config,
    pub store: Store,
    pub outbox: Outbox,
    pub globals: GlobalsSource,
    runner: Option<DeliveryRunner>,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

impl OutboxFixture {
    /// A fresh SQLite database. The claimer runs only once [`OutboxFixture::run_engine`] was
    /// called: until then, only deliveries the outbox started are sent.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store = Store::open(DatabaseUrl::Sqlite(dir.path().join("t.db")))
            .await
            .expect("store")
            .with_secrets(Secrets::new(Key::generate().expect("key"), Vec::new()));
        let vars = Arc::new(Vars::load(store.clone()).await.expect("vars"));
        let mut config = Config::default();
        config.outbound.allowed_cidrs = vec!["127.0.0.0/8".parse().expect("network")];
        let clients = HttpClients::new(NetworkPolicy::new(&config.outbound)).expect("clients");
        let globals = GlobalsSource::new([], vars);
        let (engine, runner) = DeliveryEngine::new(
            store.clone(),
            clients,
            globals.clone(),
            Arc::new(IgnoreAnswers),
            &config,
            &prometheus::Registry::new(),
        )
        .expect("engine");
        Self {
            config,
            outbox: Outbox::new(store.clone(), engine),
            globals,
            store,
            runner: Some(runner),
            stop: CancellationToken::new(),
            _dir: dir,
        }
    }

    /// Starts the engine's claimer, as `serve` does.
    pub fn run_engine(&mut self) {
        if let Some(runner) = self.runner.take() {
            tokio::spawn(runner.run(self.stop.clone()));
        }
    }
}

impl Drop for OutboxFixture {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
