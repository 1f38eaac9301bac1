//! Secrets at rest at the start (SPEC §6.5): the key loaded or generated, checked against the
//! keys the database records, and, on the first start that records one, every credential
//! already stored sealed and every chat token hashed. Also the rotation.

use std::sync::Arc;

use crate::chat::routing::triggers;
use crate::config::Config;
use crate::secrets::{self, KEY_FILE, KeyError, KeySource, Resealing, Secrets};
use crate::store::{self, AnyConnection, Store, StoreError};
use crate::timestamp::now_millis;
use crate::{sources, webhooks};

#[derive(Debug, thiserror::Error)]
pub enum SecretsStartError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "no secrets key: the database's secrets are sealed with key {0}; set secrets.key or secrets.key_file, or put back the {KEY_FILE} file kept beside the database"
    )]
    Missing(String),
    #[error(
        "the secrets key does not open the database's secrets: they are sealed with key {recorded}, and the keys configured are {configured}; set secrets.key to that key, or add it to secrets.previous_keys"
    )]
    Wrong {
        recorded: String,
        configured: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SecretsStartError {
    /// A key missing, not the one that sealed, or a key file that holds no key: the
    /// configuration's fault (exit status 2), not the run's.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            SecretsStartError::Missing(_)
                | SecretsStartError::Wrong { .. }
                | SecretsStartError::Key(KeyError::Invalid { .. } | KeyError::Read { .. })
        )
    }
}

/// Loads the key (generating it on a database that records none), checks that it and
/// `secrets.previous_keys` open everything stored, and returns the store sealing with it.
pub async fn open(store: Store, config: &Config) -> Result<Store, SecretsStartError> {
    let recorded = store.read(store::secret_keys::ids).await?;
    let default_file = config.database_url.local_dir().join(KEY_FILE);
    let (key, source) = secrets::load(
        config.secrets.key.as_ref(),
        config.secrets.key_file.as_deref(),
        &default_file,
        recorded.is_empty(),
    )?
    .ok_or_else(|| SecretsStartError::Missing(recorded.join(", ")))?;
    if let KeySource::Generated(path) = &source {
        tracing::warn!(
            path = %path.display(),
            "no secrets key was configured: generated one into this file (readable by this user only); back it up apart from the database"
        );
    }
    let store = store.with_secrets(Secrets::new(key, config.secrets.previous_keys.clone()));
    let secrets = Arc::clone(store.secrets());
    let sealed = store.write(move |conn| record(conn, &secrets)).await?;
    if sealed > 0 {
        tracing::warn!(
            resources = sealed,
            "found credentials stored in clear (by a version before secrets were sealed): sealed them under the secrets key"
        );
    }
    Ok(store)
}

/// Re-seals every stored credential under the current key in one transaction, after which
/// only the current key is recorded: `secrets.previous_keys` may then be dropped. Returns how
/// many resources were sealed again.
pub async fn rotate(store: &Store) -> Result<usize, SecretsStartError> {
    let secrets = Arc::clone(store.secrets());
    store
        .write(move |conn| {
            store::secret_keys::lock(conn)?;
            check_known(&store::secret_keys::ids(conn)?, &secrets)?;
            let resealed = reseal_all(conn, &secrets, Resealing::Everything)?;
            let current = secrets.current_id().unwrap_or_default();
            store::secret_keys::record(conn, current, now_millis())?;
            store::secret_keys::keep_only(conn, current)?;
            Ok(resealed)
        })
        .await
}

/// Checks the recorded keys and records the current one, in one transaction with processes
/// starting beside this one, and seals whatever is stored in clear: by a version before
/// secrets were sealed (the first start after the upgrade), or by one still running beside
/// this one. Returns how many resources were sealed.
fn record(conn: &mut AnyConnection, secrets: &Secrets) -> Result<usize, SecretsStartError> {
    store::secret_keys::lock(conn)?;
    check_known(&store::secret_keys::ids(conn)?, secrets)?;
    store::secret_keys::record_sealing(conn, secrets)?;
    Ok(reseal_all(conn, secrets, Resealing::Clear)?)
}

fn check_known(recorded: &[String], secrets: &Secrets) -> Result<(), SecretsStartError> {
    match recorded.iter().find(|id| !secrets.knows(id)) {
        None => Ok(()),
        Some(unknown) => Err(SecretsStartError::Wrong {
            recorded: unknown.clone(),
            configured: secrets.ids().join(", "),
        }),
    }
}

fn reseal_all(
    conn: &mut AnyConnection,
    secrets: &Secrets,
    which: Resealing,
) -> Result<usize, StoreError> {
    Ok(webhooks::reseal_stored(conn, secrets, which)?
        + triggers::reseal_stored(conn, secrets, which)?
        + sources::reseal_stored(conn, secrets, which)?)
}
