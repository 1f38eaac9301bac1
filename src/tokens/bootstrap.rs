//! The first admin token (SPEC §1): with no `admin_token` configured and no admin token stored,
//! a start generates one and writes it to a file only the service's user can read.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{Scope, TokenError, insert_token, new_token};
use crate::config::Config;
use crate::store::{self, Store};

pub const ADMIN_TOKEN_FILE: &str = "switchyard-admin.token";
const BOOTSTRAP_TOKEN_NAME: &str = "bootstrap-admin";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("cannot write the admin token to {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Returns the path of the token file when a token was generated. The file is written inside
/// the transaction that stores the token, so a token nobody can read is never committed.
pub async fn ensure_admin_exists(
    store: &Store,
    config: &Config,
) -> Result<Option<PathBuf>, BootstrapError> {
    if config.admin_token.is_some() {
        return Ok(None);
    }
    let path = config.database_url.local_dir().join(ADMIN_TOKEN_FILE);
    let (row, secret) = new_token(BOOTSTRAP_TOKEN_NAME, Scope::Admin, "system:bootstrap")?;
    let outcome = store
        .write(move |conn| {
            if store::tokens::count_with_scope(conn, Scope::Admin.as_str())? > 0 {
                return Ok(None);
            }
            insert_token(conn, &row)?;
            write_private_file(&path, &secret)?;
            Ok(Some(path))
        })
        .await;
    match outcome {
        // Another instance sharing the database bootstrapped at the same moment.
        Err(BootstrapError::Token(TokenError::NameTaken(_))) => Ok(None),
        other => other,
    }
}

/// Writes `secret` to a new file with mode 0600, replacing an older one.
fn write_private_file(path: &Path, secret: &str) -> Result<(), BootstrapError> {
    let io_error = |source| BootstrapError::File {
        path: path.to_owned(),
        source,
    };
    match fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(io_error(error)),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error)?;
    writeln!(file, "{secret}")
        .and_then(|()| file.sync_all())
        .map_err(io_error)
}

impl From<crate::store::StoreError> for BootstrapError {
    fn from(error: crate::store::StoreError) -> Self {
        BootstrapError::Token(error.into())
    }
}
