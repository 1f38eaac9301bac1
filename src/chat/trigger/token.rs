//! Chat tokens are only compared, never sent on: they are stored as their SHA-256 (SPEC §6.5),
//! beside the end of the token that the API shows, as `sha256:<shown end>:<hex digest>`.

use crate::chat::inbound::auth::token_digest;
use crate::outbound::secret::mask;

const HASHED_PREFIX: &str = "sha256:";

/// The stored form of `token`; a token stored so already stays as it is.
pub fn hashed(token: &str) -> String {
    if parse(token).is_some() {
        return token.to_owned();
    }
    format!(
        "{HASHED_PREFIX}{}:{}",
        mask(token),
        hex::encode(token_digest(token))
    )
}

/// The SHA-256 of a token, stored or as sent.
pub fn digest(token: &str) -> [u8; 32] {
    parse(token).map_or_else(|| token_digest(token), |(_, digest)| digest)
}

/// The token as the API shows it: its last characters only.
pub fn shown(token: &str) -> String {
    parse(token).map_or_else(|| mask(token), |(shown, _)| shown.to_owned())
}

/// Whether `token` is in its stored form.
pub fn is_hashed(token: &str) -> bool {
    parse(token).is_some()
}

fn parse(stored: &str) -> Option<(&str, [u8; 32])> {
    let (shown, hex_digest) = stored.strip_prefix(HASHED_PREFIX)?.rsplit_once(':')?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut digest).ok()?;
    Some((shown, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_tokens_keep_their_digest_and_their_shown_end_only() {
        let token = "zmigewsanbbsdf59xnmduzypjc";
        let stored = hashed(token);
        assert!(!stored.contains(token));
        assert_eq!(digest(&stored), token_digest(token));
        assert_eq!(digest(token), token_digest(token));
        assert_eq!(shown(&stored), "…ypjc");
        assert_eq!(shown(&stored), shown(token));
        assert_eq!(hashed(&stored), stored);
        assert!(is_hashed(&stored) && !is_hashed(token));
    }
}
