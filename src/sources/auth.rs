//! Whether a request to a source comes from its sender (SPEC §4.5): the URL token, a bearer
//! token, Basic credentials, an API key, or a signature over the body. Every comparison takes
//! constant time; signed timestamps older or newer than five minutes are refused (replays).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::DateTime;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::request::SourceRequest;
use super::spec::{HmacScheme, SourceAuth};

type HmacSha256 = Hmac<Sha256>;

/// How far a signed timestamp may be from now, in seconds.
const TOLERANCE_SECONDS: i64 = 300;

/// The digest a URL token is stored as.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `request` carries the credentials `auth` asks for. `stored_token` is the stored
/// digest of the URL token; `now` is Unix seconds.
pub fn verify(
    auth: &SourceAuth,
    stored_token: Option<&[u8; 32]>,
    request: &SourceRequest,
    now: i64,
) -> bool {
    match auth {
        SourceAuth::UrlToken => match (request.url_token.as_deref(), stored_token) {
            (Some(token), Some(stored)) => token_digest(token).ct_eq(stored).into(),
            _ => false,
        },
        SourceAuth::Bearer { token } => credentials(request, "bearer")
            .is_some_and(|presented| same(presented.as_bytes(), token.as_bytes())),
        SourceAuth::Basic { username, password } => credentials(request, "basic")
            .and_then(|encoded| BASE64.decode(encoded.trim()).ok())
            .is_some_and(|decoded| {
                let expected = format!("{username}:{password}");
                same(&decoded, expected.as_bytes())
            }),
        SourceAuth::ApiKey { header, key } => request
            .header(header)
            .is_some_and(|presented| same(presented.as_bytes(), key.as_bytes())),
        SourceAuth::Hmac {
            scheme,
            secret,
            header,
            timestamp_header,
        } => {
            let signed = Signed {
                secret: secret.as_bytes(),
                request,
                now,
            };
            match scheme {
                HmacScheme::Grafana => {
                    signed.grafana(header.as_deref(), timestamp_header.as_deref())
                }
                HmacScheme::Allquiet => signed.allquiet(),
                HmacScheme::HmacSha256 => signed.switchyard(),
                HmacScheme::StandardWebhooks => signed.standard_webhooks(),
            }
        }
    }
}

fn same(presented: &[u8], expected: &[u8]) -> bool {
    presented.ct_eq(expected).into()
}

/// The credentials of an `Authorization: <scheme> <credentials>` header.
fn credentials<'r>(request: &'r SourceRequest, scheme: &str) -> Option<&'r str> {
    let value = request.header("authorization")?;
    let (presented, rest) = value.split_once(' ')?;
    presented.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

struct Signed<'a> {
    secret: &'a [u8],
    request: &'a SourceRequest,
    now: i64,
}

