//! Sources (SPEC §4.5): named intake endpoints that take a sender's requests as the sender
//! makes them and map them to alerts and events. `spec` is the resource, `auth` checks who
//! sent a request, `presets` (and `custom`) map each sender's documents, `intake` stores what
//! a request became, together with the request itself in the source's log.

mod auth;
mod custom;
mod intake;
mod presets;
mod request;
mod spec;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;

pub use custom::{Mapping, MappingTarget};
pub use intake::{LoggedRequest, Preview};
pub use request::SourceRequest;
pub use spec::{HmacScheme, SourceAuth, SourceKind, SourceSpec};

use crate::audit::{self, Change};
use crate::events::Outbox;
use crate::ids::{new_id, random_urlsafe};
use crate::outbound::secret::mask;
use crate::secrets::{self, Resealing, Secrets};
use crate::store::sources::SourceRow;
use crate::store::{self, AnyConnection, Page, PageRequest, StoreError};
use crate::timestamp::now_millis;
use crate::validation::Invalid;
use custom::CompiledMapping;

/// Bytes of randomness in a URL token.
const TOKEN_BYTES: usize = 24;

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub id: String,
    pub spec: SourceSpec,
    /// The end of the URL token, for recognising it.
    pub token_hint: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A source with its URL token, which is shown this once.
