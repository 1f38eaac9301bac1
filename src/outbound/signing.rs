//! Request signatures (SPEC §6.1), each over the exact bytes sent.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::endpoint::{Signing, standard_webhooks_key};

type HmacSha256 = Hmac<Sha256>;

/// Headers names of the signature schemes, lower-case as HTTP/2 sends them.
pub const SWITCHYARD_TIMESTAMP: &str = "x-switchyard-timestamp";
pub const SWITCHYARD_SIGNATURE: &str = "x-switchyard-signature";
pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
pub const AMZN_TIMESTAMP: &str = "x-amzn-event-timestamp";
pub const AMZN_SIGNATURE: &str = "x-amzn-event-signature";

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The headers `signing` adds for `body`. `message_id` is the delivery id (Standard Webhooks'
/// `webhook-id`); `now` is the time of this attempt.
pub fn signature_headers(
    signing: &Signing,
    message_id: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    match signing {
        Signing::None => Vec::new(),
        Signing::HmacSha256 { secret } => {
            let timestamp = now.timestamp().to_string();
            let digest = hmac(secret.as_bytes(), &[timestamp.as_bytes(), b".", body]);
            vec![
                (SWITCHYARD_TIMESTAMP, timestamp),
                (
                    SWITCHYARD_SIGNATURE,
                    format!("sha256={}", hex::encode(digest)),
                ),
            ]
        }
        Signing::StandardWebhooks { secrets, .. } => {
            let timestamp = now.timestamp().to_string();
            let signatures: Vec<String> = secrets
                .iter()
                .filter_map(|secret| standard_webhooks_key(secret).ok())
                .map(|key| {
                    let digest = hmac(
                        &key,
                        &[
                            message_id.as_bytes(),
                            b".",
                            timestamp.as_bytes(),
                            b".",
                            body,
                        ],
                    );
                    format!("v1,{}", BASE64.encode(digest))
                })
                .collect();
            vec![
                (WEBHOOK_ID, message_id.to_owned()),
                (WEBHOOK_TIMESTAMP, timestamp),
                (WEBHOOK_SIGNATURE, signatures.join(" ")),
            ]
        }
        Signing::AwsDevopsAgent { secret } => {
            let timestamp = now.to_rfc3339_opts(SecondsFormat::Millis, true);
            let digest = hmac(secret.as_bytes(), &[timestamp.as_bytes(), b":", body]);
            vec![
                (AMZN_TIMESTAMP, timestamp),
                (AMZN_SIGNATURE, BASE64.encode(digest)),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    /// The test vector of the Standard Webhooks specification's reference libraries.
    #[test]
    fn standard_webhooks_matches_the_published_vector() {
        let signing = Signing::StandardWebhooks {
            secret: None,
            secrets: vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()],
        };
        let headers = signature_headers(
            &signing,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            br#"{"test": 2432232314}"#,
            at(1614265330),
        );
        assert_eq!(
            headers,
            vec![
                (WEBHOOK_ID, "msg_p5jXN8AQM9LWM0D4loKWxJek".to_owned()),
                (WEBHOOK_TIMESTAMP, "1614265330".to_owned()),
                (
                    WEBHOOK_SIGNATURE,
                    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn rotation_sends_one_signature_per_secret() {
        let signing = Signing::StandardWebhooks {
            secret: None,
            secrets: vec![
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
                "whsec_dGhpcyBpcyB0aGUgb2xkIHNlY3JldCBrZXkh".into(),
            ],
        };
        let headers = signature_headers(&signing, "dlv_1", b"{}", at(1));
        let value = &headers[2].1;
        assert_eq!(value.split(' ').count(), 2, "{value}");
        assert!(
            value
                .split(' ')
                .all(|signature| signature.starts_with("v1,"))
        );
    }

    #[test]
    fn hmac_and_aws_schemes_sign_timestamp_and_body() {
        let body = b"{\"a\":1}";
        let hmac_headers = signature_headers(
            &Signing::HmacSha256 {
                secret: "0123456789abcdef".into(),
            },
            "dlv_1",
            body,
            at(1_700_000_000),
        );
        let expected = hex::encode(hmac(b"0123456789abcdef", &[b"1700000000.{\"a\":1}"]));
        assert_eq!(hmac_headers[1].1, format!("sha256={expected}"));

        let aws = signature_headers(
            &Signing::AwsDevopsAgent {
                secret: "0123456789abcdef".into(),
            },
            "dlv_1",
            body,
            DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
        );
        assert_eq!(aws[0].1, "2023-11-14T22:13:20.123Z");
        let expected = BASE64.encode(hmac(
            b"0123456789abcdef",
            &[b"2023-11-14T22:13:20.123Z:{\"a\":1}"],
        ));
        assert_eq!(aws[1].1, expected);
    }
}
