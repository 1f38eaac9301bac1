//! Secrets at rest (SPEC §6.5): every credential Switchyard keeps for another system is stored
//! sealed with AES-256-GCM under the configured key. A sealed value names the key that sealed
//! it, so values sealed under a previous key still open while a rotation is under way.

mod key;

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use key::{KEY_FILE, Key, KeyError, KeySource, load};

/// Sealed values start so: `$sy1$<key id>$<base64 of nonce, ciphertext and tag>`.
const SEALED_PREFIX: &str = "$sy1$";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("no secrets key is configured")]
    NoKey,
    #[error(
        "a stored secret was sealed with key {0}, which is neither secrets.key nor one of secrets.previous_keys"
    )]
    UnknownKey(String),
    #[error(
        "a stored secret does not open with key {0}: it was altered, or the key is not the one that sealed it"
    )]
    Damaged(String),
    #[error("a stored secret is not in the sealed format")]
    Malformed,
    #[error("cannot draw random bytes: {0}")]
    Random(#[from] getrandom::Error),
    #[error("stored configuration is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Whether `value` is in the sealed format.
fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

/// Whether `json` holds a credential in clear: stored before secrets were sealed, or by an
/// older version running beside this one.
pub fn holds_clear<T: Sealable + DeserializeOwned>(json: &str) -> Result<bool, SecretsError> {
    let mut value: T = serde_json::from_str(json)?;
    let mut clear = false;
    value.each_secret(&mut |secret| {
        clear |= !is_sealed(secret);
        Ok(())
    })?;
    Ok(clear)
}

/// What a pass over the stored resources seals again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resealing {
    /// Only resources holding a credential in clear (or a chat token not hashed): every start.
    Clear,
    /// Everything, under the current key: a rotation.
    Everything,
}

impl Resealing {
    /// Seals again each of `rows` this pass takes (`in_clear` says whether one holds a
    /// credential in clear); returns how many it sealed.
    pub fn apply<R, E>(
        self,
        rows: Vec<R>,
        in_clear: impl Fn(&R) -> Result<bool, E>,
        mut reseal: impl FnMut(R) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut resealed = 0;
        for row in rows {
            if self == Resealing::Everything || in_clear(&row)? {
                reseal(row)?;
                resealed += 1;
            }
        }
        Ok(resealed)
    }
}

/// A value that holds credentials: it hands each one, in place, to `visit`. What it hands over
/// is what its `masked()` form hides, so what the API never shows is what the database never
/// holds in clear.
pub trait Sealable {
    fn each_secret(
        &mut self,
        visit: &mut dyn FnMut(&mut String) -> Result<(), SecretsError>,
    ) -> Result<(), SecretsError>;
}