#[derive(Debug, Clone)]
pub struct Issued {
    pub source: Source,
    pub token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a source named `{0}` already exists")]
    NameTaken(String),
    #[error("no source `{0}`")]
    NotFound(String),
    /// Answered with a bare `401`.
    #[error("not authenticated")]
    Unauthorized,
    #[error("cannot generate a token: {0}")]
    Random(#[from] getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Source {
    /// The stored source, its credentials opened.
    fn from_row(row: &SourceRow, secrets: &Secrets) -> Result<Self, StoreError> {
        let spec = secrets
            .open(&row.config)
            .map_err(|error| StoreError::unreadable("source", &row.id, error))?;
        Ok(Self {
            id: row.id.clone(),
            spec,
            token_hint: row.token_hint.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    fn to_row(&self, token: Option<&str>, secrets: &Secrets) -> Result<SourceRow, StoreError> {
        Ok(SourceRow {
            id: self.id.clone(),
            name: self.spec.name.clone(),
            kind: self.spec.kind.as_str().to_owned(),
            enabled: self.spec.enabled,
            config: secrets.seal(&self.spec)?,
            token_hash: token.map(|token| hex::encode(auth::token_digest(token))),
            token_hint: token.map(mask),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    fn needs_token(&self) -> bool {
        self.spec.auth == SourceAuth::UrlToken
    }
}

/// Seals stored sources' credentials again under the current key (those in clear, or all),
/// reading them with any known key; returns how many were. URL tokens stay as they are: only
/// their hash is stored.
pub fn reseal_stored(
    conn: &mut AnyConnection,
    secrets: &Secrets,
    which: Resealing,
) -> Result<usize, StoreError> {
    let rows = store::sources::all(conn)?;
    let in_clear = |row: &SourceRow| {
        secrets::holds_clear::<SourceSpec>(&row.config)
            .map_err(|error| StoreError::unreadable("source", &row.id, error))
    };
    which.apply(rows, in_clear, |row| {
        let config = secrets.seal(&Source::from_row(&row, secrets)?.spec)?;
        store::sources::update(conn, &SourceRow { config, ..row }).map(drop)
    })
}

/// The source resource, and where its requests come in.
#[derive(Clone)]
pub struct Sources {
    outbox: Outbox,
    /// `public_url`: the start of every source's URL.
    base_url: String,
    mappings: Arc<Mutex<KeptMappings>>,
}

/// Custom mappings compiled, by source id, with the `updated_at` they were compiled from.
type KeptMappings = HashMap<String, (i64, Arc<CompiledMapping>)>;

impl Sources {
    pub fn new(outbox: Outbox, base_url: &str) -> Self {
        Self {
            outbox,
            base_url: base_url.trim_end_matches('/').to_owned(),
            mappings: Arc::default(),
        }
    }

    /// Where the sender posts: with the URL token when it is given (only at creation and
    /// rotation), else with its hint.
    pub fn url(&self, source: &Source, token: Option<&str>) -> String {
        let base = format!("{}/hooks/in/{}", self.base_url, source.id);
        match (source.needs_token(), token, &source.token_hint) {
            (false, _, _) => format!("{}/hooks/in/{}", self.base_url, source.spec.name),
            (true, Some(token), _) => format!("{base}/{token}"),
            (true, None, Some(hint)) => format!("{base}/{hint}"),
            (true, None, None) => base,
        }
    }

    pub async fn create(&self, mut spec: SourceSpec, actor: &str) -> Result<Issued, SourceError> {
        spec.validate()?;
        let now = now_millis();
        let token = (spec.auth == SourceAuth::UrlToken)
            .then(new_token)
            .transpose()?;
        let source = Source {
            id: new_id("src"),
            spec,
            token_hint: token.as_deref().map(mask),
            created_at: now,
            updated_at: now,
        };
        let actor = actor.to_owned();
        let secrets = self.secrets();
        let (source, token) = self
            .outbox
            .store()
            .write(move |conn| {
                store::secret_keys::record_sealing(conn, &secrets)?;
                store::sources::insert(conn, &source.to_row(token.as_deref(), &secrets)?).map_err(
                    |error| error.unique_or(|| SourceError::NameTaken(source.spec.name.clone())),
                )?;
                let details = json!({ "source": source.spec.masked() });
                audit::record(
                    conn,
                    Change::of(&actor, "source.created", &source.id, details),
                )?;
                Ok::<_, SourceError>((source, token))
            })
            .await?;
        Ok(Issued { source, token })
    }

    pub async fn get(&self, id: &str) -> Result<Source, SourceError> {
        let id = id.to_owned();
        let secrets = self.secrets();
        self.outbox
            .store()
            .read(move |conn| Ok(Source::from_row(&find(conn, &id)?, &secrets)?))
            .await
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<Source>, SourceError> {
        let secrets = self.secrets();
        self.outbox
            .store()
            .read(move |conn| {
                let page = store::sources::list(conn, &page)?;
                Ok(page.try_map(|row| Source::from_row(row, &secrets))?)
            })
            .await
    }

    fn secrets(&self) -> Arc<Secrets> {
        Arc::clone(self.outbox.store().secrets())
    }

    /// Replaces a source's definition; secrets sent back masked keep their value. A source that
    /// turns to `url_token` without a token gets one, shown this once.
    pub async fn replace(
        &self,
        id: &str,
        mut spec: SourceSpec,
        actor: &str,
    ) -> Result<Issued, SourceError> {
        let current = self.get(id).await?;
        spec.keep_masked_secrets(&current.spec);
        spec.validate()?;
        let updated = Source {
            spec,
            updated_at: now_millis().max(current.updated_at + 1),
            ..current.clone()
        };
        let token = (updated.needs_token() && current.token_hint.is_none())
            .then(new_token)
            .transpose()?;
        // A source leaving `url_token` forgets its token: coming back issues a new one.
        let drops_token = !updated.needs_token() && current.token_hint.is_some();
        let actor = actor.to_owned();
        let secrets = self.secrets();
        let replaced = self
            .outbox
            .store()
            .write(move |conn| {
                store::secret_keys::record_sealing(conn, &secrets)?;
                let row = updated.to_row(token.as_deref(), &secrets)?;
                let found = store::sources::update(conn, &row).map_err(|error| {
                    error.unique_or(|| SourceError::NameTaken(row.name.clone()))
                })?;
                if !found {
                    return Err(SourceError::NotFound(row.id));
                }
                let hint = token.as_deref().map(mask);
                if hint.is_some() || drops_token {
                    store::sources::set_token(
                        conn,
                        &row.id,
                        row.token_hash.as_deref(),
                        hint.as_deref(),
                        row.updated_at,
                    )?;
                }
                let details = audit::changes(&current.spec.masked(), &updated.spec.masked());
                audit::record(conn, Change::of(&actor, "source.updated", &row.id, details))?;
                let kept_hint = updated.token_hint.clone().filter(|_| !drops_token);
                let source = Source {
                    token_hint: hint.or(kept_hint),
                    ..updated
                };
                Ok(Issued { source, token })
            })
            .await?;
        Ok(replaced)
    }

    pub async fn delete(&self, id: &str, actor: &str) -> Result<(), SourceError> {
        let (id, actor) = (id.to_owned(), actor.to_owned());
        self.outbox
            .store()
            .write(move |conn| {
                let row = find(conn, &id)?;
                store::sources::delete(conn, &id)?;
                let details = json!({ "name": row.name });
                audit::record(conn, Change::of(&actor, "source.deleted", &id, details))?;
                Ok::<_, SourceError>(())
            })
            .await
    }

    /// A new URL token: the old one stops working at once. Only for `url_token` sources.
    pub async fn rotate(&self, id: &str, actor: &str) -> Result<Issued, SourceError> {
        let current = self.get(id).await?;
        if !current.needs_token() {
            return Err(
                Invalid::new("auth.type", "only url_token sources have a token to rotate").into(),
            );
        }
        let token = new_token()?;
        let (id, actor, now) = (id.to_owned(), actor.to_owned(), now_millis());
        let hint = mask(&token);
        let hash = hex::encode(auth::token_digest(&token));
        let stored_hint = hint.clone();
        self.outbox
            .store()
            .write(move |conn| {
                if !store::sources::set_token(conn, &id, Some(&hash), Some(&stored_hint), now)? {
                    return Err(SourceError::NotFound(id));
                }
                let details = json!({ "token": stored_hint });
                audit::record(conn, Change::of(&actor, "source.rotated", &id, details))?;
                Ok(())
            })
            .await?;
        let source = Source {
            token_hint: Some(hint),
            updated_at: now,
            ..current
        };
        Ok(Issued {
            source,
            token: Some(token),
        })
    }
}

fn find(conn: &mut AnyConnection, id: &str) -> Result<SourceRow, SourceError> {
    store::sources::find(conn, id)?.ok_or_else(|| SourceError::NotFound(id.to_owned()))
}

fn new_token() -> Result<String, getrandom::Error> {
    random_urlsafe(TOKEN_BYTES)
}
