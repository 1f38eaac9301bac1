//! Who may talk to a trigger (SPEC §3.2): the chat server's token, compared in constant time,
//! or Slack's request signature over the raw body within five minutes of its timestamp.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Slack's replay window: a timestamp further than this from now is refused.
pub const SLACK_WINDOW_SECONDS: i64 = 300;

/// What a request presents as proof of where it comes from, borrowed from the request.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// The body's `token` field (Mattermost, Slack's legacy verification token); `None` when
    /// empty.
    body_token: Option<&'a str>,
    /// `Authorization: Token …` (Mattermost slash commands send both); `None` when empty.
    header_token: Option<&'a str>,
    pub slack: Option<&'a SlackSignature>,
}

#[derive(Debug, Clone)]
pub struct SlackSignature {
    pub timestamp: String,
    pub signature: String,
}

impl<'a> Credentials<'a> {
    pub fn new(
        body_token: &'a str,
        authorization: Option<&'a str>,
        slack: Option<&'a SlackSignature>,
    ) -> Self {
        let header_token = authorization
            .and_then(|value| value.strip_prefix("Token "))
            .map(str::trim);
        let present = |token: &'a str| (!token.is_empty()).then_some(token);
        Self {
            body_token: present(body_token),
            header_token: header_token.and_then(present),
            slack,
        }
    }

    /// The tokens presented, the body's first.
    pub fn tokens(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.body_token.into_iter().chain(self.header_token)
    }

    /// Whether any presented token has one of the `accepted` digests, compared in constant
    /// time: tokens are stored as digests only.
    pub fn presents_token(&self, accepted: &[[u8; 32]]) -> bool {
        let mut found = subtle::Choice::from(0);
        for digest in self.token_digests() {
            for candidate in accepted {
                found |= digest.ct_eq(candidate);
            }
        }
        found.into()
    }

    /// The SHA-256 of each presented token, for looking tokens up without comparing secrets.
    pub fn token_digests(&self) -> impl Iterator<Item = [u8; 32]> + use<'a> {
        self.tokens().map(token_digest)
    }
}

pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Why a Slack signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlackRefusal {
    #[error("the Slack timestamp is not a number")]
    BadTimestamp,
    #[error("signature too old (the Slack timestamp is more than 5 minutes from now)")]
    TooOld,
    #[error("the Slack signature is malformed")]
    Malformed,
    #[error("the Slack signature does not match the trigger's signing secret")]
    Mismatch,
}

/// Slack's `v0` signature: `v0=` and the hex HMAC-SHA256 of `v0:<timestamp>:<body>`, valid
/// within [`SLACK_WINDOW_SECONDS`] of `now` (Unix seconds).
pub fn verify_slack(secret: &[u8], signed: &SlackSignature, body: &[u8], now: i64) -> bool {
    check_slack(secret, signed, body, now).is_ok()
}

/// [`verify_slack`], saying why not.
pub fn check_slack(
    secret: &[u8],
    signed: &SlackSignature,
    body: &[u8],
    now: i64,
) -> Result<(), SlackRefusal> {
    let timestamp = signed
        .timestamp
        .trim()
        .parse::<i64>()
        .map_err(|_| SlackRefusal::BadTimestamp)?;
    if now.abs_diff(timestamp) > SLACK_WINDOW_SECONDS.unsigned_abs() {
        return Err(SlackRefusal::TooOld);
    }
    let expected = signed
        .signature
        .trim()
        .strip_prefix("v0=")
        .and_then(|hex_signature| hex::decode(hex_signature).ok())
        .ok_or(SlackRefusal::Malformed)?;
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| SlackRefusal::Mismatch)?;
    mac.update(b"v0:");
    mac.update(signed.timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SlackRefusal::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// api.slack.com's worked example (chat-protocols.md §7.3).
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: i64 = 1_531_420_618;
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn signed(signature: &str) -> SlackSignature {
        SlackSignature {
            timestamp: TIMESTAMP.to_string(),
            signature: signature.into(),
        }
    }

    #[test]
    fn slacks_published_example_verifies() {
        assert!(verify_slack(SECRET, &signed(SIGNATURE), BODY, TIMESTAMP));
        assert!(verify_slack(
            SECRET,
            &signed(SIGNATURE),
            BODY,
            TIMESTAMP + 300
        ));
        assert!(verify_slack(
            SECRET,
            &signed(SIGNATURE),
            BODY,
            TIMESTAMP - 300
        ));
    }

    #[test]
    fn a_changed_byte_an_old_timestamp_or_another_secret_fails() {
        let mut changed = BODY.to_vec();
        changed[10] ^= 1;
        assert!(!verify_slack(
            SECRET,
            &signed(SIGNATURE),
            &changed,
            TIMESTAMP
        ));
        assert!(!verify_slack(
            SECRET,
            &signed(SIGNATURE),
            BODY,
            TIMESTAMP + 301
        ));
        assert!(!verify_slack(
            b"another-secret-0123456789",
            &signed(SIGNATURE),
            BODY,
            TIMESTAMP
        ));
        assert!(!verify_slack(SECRET, &signed("v1=00"), BODY, TIMESTAMP));
        assert!(!verify_slack(SECRET, &signed("v0=zz"), BODY, TIMESTAMP));
        let extreme = SlackSignature {
            timestamp: i64::MIN.to_string(),
            signature: SIGNATURE.into(),
        };
        assert!(!verify_slack(SECRET, &extreme, BODY, TIMESTAMP));
    }

    #[test]
    fn refusals_say_why() {
        let mut changed = BODY.to_vec();
        changed[10] ^= 1;
        let check = |signature: &SlackSignature, body: &[u8], now| {
            check_slack(SECRET, signature, body, now)
        };
        assert_eq!(
            check(&signed(SIGNATURE), &changed, TIMESTAMP),
            Err(SlackRefusal::Mismatch)
        );
        assert_eq!(
            check(&signed(SIGNATURE), BODY, TIMESTAMP + 301),
            Err(SlackRefusal::TooOld)
        );
        assert_eq!(
            check(&signed("v1=00"), BODY, TIMESTAMP),
            Err(SlackRefusal::Malformed)
        );
        let unreadable = SlackSignature {
            timestamp: "soon".into(),
            signature: SIGNATURE.into(),
        };
        assert_eq!(
            check(&unreadable, BODY, TIMESTAMP),
            Err(SlackRefusal::BadTimestamp)
        );
    }

    #[test]
    fn tokens_come_from_the_body_and_the_authorization_header() {
        let credentials = Credentials::new("", Some("Token abc"), None);
        assert!(credentials.presents_token(&[token_digest("abc")]));
        assert!(!credentials.presents_token(&[token_digest("abcd"), token_digest("ab")]));
        let none = Credentials::new("", Some("Bearer abc"), None);
        assert_eq!(none.tokens().count(), 0);
        let both = Credentials::new("body", Some("Token header "), None);
        assert_eq!(both.tokens().collect::<Vec<_>>(), ["body", "header"]);
    }
}
