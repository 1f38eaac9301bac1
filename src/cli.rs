//! The command line: `serve` (the default), `migrate`, `check-config`, `token create`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigSource, DatabaseUrl};
use crate::startup::{Application, StartupError, default_http_workers, shutdown_signal};
use crate::store::migrations;
use crate::store::{Store, StoreError};
use crate::templates::formats::{self, BuiltInError};
use crate::tokens::{self, Scope, TokenError};
use crate::validation::Invalid;
use crate::{schedules, webhooks};

const LONG_ABOUT: &str = "\
Switchyard is a self-hosted gateway between chat platforms and the services a team runs.

Mattermost and Slack send it outgoing webhooks and slash commands, which it authenticates,
matches and forwards to your services, posting their answers back. It also takes in alerts and
object events, keeps incidents, and delivers templated, signed, retried webhooks.

With no configuration it serves on 127.0.0.1:8080 with an SQLite database switchyard.db in the
working directory. Every configuration key can be set in a TOML file (--config) or through a
SWITCHYARD_* environment variable (SWITCHYARD_DATABASE_URL, SWITCHYARD_CHAT_ENABLED, ...).";

#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about = "Gateway between chat platforms and the services a team runs", long_about = LONG_ABOUT)]
pub struct Cli {
    /// Configuration file (TOML) [default: switchyard.toml in the working directory, if present]
    #[arg(long, global = true, env = "SWITCHYARD_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and hooks, deliver webhooks and fire schedules (the default)
    Serve,
    /// Apply pending database migrations, then exit
    Migrate,
    /// Validate the configuration and every stored template, then exit
    CheckConfig,
    /// Manage API tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it once (only its hash is stored)
    Create {
        /// What the token may do: admin (everything), read (every GET), ingest (alerts and events)
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// A name to recognise the token by in lists and the audit log
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    Admin,
    Read,
    Ingest,
}

impl From<ScopeArg> for Scope {
    fn from(scope: ScopeArg) -> Self {
        match scope {
            ScopeArg::Admin => Scope::Admin,
            ScopeArg::Read => Scope::Read,
            ScopeArg::Ingest => Scope::Ingest,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("{resource} `{name}`: {problem}")]
    Broken {
        resource: &'static str,
        name: String,
        problem: Invalid,
    },
    #[error(transparent)]
    BuiltIn(#[from] BuiltInError),
    #[error("server stopped with an error: {0}")]
    Serve(#[from] std::io::Error),
}

pub async fn run(command: Command, config: Config, source: ConfigSource) -> Result<(), CliError> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            Store::open(config.database_url.clone()).await?;
            println!("database {} is up to date", config.database_url);
            Ok(())
        }
        Command::CheckConfig => {
            println!("configuration is valid (from {source})");
            println!("  listen        {}", config.listen);
            println!("  database_url  {}", config.database_url);
            println!("  public_url    {}", config.public_url());
            check_database(&config).await
        }
        Command::Token {
            command: TokenCommand::Create { scope, name },
        } => {
            let store = Store::open(config.database_url.clone()).await?;
            let issued = tokens::create(&store, &name, scope.into(), "cli").await?;
            eprintln!(
                "created {} token `{}` ({}); it is shown only this once:",
                issued.token.scope, issued.token.name, issued.token.id
            );
            println!("{}", issued.secret);
            Ok(())
        }
    }
}

async fn serve(config: Config) -> Result<(), CliError> {
    let app = Application::build(config, default_http_workers()).await?;
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The built-in formats, every stored webhook's templates, and every stored schedule's cron,
/// zone, windows and payload template compile. The database is looked at, never changed: with
/// migrations pending, what is stored is checked after they run.
async fn check_database(config: &Config) -> Result<(), CliError> {
    formats::load()?;
    if let DatabaseUrl::Sqlite(path) = &config.database_url
        && !path.exists()
    {
        println!("  database      does not exist yet (created at the first start)");
        return Ok(());
    }
    let outcome = Store::inspect(config.database_url.clone(), |conn| {
        if migrations::has_pending(conn)? {
            return Ok(None);
        }
        if let Some((name, problem)) = webhooks::first_broken(conn)? {
            return Ok(Some(Some(("webhook", name, problem))));
        }
        Ok(Some(
            schedules::first_broken(conn)?.map(|(name, problem)| ("schedule", name, problem)),
        ))
    })
    .await;
    // The configuration can be right while its database is down (an image being built, a
    // server not started yet): that is reported, not a failed check.
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            println!("  database      not reachable ({error}); stored templates not checked");
            return Ok(());
        }
    };
    match outcome {
        None => {
            println!(
                "  database      migrations pending (run `switchyard migrate`); templates not checked"
            );
            Ok(())
        }
        Some(None) => {
            println!("  templates     every stored template and schedule compiles");
            Ok(())
        }
        Some(Some((resource, name, problem))) => Err(CliError::Broken {
            resource,
            name,
            problem,
        }),
    }
}
