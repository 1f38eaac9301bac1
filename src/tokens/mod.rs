//! API tokens (SPEC §7): issued once, stored only as a SHA-256 hash, scoped `admin`, `read` or
//! `ingest`, revoked by deleting them.

mod authenticate;
mod bootstrap;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::{self, Change};
use crate::ids::{new_id, random_urlsafe};
use crate::store::tokens::TokenRow;
use crate::store::{self, Page, PageRequest, Store, StoreError};
use crate::timestamp::now_millis;

pub use authenticate::{AuthError, Authenticator, Caller};
pub use bootstrap::{ADMIN_TOKEN_FILE, BootstrapError, ensure_admin_exists};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everything.
    Admin,
    /// Every `GET`.
    Read,
    /// Alert and event intake only.
    Ingest,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Read => "read",
            Scope::Ingest => "ingest",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "admin" => Ok(Scope::Admin),
            "read" => Ok(Scope::Read),
            "ingest" => Ok(Scope::Ingest),
            other => Err(format!("unknown scope `{other}`")),
        }
    }
}

/// A token as listed: never the secret, only its last characters as a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub hint: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A newly created token with its secret, which is shown this once and never again.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: ApiToken,
    pub secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidName(&'static str),
    #[error("a token named `{0}` already exists")]
    NameTaken(String),
    #[error("no token with id `{0}`")]
    NotFound(String),
    #[error("cannot generate a token: {0}")]
    Random(#[from] getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const SECRET_PREFIX: &str = "sy_";
const SECRET_BYTES: usize = 32;
const HINT_CHARS: usize = 4;
const MAX_NAME_CHARS: usize = 100;

/// Hex SHA-256 of a presented or issued secret. Tokens carry 256 random bits, so a fast hash is
/// enough: there is nothing to brute-force that a slow hash would protect.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn validate_name(name: &str) -> Result<String, TokenError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TokenError::InvalidName("must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(TokenError::InvalidName("must be at most 100 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(TokenError::InvalidName(
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Builds the row for a new token; nothing is stored yet.
fn new_token(name: &str, scope: Scope, created_by: &str) -> Result<(TokenRow, String), TokenError> {
    let name = validate_name(name)?;
    let secret = format!("{SECRET_PREFIX}{}", random_urlsafe(SECRET_BYTES)?);
    let hint = secret[secret.len() - HINT_CHARS..].to_owned();
    let row = TokenRow {
        id: new_id("tok"),
        name,
        scope: scope.as_str().to_owned(),
        token_hash: hash_secret(&secret),
        hint,
        created_by: created_by.to_owned(),
        created_at: now_millis(),
        last_used_at: None,
    };
    Ok((row, secret))
}

/// Stores the token and its audit entry in the caller's transaction.
fn insert_token(conn: &mut store::AnyConnection, row: &TokenRow) -> Result<(), TokenError> {
    store::tokens::insert(conn, row).map_err(|error| {
        if error.is_unique_violation() {
            TokenError::NameTaken(row.name.clone())
        } else {
            error.into()
        }
    })?;
    audit::record(
        conn,
        Change {
            actor: &row.created_by,
            action: "token.created",
            resource_type: "token",
            resource_id: &row.id,
            details: audit_details(row),
        },
    )?;
    Ok(())
}

/// What the audit log keeps of a token: never the secret or its hash.
fn audit_details(row: &TokenRow) -> serde_json::Value {
    json!({ "name": row.name, "scope": row.scope, "hint": format!("…{}", row.hint) })
}

pub async fn create(
    store: &Store,
    name: &str,
    scope: Scope,
    actor: &str,
) -> Result<IssuedToken, TokenError> {
    let (row, secret) = new_token(name, scope, actor)?;
    let row = store
        .write(move |conn| insert_token(conn, &row).map(|()| row))
        .await?;
    Ok(IssuedToken {
        token: ApiToken::try_from(row)?,
        secret,
    })
}

pub async fn list(store: &Store, page: PageRequest) -> Result<Page<ApiToken>, TokenError> {
    let rows = store
        .read(move |conn| store::tokens::list(conn, &page))
        .await?;
    let items = rows
        .items
        .into_iter()
        .map(ApiToken::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        next_cursor: rows.next_cursor,
    })
}

pub async fn get(store: &Store, id: &str) -> Result<ApiToken, TokenError> {
    let id = id.to_owned();
    store
        .read(move |conn| {
            let row = store::tokens::find(conn, &id)?.ok_or(TokenError::NotFound(id))?;
            Ok(ApiToken::try_from(row)?)
        })
        .await
}

pub async fn revoke(store: &Store, id: &str, actor: &str) -> Result<(), TokenError> {
    let (id, actor) = (id.to_owned(), actor.to_owned());
    store
        .write(move |conn| {
            let row =
                store::tokens::find(conn, &id)?.ok_or_else(|| TokenError::NotFound(id.clone()))?;
            store::tokens::delete(conn, &id)?;
            // Console sessions signed in with it end with it (they check it on every request
            // too; this forgets their rows at once).
            store::ui_sessions::delete_for_credential(conn, &row.token_hash)?;
            audit::record(
                conn,
                Change {
                    actor: &actor,
                    action: "token.revoked",
                    resource_type: "token",
                    resource_id: &id,
                    details: audit_details(&row),
                },
            )?;
            Ok(())
        })
        .await
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        let scope = row.scope.parse().map_err(StoreError::Corrupt)?;
        Ok(Self {
            id: row.id,
            name: row.name,
            scope,
            hint: row.hint,
            created_by: row.created_by,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_tokens_store_only_a_hash_and_a_hint() {
        let (row, secret) = new_token("ci", Scope::Ingest, "cli").unwrap();
        assert!(secret.starts_with("sy_"));
        assert_eq!(row.token_hash, hash_secret(&secret));
        assert!(!row.token_hash.contains(&secret[3..]));
        assert!(secret.ends_with(&row.hint));
        assert_eq!(row.hint.len(), 4);
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(validate_name("  ci bot ").unwrap(), "ci bot");
        assert!(validate_name("   ").is_err());
        assert!(validate_name("a\nb").is_err());
        assert!(validate_name(&"x".repeat(101)).is_err());
    }

    #[test]
    fn scopes_round_trip_through_text() {
        for scope in [Scope::Admin, Scope::Read, Scope::Ingest] {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("root".parse::<Scope>().is_err());
    }
}
