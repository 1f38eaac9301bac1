//! The secrets key: 32 random bytes, written as base64, from the configuration, a key file, or
//! generated into `switchyard-secrets.key` beside the database on the first start.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{
    GeneralPurpose, STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
};
use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use sha2::{Digest, Sha256};

/// The key file generated beside the database when no key is configured.
pub const KEY_FILE: &str = "switchyard-secrets.key";
const KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the secrets key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the secrets key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the secrets key file {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot draw random bytes: {0}")]
    Random(#[from] getrandom::Error),
}

/// An AES-256 key and its id: the first 4 bytes of a SHA-256 of the key, in hex. The id is
/// stored beside what the key sealed; it tells which key opens a value and reveals nothing
/// of the key.
#[derive(Clone)]
pub struct Key {
    id: String,
    encoded: Arc<str>,
    cipher: Arc<LessSafeKey>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

impl Key {
    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let cipher = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| format!("must be {KEY_BYTES} bytes, written as base64"))?;
        let mut hasher = Sha256::new();
        hasher.update(b"switchyard secrets key id\0");
        hasher.update(bytes);
        Ok(Self {
            id: hex::encode(&hasher.finalize()[..4]),
            encoded: STANDARD.encode(bytes).into(),
            cipher: Arc::new(LessSafeKey::new(cipher)),
        })
    }

    /// A new random key.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self::from_bytes(&bytes).expect("a key of KEY_BYTES bytes"))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as base64, as `secrets.key` takes it.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    pub(super) fn cipher(&self) -> &LessSafeKey {
        &self.cipher
    }

    /// Reads a key file: the base64 key on its first line.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let text = fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        text.parse().map_err(|reason| KeyError::Invalid {
            path: path.to_owned(),
            reason,
        })
    }

    /// Generates a key into a new file with mode 0600; when another process sharing the folder
    /// wrote it first, reads theirs. The key is written whole to a file of its own first, then
    /// linked into place: a process starting beside this one, or a failed write (a full disk),
    /// never leaves or finds a key file that is empty or cut short.
    pub fn generate_into(path: &Path) -> Result<Self, KeyError> {
        let key = Self::generate()?;
        let draft = path.with_extension(format!("key.{}", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&draft)
            .and_then(|mut file| {
                writeln!(file, "{}", key.encoded())?;
                file.sync_all()
            });
        let linked = written.and_then(|()| fs::hard_link(&draft, path));
        // The draft goes either way; only the linked name is the key.
        if let Err(error) = fs::remove_file(&draft)
            && error.kind() != ErrorKind::NotFound
        {
            tracing::warn!(path = %draft.display(), %error, "cannot remove a draft of the secrets key file; remove it by hand");
        }
        match linked {
            Ok(()) => Ok(key),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => Self::read(path),
            Err(source) => Err(KeyError::Write {
                path: path.to_owned(),
                source,
            }),
        }
    }
}

impl FromStr for Key {
    type Err = String;

    /// Base64, standard or URL-safe, padded or not.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let engines: [&GeneralPurpose; 4] =
            [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD];
        let bytes = engines
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or_else(|| {
                "is not base64 (generate a key with `switchyard secrets new-key`)".to_owned()
            })?;
        Self::from_bytes(&bytes)
    }
}

/// Where the key came from, for the start's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Configured,
    File(PathBuf),
    Generated(PathBuf),
}

/// The key that seals: `configured` (`secrets.key`), else the one in `file`
/// (`secrets.key_file`), else the one in `default_file` beside the database, which is
/// generated when missing if `may_generate`. `None`: no key, and none may be made.
pub fn load(
    configured: Option<&Key>,
    file: Option<&Path>,
    default_file: &Path,
    may_generate: bool,
) -> Result<Option<(Key, KeySource)>, KeyError> {
    if let Some(key) = configured {
        return Ok(Some((key.clone(), KeySource::Configured)));
    }
    if let Some(path) = file {
        return Ok(Some((Key::read(path)?, KeySource::File(path.to_owned()))));
    }
    if default_file.exists() {
        let key = Key::read(default_file)?;
        return Ok(Some((key, KeySource::File(default_file.to_owned()))));
    }
    if !may_generate {
        return Ok(None);
    }
    let key = Key::generate_into(default_file)?;
    Ok(Some((key, KeySource::Generated(default_file.to_owned()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_base64_of_32_bytes_only() {
        let key = Key::generate().unwrap();
        let parsed: Key = key.encoded().parse().unwrap();
        assert_eq!(parsed.id(), key.id());
        assert!("not base64!".parse::<Key>().unwrap_err().contains("base64"));
        assert!(
            STANDARD
                .encode([1u8; 16])
                .parse::<Key>()
                .unwrap_err()
                .contains("32 bytes")
        );
    }

    #[test]
    fn generated_key_files_are_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let key = Key::generate_into(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(Key::generate_into(&path).unwrap().id(), key.id());
        assert_eq!(Key::read(&path).unwrap().id(), key.id());
    }
}
