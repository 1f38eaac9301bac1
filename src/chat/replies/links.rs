//! The gateway's own `response_url`s (`/hooks/reply/{id}`): an unguessable id that posts into
//! the conversation a trigger fired in, five times within thirty minutes, as Mattermost's and
//! Slack's own response URLs do. Only the id's SHA-256 is stored.

use sha2::{Digest, Sha256};

use super::posts::Conversation;
use crate::ids::random_urlsafe;
use crate::store::reply_links::{ReplyLinkRow, Use};
use crate::store::{self, Store, StoreError};
use crate::timestamp::now_millis;

pub const LINK_USES: i32 = 5;
pub const LINK_LIFETIME_MS: i64 = 30 * 60 * 1000;
const ID_BYTES: usize = 24;
/// Expired links are kept this long before they are pruned, so a late use still reads
/// "expired" (`404`) rather than something else.
const PRUNE_AFTER_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no such reply URL, or it expired")]
    Unknown,
    #[error("this reply URL has been used {LINK_USES} times already")]
    Exhausted,
    #[error("the stored conversation is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn conversation_of(row: &ReplyLinkRow) -> Result<Conversation, LinkError> {
    serde_json::from_str(&row.conversation).map_err(|error| LinkError::Corrupt(error.to_string()))
}

fn digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

#[derive(Clone)]
pub struct ReplyLinks {
    store: Store,
    /// `https://gateway.example` (no trailing slash).
    base_url: String,
}

impl ReplyLinks {
    pub fn new(store: Store, base_url: &str) -> Self {
        Self {
            store,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Stores a new link into `conversation` and returns its URL.
    pub async fn create(&self, conversation: &Conversation) -> Result<String, StoreError> {
        let id = random_urlsafe(ID_BYTES).map_err(|error| {
            StoreError::Commit(format!("no randomness for a reply URL: {error}"))
        })?;
        let row = ReplyLinkRow {
            id_hash: digest(&id),
            trigger_id: conversation.trigger_id.clone(),
            conversation: serde_json::to_string(conversation)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?,
            uses: 0,
            expires_at: now_millis() + LINK_LIFETIME_MS,
        };
        self.store
            .write(move |conn| store::reply_links::insert(conn, &row))
            .await?;
        Ok(format!("{}/hooks/reply/{id}", self.base_url))
    }

    /// Whether the link `id` may still be used, without using it.
    pub async fn check_usable(&self, id: &str) -> Result<(), LinkError> {
        let hash = digest(id);
        let row = self
            .store
            .read(move |conn| store::reply_links::find_live(conn, &hash, now_millis()))
            .await?
            .ok_or(LinkError::Unknown)?;
        if row.uses >= LINK_USES {
            return Err(LinkError::Exhausted);
        }
        Ok(())
    }

    /// Counts one use of the link `id` and returns its conversation.
    pub async fn take(&self, id: &str) -> Result<Conversation, LinkError> {
        let hash = digest(id);
        let used = self
            .store
            .write(move |conn| store::reply_links::try_use(conn, &hash, LINK_USES, now_millis()))
            .await?;
        match used {
            Use::Granted(row) => conversation_of(&row),
            Use::Exhausted => Err(LinkError::Exhausted),
            Use::Unknown => Err(LinkError::Unknown),
        }
    }

    /// Deletes links that expired a while ago.
    pub async fn prune(&self) -> Result<usize, StoreError> {
        let before = now_millis() - PRUNE_AFTER_MS;
        self.store
            .write(move |conn| store::reply_links::prune(conn, before))
            .await
    }
}
