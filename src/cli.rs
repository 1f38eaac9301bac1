//! The command line: `serve` (the default), `migrate`, `check-config`, `token create`,
//! `secrets new-key` and `secrets rotate`.

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigSource, DatabaseUrl};
use crate::secrets::{Key, KeyError};
use crate::startup::secrets::{self, SecretsStartError};
use crate::startup::{Application, StartupError, default_http_workers, shutdown_signal};
use crate::store::migrations;
use crate::store::{AnyConnection, Store, StoreError};
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
    /// Manage the key that seals stored credentials
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new random key, as secrets.key and secrets.key_file take it
    NewKey,
    /// Seal every stored credential again under secrets.key, in one transaction (the keys in
    /// secrets.previous_keys open what they sealed); afterwards they are no longer needed
    Rotate,
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

/// Exit status when a command failed while running (the server stopped with an error, …).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status when the command line, the configuration, or a stored template or schedule is
/// invalid (clap exits with 2 on a bad command line too).
pub const EXIT_CONFIG: u8 = 2;
/// Exit status when the database cannot be opened, reached or migrated.
pub const EXIT_DATABASE: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("database {url}: {source}")]
    Database { url: String, source: StoreError },
    #[error("database {url}: the folder {folder} does not exist")]
    MissingFolder { url: String, folder: PathBuf },
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Secrets(#[from] SecretsStartError),
    #[error("{resource} `{name}`: {problem}")]
    Broken {
        resource: &'static str,
        name: String,
        problem: Invalid,
    },
    #[error(transparent)]
    BuiltIn(#[from] BuiltInError),
    #[error("server stopped with an error: {0}")]
    Serve(#[from] io::Error),
    #[error("cannot write to standard output: {0}")]
    Output(io::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Broken { .. } => EXIT_CONFIG,
            CliError::Secrets(error) | CliError::Startup(StartupError::Secrets(error))
                if error.is_configuration() =>
            {
                EXIT_CONFIG
            }
            CliError::Database { .. }
            | CliError::MissingFolder { .. }
            | CliError::Startup(StartupError::Database { .. }) => EXIT_DATABASE,
            _ => EXIT_FAILURE,
        }
    }
}

pub async fn run(command: Command, config: Config, source: ConfigSource) -> Result<(), CliError> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            open_store(&config).await?;
            say(format_args!(
                "database {} is up to date",
                config.database_url
            ))
        }
        Command::CheckConfig => {
            say(format_args!("configuration is valid (from {source})"))?;
            say(format_args!("  listen        {}", config.listen))?;
            say(format_args!("  database_url  {}", config.database_url))?;
            say(format_args!("  public_url    {}", config.public_url()))?;
            check_database(&config).await
        }
        Command::Token {
            command: TokenCommand::Create { scope, name },
        } => {
            let store = open_store(&config).await?;
            let issued = tokens::create(&store, &name, scope.into(), "cli").await?;
            eprintln!(
                "created {} token `{}` ({}); it is shown only this once:",
                issued.token.scope, issued.token.name, issued.token.id
            );
            // The secret's only copy: a reader that is gone means it was lost, a failure.
            writeln!(io::stdout().lock(), "{}", issued.secret).map_err(CliError::Output)
        }
        Command::Secrets {
            command: SecretsCommand::NewKey,
        } => {
            let key =
                Key::generate().map_err(|error| SecretsStartError::Key(KeyError::from(error)))?;
            writeln!(io::stdout().lock(), "{}", key.encoded()).map_err(CliError::Output)
        }
        Command::Secrets {
            command: SecretsCommand::Rotate,
        } => {
            let store = secrets::open(open_store(&config).await?, &config).await?;
            let resealed = secrets::rotate(&store).await?;
            let key_id = store.secrets().current_id().unwrap_or_default().to_owned();
            say(format_args!(
                "sealed {resealed} webhooks, triggers and sources again under key {key_id}; secrets.previous_keys may now be removed"
            ))
        }
    }
}

/// Writes a line to standard output. A reader that stopped reading (`check-config | head -2`)
/// is no error: the rest of the output is dropped and the command finishes, so its exit
/// status still tells the outcome.
fn say(line: impl fmt::Display) -> Result<(), CliError> {
    match writeln!(io::stdout().lock(), "{line}") {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(CliError::Output(error)),
        _ => Ok(()),
    }
}

async fn open_store(config: &Config) -> Result<Store, CliError> {
    Store::open(config.database_url.clone())
        .await
        .map_err(|source| database_error(config, source))
}

fn database_error(config: &Config, source: StoreError) -> CliError {
    CliError::Database {
        url: config.database_url.to_string(),
        source,
    }
}

async fn serve(config: Config) -> Result<(), CliError> {
    let app = Application::build(config, default_http_workers()).await?;
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// What `check-config` finds in an existing database.
enum Stored {
    MigrationsPending,
    Compiles,
    Broken(&'static str, String, Invalid),
}

/// The built-in formats, every stored webhook's templates, and every stored schedule's cron,
/// zone, windows and payload template compile. The database is looked at, never changed: with
/// migrations pending, what is stored is checked after they run. A database that `serve` could
/// not open fails the check.
async fn check_database(config: &Config) -> Result<(), CliError> {
    formats::load()?;
    if let DatabaseUrl::Sqlite(path) = &config.database_url
        && !path.exists()
    {
        let folder = config.database_url.local_dir();
        if !folder.is_dir() {
            return Err(CliError::MissingFolder {
                url: config.database_url.to_string(),
                folder,
            });
        }
        return say("  database      does not exist yet (created at the first start)");
    }
    let stored = Store::inspect(config.database_url.clone(), inspect_stored)
        .await
        .map_err(|source| database_error(config, source))?;
    match stored {
        Stored::MigrationsPending => say(
            "  database      migrations pending (run `switchyard migrate`); templates not checked",
        ),
        Stored::Compiles => say("  templates     every stored template and schedule compiles"),
        Stored::Broken(resource, name, problem) => Err(CliError::Broken {
            resource,
            name,
            problem,
        }),
    }
}

fn inspect_stored(conn: &mut AnyConnection) -> Result<Stored, StoreError> {
    if migrations::has_pending(conn)? {
        return Ok(Stored::MigrationsPending);
    }
    if let Some((name, problem)) = webhooks::first_broken(conn)? {
        return Ok(Stored::Broken("webhook", name, problem));
    }
    Ok(
        schedules::first_broken(conn)?.map_or(Stored::Compiles, |(name, problem)| {
            Stored::Broken("schedule", name, problem)
        }),
    )
}
