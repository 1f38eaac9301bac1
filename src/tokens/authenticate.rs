//! Turning a presented bearer token into a caller with a scope.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiToken, Scope};
use crate::config::Secret;
use crate::store::{self, Store, StoreError};
use crate::timestamp::now_millis;

/// Who is calling, for scope checks and for the `actor` of audit and timeline entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `None` for the `admin_token` of the configuration, which has no stored row.
    pub token_id: Option<String>,
    pub name: String,
    pub scope: Scope,
}

impl Caller {
    pub fn actor(&self) -> String {
        match self.token_id {
            Some(_) => format!("token:{}", self.name),
            None => "config:admin_token".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the token is not valid")]
    InvalidToken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Recording `last_used_at` at most once a minute keeps authentication a read on most requests.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    config_admin_digest: Option<[u8; 32]>,
}

impl Authenticator {
    pub fn new(store: Store, admin_token: Option<&Secret>) -> Self {
        Self {
            store,
            config_admin_digest: admin_token
                .map(|token| Sha256::digest(token.expose().as_bytes()).into()),
        }
    }

    /// Both comparisons run on SHA-256 digests of the presented value, so their timing tells an
    /// attacker nothing about a real token: the configured token is compared in constant time,
    /// stored ones are found by the digest, which a caller cannot steer.
    pub async fn authenticate(&self, presented: &str) -> Result<Caller, AuthError> {
        self.by_digest(Sha256::digest(presented.as_bytes()).into())
            .await
    }

    /// The caller whose token has this hex SHA-256 ([`super::hash_secret`]): how a console session
    /// checks on each request that the token it signed in with is still valid.
    pub async fn authenticate_hash(&self, hash: &str) -> Result<Caller, AuthError> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hash, &mut digest).map_err(|_| AuthError::InvalidToken)?;
        self.by_digest(digest).await
    }

    async fn by_digest(&self, digest: [u8; 32]) -> Result<Caller, AuthError> {
        if let Some(admin) = &self.config_admin_digest
            && bool::from(admin.ct_eq(&digest))
        {
            return Ok(Caller {
                token_id: None,
                name: "admin_token".into(),
                scope: Scope::Admin,
            });
        }
        let hash = hex::encode(digest);
        let row = self
            .store
            .read(move |conn| store::tokens::find_by_hash(conn, &hash))
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let token = ApiToken::try_from(row)?;
        self.note_use(&token);
        Ok(Caller {
            token_id: Some(token.id),
            name: token.name,
            scope: token.scope,
        })
    }

    /// Updates `last_used_at` off the request path; a failure only costs that timestamp.
    fn note_use(&self, token: &ApiToken) {
        let now = now_millis();
        if token
            .last_used_at
            .is_some_and(|used| now - used < LAST_USED_GRANULARITY_MS)
        {
            return;
        }
        let store = self.store.clone();
        let id = token.id.clone();
        tokio::spawn(async move {
            let result = store
                .write(move |conn| {
                    store::tokens::touch_last_used(conn, &id, now, LAST_USED_GRANULARITY_MS)
                })
                .await;
            if let Err(error) = result {
                tracing::warn!(%error, "could not record token use");
            }
        });
    }
}
