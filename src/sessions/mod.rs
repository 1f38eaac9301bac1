//! Web console sessions (SPEC §9): signing in with an `admin` or `read` token (or the
//! configured `admin_token`, which signs in as an admin), a session kept in the database and
//! named by a random id in a cookie, a per-session token that every form must carry, and
//! sign-in attempts limited per client address.

mod attempts;

use std::net::IpAddr;
use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::ids::random_urlsafe;
use crate::store::ui_sessions::{Liveness, SessionRow};
use crate::store::{self, Store, StoreError};
use crate::timestamp::now_millis;
use crate::tokens::{AuthError, Authenticator, Caller, Scope, hash_secret};

pub use attempts::SignInAttempts;

/// A session ends after this long without a request...
const IDLE_MS: i64 = 12 * 60 * 60 * 1000;
/// ...and this long after sign-in however busy it is, so a stolen cookie does not live forever.
const LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Recording use at most once a minute keeps most requests a read.
const TOUCH_GRANULARITY_MS: i64 = 60_000;
const SECRET_BYTES: usize = 32;
/// Sign-in attempts each client address may make per minute.
pub const SIGN_IN_ATTEMPTS_PER_MINUTE: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("too many sign-in attempts from this address; wait a minute")]
    TooManyAttempts,
    #[error("that token is not valid")]
    InvalidToken,
    #[error("`{0}` tokens cannot sign in to the console; use an `admin` or `read` token")]
    ScopeCannotSignIn(Scope),
    #[error("not signed in, or the session ended")]
    SignedOut,
    #[error("the form is stale or did not come from this console; reload the page and try again")]
    FormToken,
    #[error("this session may only look: sign in with an `admin` token to change things")]
    ReadOnly,
    #[error("cannot generate a session: {0}")]
    Random(#[from] getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AuthError> for SessionError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::InvalidToken => SessionError::InvalidToken,
            AuthError::Store(error) => SessionError::Store(error),
        }
    }
}

/// A signed-in console user.
#[derive(Debug, Clone)]
pub struct Session {
    id_hash: String,
    pub caller: Caller,
    /// Goes into every form as a hidden field; posts must bring it back.
    pub form_token: String,
}

impl Session {
    /// Whether this session may change things (an `admin` token signed in).
    pub fn can_change(&self) -> bool {
        self.caller.scope == Scope::Admin
    }

    /// A post that changes nothing but the session itself (signing out) needs the form token.
    pub fn check_form(&self, presented: &str) -> Result<(), SessionError> {
        form_tokens_match(&self.form_token, presented)
    }

    /// A post that changes something needs the form token and an `admin` session.
    pub fn check_change(&self, presented: &str) -> Result<(), SessionError> {
        self.check_form(presented)?;
        if !self.can_change() {
            return Err(SessionError::ReadOnly);
        }
        Ok(())
    }
}

/// Compares a form token in constant time; an empty one never matches.
pub fn form_tokens_match(expected: &str, presented: &str) -> Result<(), SessionError> {
    let same = bool::from(expected.as_bytes().ct_eq(presented.as_bytes()));
    if expected.is_empty() || !same {
        return Err(SessionError::FormToken);
    }
    Ok(())
}

/// A random value for a form token or a session id.
pub fn new_secret() -> Result<String, SessionError> {
    Ok(random_urlsafe(SECRET_BYTES)?)
}

#[derive(Clone)]
pub struct Sessions {
    store: Store,
    authenticator: Authenticator,
    attempts: Arc<SignInAttempts>,
}

impl Sessions {
    pub fn new(store: Store, authenticator: Authenticator) -> Self {
        Self {
            store,
            authenticator,
            attempts: Arc::new(SignInAttempts::new(SIGN_IN_ATTEMPTS_PER_MINUTE)),
        }
    }

    /// Counts a sign-in attempt from `client`, refused once it is over the limit.
    pub fn admit_attempt(&self, client: IpAddr) -> Result<(), SessionError> {
        if self.attempts.admit(client) {
            Ok(())
        } else {
            Err(SessionError::TooManyAttempts)
        }
    }

    /// Starts a session for an `admin` or `read` token. Returns the cookie's value: the
    /// session id, stored only hashed.
    pub async fn sign_in(&self, presented: &str) -> Result<String, SessionError> {
        let caller = self.authenticator.authenticate(presented.trim()).await?;
        if caller.scope == Scope::Ingest {
            return Err(SessionError::ScopeCannotSignIn(caller.scope));
        }
        let secret = new_secret()?;
        let now = now_millis();
        let row = SessionRow {
            id_hash: hash_secret(&secret),
            credential_hash: hash_secret(presented.trim()),
            csrf_token: new_secret()?,
            created_at: now,
            last_used_at: now,
        };
        let live = liveness(now);
        self.store
            .write(move |conn| {
                // Sign-ins are few and rate-limited: the natural moment to forget old sessions.
                store::ui_sessions::prune(conn, live)?;
                store::ui_sessions::insert(conn, &row)
            })
            .await?;
        Ok(secret)
    }

    /// The live session a cookie names, with its token checked again: a revoked token or a
    /// changed `admin_token` ends it.
    pub async fn resolve(&self, secret: &str) -> Result<Session, SessionError> {
        let id_hash = hash_secret(secret);
        let now = now_millis();
        let row = self
            .store
            .read(move |conn| store::ui_sessions::find_live(conn, &id_hash, liveness(now)))
            .await?
            .ok_or(SessionError::SignedOut)?;
        let caller = match self
            .authenticator
            .authenticate_hash(&row.credential_hash)
            .await
        {
            Err(AuthError::InvalidToken) => return Err(SessionError::SignedOut),
            other => other?,
        };
        if now - row.last_used_at >= TOUCH_GRANULARITY_MS {
            let id_hash = row.id_hash.clone();
            self.store
                .write(move |conn| {
                    store::ui_sessions::touch(conn, &id_hash, now, TOUCH_GRANULARITY_MS)
                })
                .await?;
        }
        Ok(session(row, caller))
    }

    /// Ends the session: its row is deleted, so its cookie opens nothing any more.
    pub async fn sign_out(&self, session: &Session) -> Result<(), SessionError> {
        let id_hash = session.id_hash.clone();
        self.store
            .write(move |conn| store::ui_sessions::delete(conn, &id_hash))
            .await?;
        Ok(())
    }
}

fn liveness(now: i64) -> Liveness {
    Liveness {
        idle_since: now - IDLE_MS,
        born_since: now - LIFETIME_MS,
    }
}

fn session(row: SessionRow, caller: Caller) -> Session {
    Session {
        id_hash: row.id_hash,
        caller,
        form_token: row.csrf_token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_tokens_must_match_and_not_be_empty() {
        assert!(form_tokens_match("abc", "abc").is_ok());
        assert!(form_tokens_match("abc", "abd").is_err());
        assert!(form_tokens_match("abc", "").is_err());
        assert!(form_tokens_match("", "").is_err());
    }
}