impl Signed<'_> {
    fn fresh(&self, seconds: i64) -> bool {
        (self.now - seconds).abs() <= TOLERANCE_SECONDS
    }

    fn grafana(&self, header: Option<&str>, timestamp_header: Option<&str>) -> bool {
        let Some(signature) = self
            .request
            .header(header.unwrap_or("x-grafana-alerting-signature"))
            .and_then(|hex_text| hex::decode(hex_text.trim()).ok())
        else {
            return false;
        };
        let body = &self.request.body[..];
        let expected = match timestamp_header {
            None => mac(self.secret, &[body]),
            Some(name) => {
                let Some(timestamp) = self.request.header(name) else {
                    return false;
                };
                if !timestamp.parse().is_ok_and(|seconds| self.fresh(seconds)) {
                    return false;
                }
                mac(self.secret, &[timestamp.as_bytes(), b":", body])
            }
        };
        same(&signature, &expected)
    }

    fn allquiet(&self) -> bool {
        let (Some(signature), Some(timestamp)) = (
            self.request.header("x-aq-signature"),
            self.request.header("x-aq-timestamp"),
        ) else {
            return false;
        };
        let fresh =
            DateTime::parse_from_rfc3339(timestamp).is_ok_and(|time| self.fresh(time.timestamp()));
        let Ok(signature) = BASE64.decode(signature.trim()) else {
            return false;
        };
        let expected = mac(
            self.secret,
            &[timestamp.as_bytes(), b":", &self.request.body],
        );
        fresh && same(&signature, &expected)
    }

    fn switchyard(&self) -> bool {
        let (Some(signature), Some(timestamp)) = (
            self.request.header("x-switchyard-signature"),
            self.request.header("x-switchyard-timestamp"),
        ) else {
            return false;
        };
        let Some(signature) = signature
            .strip_prefix("sha256=")
            .and_then(|hex_text| hex::decode(hex_text).ok())
        else {
            return false;
        };
        let fresh = timestamp.parse().is_ok_and(|seconds| self.fresh(seconds));
        let expected = mac(
            self.secret,
            &[timestamp.as_bytes(), b".", &self.request.body],
        );
        fresh && same(&signature, &expected)
    }

    fn standard_webhooks(&self) -> bool {
        let (Some(id), Some(timestamp), Some(signatures)) = (
            self.request.header("webhook-id"),
            self.request.header("webhook-timestamp"),
            self.request.header("webhook-signature"),
        ) else {
            return false;
        };
        let secret = std::str::from_utf8(self.secret).unwrap_or_default();
        let Ok(key) = BASE64.decode(secret.strip_prefix("whsec_").unwrap_or(secret)) else {
            return false;
        };
        let fresh = timestamp.parse().is_ok_and(|seconds| self.fresh(seconds));
        let expected = mac(
            &key,
            &[
                id.as_bytes(),
                b".",
                timestamp.as_bytes(),
                b".",
                &self.request.body,
            ],
        );
        // Several signatures, space-separated, during a sender's key rotation.
        let matches = signatures.split(' ').any(|signature| {
            signature
                .strip_prefix("v1,")
                .and_then(|encoded| BASE64.decode(encoded).ok())
                .is_some_and(|decoded| same(&decoded, &expected))
        });
        fresh && matches
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::outbound::Signing;
    use crate::outbound::signing::signature_headers;

    fn request(headers: &[(&str, &str)], body: &[u8]) -> SourceRequest {
        SourceRequest {
            method: "POST".into(),
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), (*value).to_owned()))
                .collect(),
            query: String::new(),
            body: body.to_vec().into(),
            url_token: None,
        }
    }

    fn hmac(scheme: HmacScheme, secret: &str) -> SourceAuth {
        SourceAuth::Hmac {
            scheme,
            secret: secret.into(),
            header: None,
            timestamp_header: None,
        }
    }

    /// All Quiet's signature as recorded in `tests/fixtures/sources/allquiet-signed.json`.
    #[test]
    fn all_quiet_signatures_verify_within_five_minutes_of_their_time() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sources/");
        let signed: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{dir}allquiet-signed.json")).unwrap())
                .unwrap();
        let body = std::fs::read(format!("{dir}allquiet-open.json")).unwrap();
        let at = signed["timestamp"].as_str().unwrap();
        let sent = request(
            &[
                ("x-aq-timestamp", at),
                ("x-aq-signature", signed["signature"].as_str().unwrap()),
            ],
            &body,
        );
        let auth = hmac(HmacScheme::Allquiet, signed["secret"].as_str().unwrap());
        let then = DateTime::parse_from_rfc3339(at).unwrap().timestamp();
        assert!(verify(&auth, None, &sent, then + 60));
        assert!(!verify(&auth, None, &sent, then + 600), "a replay");
        let mut tampered = sent.clone();
        tampered.body = b"{}".to_vec().into();
        assert!(!verify(&auth, None, &tampered, then));
    }

    /// The Standard Webhooks specification's published test vector.
    #[test]
    fn standard_webhooks_signatures_verify() {
        let body = br#"{"test": 2432232314}"#;
        let sent = request(
            &[
                ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                ("webhook-timestamp", "1614265330"),
                (
                    "webhook-signature",
                    "v1,bm9ldHZhbGlk v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                ),
            ],
            body,
        );
        let auth = hmac(
            HmacScheme::StandardWebhooks,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        );
        assert!(verify(&auth, None, &sent, 1614265330));
        let wrong = hmac(
            HmacScheme::StandardWebhooks,
            "whsec_dGhpcyBpcyB0aGUgb2xkIHNlY3JldCBrZXkh",
        );
        assert!(!verify(&wrong, None, &sent, 1614265330));
    }

    /// What Switchyard's own webhooks send verifies at a Switchyard source.
    #[test]
    fn switchyard_signatures_verify() {
        let body = b"{\"a\":1}";
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let signing = Signing::HmacSha256 {
            secret: "0123456789abcdef".into(),
        };
        let headers = signature_headers(&signing, "dlv_1", body, now);
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let auth = hmac(HmacScheme::HmacSha256, "0123456789abcdef");
        assert!(verify(&auth, None, &request(&pairs, body), 1_700_000_010));
        assert!(!verify(&auth, None, &request(&pairs, b"{}"), 1_700_000_010));
    }

    #[test]
    fn tokens_and_keys_compare_whole() {
        let token = SourceAuth::Bearer {
            token: "abcdef".into(),
        };
        assert!(verify(
            &token,
            None,
            &request(&[("authorization", "bearer abcdef")], b""),
            0
        ));
        assert!(!verify(
            &token,
            None,
            &request(&[("authorization", "Bearer abcde")], b""),
            0
        ));
        let url = SourceAuth::UrlToken;
        let stored = token_digest("t0ken");
        let mut sent = request(&[], b"");
        sent.url_token = Some("t0ken".into());
        assert!(verify(&url, Some(&stored), &sent, 0));
        sent.url_token = Some("t0ke".into());
        assert!(!verify(&url, Some(&stored), &sent, 0));
        assert!(
            !verify(&url, None, &sent, 0),
            "no stored token admits nobody"
        );
    }
}