/// The keys: the current one seals, every one opens what it sealed.
#[derive(Clone, Default)]
pub struct Secrets {
    current: Option<Key>,
    previous: Vec<Key>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("current", &self.current.as_ref().map(Key::id))
            .field(
                "previous",
                &self.previous.iter().map(Key::id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Secrets {
    pub fn new(current: Key, previous: Vec<Key>) -> Self {
        Self {
            current: Some(current),
            previous,
        }
    }

    /// The id of the key that seals, if any.
    pub fn current_id(&self) -> Option<&str> {
        self.current.as_ref().map(Key::id)
    }

    /// The ids of every key, the current one first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys().map(Key::id).collect()
    }

    /// Whether a value sealed under the key with this id can be opened.
    pub fn knows(&self, key_id: &str) -> bool {
        self.keys().any(|key| key.id() == key_id)
    }

    fn keys(&self) -> impl Iterator<Item = &Key> {
        self.current.iter().chain(&self.previous)
    }

    /// `value` as JSON, its credentials sealed under the current key.
    pub fn seal<T: Sealable + Serialize + Clone>(&self, value: &T) -> Result<String, SecretsError> {
        let mut sealed = value.clone();
        sealed.each_secret(&mut |secret| {
            *secret = self.seal_one(secret)?;
            Ok(())
        })?;
        Ok(serde_json::to_string(&sealed)?)
    }

    /// Parses `json` and opens its credentials. A credential stored before secrets were sealed
    /// (not in the sealed format) is taken as it is, until the start that seals it.
    pub fn open<T: Sealable + DeserializeOwned>(&self, json: &str) -> Result<T, SecretsError> {
        let mut value: T = serde_json::from_str(json)?;
        value.each_secret(&mut |secret| {
            if is_sealed(secret) {
                *secret = self.open_one(secret)?;
            }
            Ok(())
        })?;
        Ok(value)
    }

    fn seal_one(&self, plain: &str) -> Result<String, SecretsError> {
        let key = self.current.as_ref().ok_or(SecretsError::NoKey)?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)?;
        let mut sealed = plain.as_bytes().to_vec();
        key.cipher()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .map_err(|_| SecretsError::Damaged(key.id().to_owned()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!(
            "{SEALED_PREFIX}{}${}",
            key.id(),
            STANDARD_NO_PAD.encode(bytes)
        ))
    }

    fn open_one(&self, sealed: &str) -> Result<String, SecretsError> {
        let (key_id, encoded) = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|rest| rest.split_once('$'))
            .ok_or(SecretsError::Malformed)?;
        let bytes = STANDARD_NO_PAD
            .decode(encoded)
            .map_err(|_| SecretsError::Malformed)?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SecretsError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let mut found = false;
        // Ids are short: two keys could share one, so each key with the id is tried.
        for key in self.keys().filter(|key| key.id() == key_id) {
            found = true;
            let nonce =
                Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretsError::Malformed)?;
            let mut buffer = ciphertext.to_vec();
            if let Ok(plain) = key.cipher().open_in_place(nonce, Aad::empty(), &mut buffer) {
                return String::from_utf8(plain.to_vec()).map_err(|_| SecretsError::Malformed);
            }
        }
        Err(if found {
            SecretsError::Damaged(key_id.to_owned())
        } else {
            SecretsError::UnknownKey(key_id.to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
    struct Held {
        name: String,
        token: String,
    }

    impl Sealable for Held {
        fn each_secret(
            &mut self,
            visit: &mut dyn FnMut(&mut String) -> Result<(), SecretsError>,
        ) -> Result<(), SecretsError> {
            visit(&mut self.token)
        }
    }

    fn held() -> Held {
        Held {
            name: "ops".into(),
            token: "bearer-token-0123456789".into(),
        }
    }

    #[test]
    fn sealed_values_hide_the_secret_and_open_back() {
        let secrets = Secrets::new(Key::generate().unwrap(), Vec::new());
        let json = secrets.seal(&held()).unwrap();
        assert!(!json.contains("bearer-token"), "{json}");
        assert!(json.contains("\"ops\""));
        assert_eq!(secrets.open::<Held>(&json).unwrap(), held());
        // A fresh nonce each time: the same secret never seals the same way twice.
        assert_ne!(json, secrets.seal(&held()).unwrap());
    }

    #[test]
    fn previous_keys_open_and_other_keys_are_named() {
        let old = Key::generate().unwrap();
        let json = Secrets::new(old.clone(), Vec::new()).seal(&held()).unwrap();
        let rotated = Secrets::new(Key::generate().unwrap(), vec![old.clone()]);
        assert_eq!(rotated.open::<Held>(&json).unwrap(), held());
        let stranger = Secrets::new(Key::generate().unwrap(), Vec::new());
        match stranger.open::<Held>(&json) {
            Err(SecretsError::UnknownKey(id)) => assert_eq!(id, old.id()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn altered_values_do_not_open_and_clear_legacy_values_are_read() {
        let secrets = Secrets::new(Key::generate().unwrap(), Vec::new());
        let json = secrets.seal(&held()).unwrap();
        let sealed = serde_json::from_str::<Held>(&json).unwrap().token;
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = Held {
            token: String::from_utf8(altered).unwrap(),
            ..held()
        };
        let json = serde_json::to_string(&altered).unwrap();
        assert!(matches!(
            secrets.open::<Held>(&json),
            Err(SecretsError::Damaged(_))
        ));
        let legacy = serde_json::to_string(&held()).unwrap();
        assert_eq!(secrets.open::<Held>(&legacy).unwrap(), held());
        assert!(holds_clear::<Held>(&legacy).unwrap());
        assert!(!holds_clear::<Held>(&secrets.seal(&held()).unwrap()).unwrap());
        assert!(matches!(
            Secrets::default().seal(&held()),
            Err(SecretsError::NoKey)
        ));
    }
}
