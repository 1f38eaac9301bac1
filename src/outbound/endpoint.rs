//! An endpoint (SPEC §6.1): where and how to send a request. Shared by webhooks and by the
//! services chat triggers forward to.

use serde::{Deserialize, Serialize};
use url::Url;

use super::headers::HeaderList;
use super::secret::{mask, restore};
use crate::secrets::{Sealable, SecretsError};
use crate::validation::Invalid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub url: String,
    #[serde(default)]
    pub method: HttpMethod,
    /// An object of names to values, or `Name: Value` lines.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub headers: HeaderList,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub signing: Signing,
    /// `None` means `outbound.default_timeout_ms`.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub allow_insecure_tls: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    #[default]
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    /// `GET` and `DELETE` requests are sent without a body.
    pub fn has_body(self) -> bool {
        !matches!(self, HttpMethod::Get | HttpMethod::Delete)
    }

    pub fn as_http(self) -> hyper::Method {
        match self {
            HttpMethod::Get => hyper::Method::GET,
            HttpMethod::Post => hyper::Method::POST,
            HttpMethod::Put => hyper::Method::PUT,
            HttpMethod::Patch => hyper::Method::PATCH,
            HttpMethod::Delete => hyper::Method::DELETE,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    #[default]
    None,
    Bearer {
        token: String,
    },
    ApiKey {
        #[serde(default = "default_api_key_header")]
        header: String,
        key: String,
    },
    Basic {
        username: String,
        password: String,
    },
}

fn default_api_key_header() -> String {
    "X-API-Key".into()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "scheme", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Signing {
    #[default]
    None,
    HmacSha256 {
        secret: String,
    },
    /// One signature per secret: during a rotation, `[new, old]`.
    StandardWebhooks {
        #[serde(default, skip_serializing)]
        secret: Option<String>,
        #[serde(default)]
        secrets: Vec<String>,
    },
    AwsDevopsAgent {
        secret: String,
    },
}

/// Endpoint timeouts: at least 1 ms, at most 5 minutes (a delivery's lease must outlast it).
pub const MAX_TIMEOUT_MS: u64 = 300_000;
const MIN_HMAC_SECRET_BYTES: usize = 16;
const STANDARD_WEBHOOKS_PREFIX: &str = "whsec_";
/// The Standard Webhooks specification asks for 24 to 64 random bytes.
const STANDARD_WEBHOOKS_KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

impl Endpoint {
    /// Folds accepted spellings into one form: `signing.secret` joins `signing.secrets`.
    pub fn normalize(&mut self) {
        if let Signing::StandardWebhooks { secret, secrets } = &mut self.signing
            && let Some(single) = secret.take()
        {
            secrets.insert(0, single);
        }
    }

    /// Checks everything that needs no network: the URL's form, headers, credentials, secrets.
    /// The SSRF check, which resolves the host, is separate.
    pub fn validate(&self) -> Result<Url, Invalid> {
        let url = parse_url(&self.url).map_err(|reason| Invalid::new("url", reason))?;
        self.headers
            .validate()
            .map_err(|error| error.under("headers"))?;
        if let Some(timeout) = self.timeout_ms
            && !(1..=MAX_TIMEOUT_MS).contains(&timeout)
        {
            return Err(Invalid::new(
                "timeout_ms",
                format!("must be between 1 and {MAX_TIMEOUT_MS}"),
            ));
        }
        self.validate_auth().map_err(|error| error.under("auth"))?;
        self.validate_signing()
            .map_err(|error| error.under("signing"))?;
        Ok(url)
    }

    fn validate_auth(&self) -> Result<(), Invalid> {
        let required = |field: &str, value: &str| {
            if value.is_empty() {
                Err(Invalid::new(field, "must not be empty"))
            } else {
                Ok(())
            }
        };
        match &self.auth {
            Auth::None => Ok(()),
            Auth::Bearer { token } => required("token", token),
            Auth::ApiKey { header, key } => {
                hyper::header::HeaderName::from_bytes(header.as_bytes())
                    .map_err(|_| Invalid::new("header", "is not a valid header name"))?;
                required("key", key)
            }
            Auth::Basic { username, password } => {
                required("username", username)?;
                if username.contains(':') {
                    return Err(Invalid::new("username", "must not contain `:`"));
                }
                required("password", password)
            }
        }
    }

    fn validate_signing(&self) -> Result<(), Invalid> {
        match &self.signing {
            Signing::None => Ok(()),
            Signing::HmacSha256 { secret } | Signing::AwsDevopsAgent { secret } => {
                if secret.len() < MIN_HMAC_SECRET_BYTES {
                    return Err(Invalid::new(
                        "secret",
                        format!("must be at least {MIN_HMAC_SECRET_BYTES} bytes"),
                    ));
                }
                Ok(())
            }
            Signing::StandardWebhooks { secrets, .. } => {
                if secrets.is_empty() {
                    return Err(Invalid::new("secrets", "needs at least one secret"));
                }
                for (index, secret) in secrets.iter().enumerate() {
                    standard_webhooks_key(secret)
                        .map_err(|reason| Invalid::new(format!("secrets[{index}]"), reason))?;
                }
                Ok(())
            }
        }
    }

    /// A copy safe to show: every credential and secret cut to its last characters.
    pub fn masked(&self) -> Endpoint {
        let mut copy = self.clone();
        copy.headers = self.headers.masked();
        copy.auth = match &self.auth {
            Auth::None => Auth::None,
            Auth::Bearer { token } => Auth::Bearer { token: mask(token) },
            Auth::ApiKey { header, key } => Auth::ApiKey {
                header: header.clone(),
                key: mask(key),
            },
            Auth::Basic { username, password } => Auth::Basic {
                username: username.clone(),
                password: mask(password),
            },
        };
        copy.signing = match &self.signing {
            Signing::None => Signing::None,
            Signing::HmacSha256 { secret } => Signing::HmacSha256 {
                secret: mask(secret),
            },
            Signing::AwsDevopsAgent { secret } => Signing::AwsDevopsAgent {
                secret: mask(secret),
            },
            Signing::StandardWebhooks { secrets, .. } => Signing::StandardWebhooks {
                secret: None,
                secrets: secrets.iter().map(|s| mask(s)).collect(),
            },
        };
        copy
    }

    /// A replacement that echoes a masked value back (as read from the API) keeps the stored
    /// secret, so clients can edit other fields without knowing the secrets.
    pub fn keep_masked_secrets(&mut self, stored: &Endpoint) {
        self.headers.keep_masked_values(&stored.headers);
        match (&mut self.auth, &stored.auth) {
            (Auth::Bearer { token }, Auth::Bearer { token: old }) => restore(token, old),
            (Auth::ApiKey { key, .. }, Auth::ApiKey { key: old, .. }) => restore(key, old),
            (Auth::Basic { password, .. }, Auth::Basic { password: old, .. }) => {
                restore(password, old)
            }
            _ => {}
        }
        match (&mut self.signing, &stored.signing) {
            (Signing::HmacSha256 { secret }, Signing::HmacSha256 { secret: old })
            | (Signing::AwsDevopsAgent { secret }, Signing::AwsDevopsAgent { secret: old }) => {
                restore(secret, old)
            }
            (
                Signing::StandardWebhooks { secrets, .. },
                Signing::StandardWebhooks { secrets: old, .. },
            ) => {
                for secret in secrets.iter_mut() {
                    if let Some(original) = old.iter().find(|old| mask(old) == *secret) {
                        *secret = original.clone();
                    }
                }
            }
            _ => {}
        }
    }

    pub fn timeout(&self, default_ms: u64) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms.unwrap_or(default_ms))
    }
}

/// Sealed at rest: credential headers, auth and signing secrets. (A URL never carries a
/// password: `parse_url` refuses one, pointing to `auth`.)
impl Sealable for Endpoint {
    fn each_secret(
        &mut self,
        visit: &mut dyn FnMut(&mut String) -> Result<(), SecretsError>,
    ) -> Result<(), SecretsError> {
        self.headers.each_secret(visit)?;
        match &mut self.auth {
            Auth::None => {}
            Auth::Bearer { token } => visit(token)?,
            Auth::ApiKey { key, .. } => visit(key)?,
            Auth::Basic { password, .. } => visit(password)?,
        }
        match &mut self.signing {
            Signing::None => {}
            Signing::HmacSha256 { secret } | Signing::AwsDevopsAgent { secret } => visit(secret)?,
            Signing::StandardWebhooks { secrets, .. } => {
                for secret in secrets {
                    visit(secret)?;
                }
            }
        }
        Ok(())
    }
}

/// An absolute `http` or `https` URL with a host.
pub fn parse_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|error| format!("is not a valid URL ({error})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("scheme must be http or https".into());
    }
    if url.host().is_none() {
        return Err("needs a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials; use `auth`".into());
    }
    Ok(url)
}

/// The HMAC key of a Standard Webhooks secret: `whsec_` (optional) then standard base64.
pub fn standard_webhooks_key(secret: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let encoded = secret
        .strip_prefix(STANDARD_WEBHOOKS_PREFIX)
        .unwrap_or(secret);
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "must be `whsec_` followed by base64".to_owned())?;
    if !STANDARD_WEBHOOKS_KEY_BYTES.contains(&key.len()) {
        return Err(format!(
            "must decode to {} to {} bytes, not {}",
            STANDARD_WEBHOOKS_KEY_BYTES.start(),
            STANDARD_WEBHOOKS_KEY_BYTES.end(),
            key.len()
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(json: serde_json::Value) -> Endpoint {
        let mut endpoint: Endpoint = serde_json::from_value(json).unwrap();
        endpoint.normalize();
        endpoint
    }

    #[test]
    fn urls_must_be_absolute_http_without_credentials() {
        assert!(parse_url("https://hooks.example.com/x").is_ok());
        assert!(
            parse_url("ftp://example.com")
                .unwrap_err()
                .contains("scheme")
        );
        assert!(parse_url("/relative").is_err());
        assert!(
            parse_url("https://user:pw@example.com")
                .unwrap_err()
                .contains("credentials")
        );
    }

    #[test]
    fn timeouts_and_secrets_are_range_checked() {
        let slow = endpoint(serde_json::json!({"url": "https://a.example", "timeout_ms": 0}));
        assert_eq!(slow.validate().unwrap_err().field, "timeout_ms");
        let short = endpoint(serde_json::json!({"url": "https://a.example",
            "signing": {"scheme": "hmac-sha256", "secret": "short"}}));
        assert_eq!(short.validate().unwrap_err().field, "signing.secret");
        let not_base64 = endpoint(serde_json::json!({"url": "https://a.example",
            "signing": {"scheme": "standard-webhooks", "secret": "whsec_***"}}));
        assert_eq!(
            not_base64.validate().unwrap_err().field,
            "signing.secrets[0]"
        );
    }

    #[test]
    fn standard_webhooks_secrets_decode_per_the_specification() {
        let key = standard_webhooks_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(key.len(), 24);
        assert!(standard_webhooks_key("whsec_c2hvcnQ=").is_err());
    }

    #[test]
    fn masked_endpoints_hide_secrets_and_masked_replacements_keep_them() {
        let stored = endpoint(serde_json::json!({"url": "https://a.example",
            "auth": {"type": "bearer", "token": "tok-0123456789-abcd"},
            "signing": {"scheme": "standard-webhooks", "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}));
        let masked = stored.masked();
        let shown = serde_json::to_string(&masked).unwrap();
        assert!(
            !shown.contains("0123456789") && !shown.contains("MfKQ9r8"),
            "{shown}"
        );
        assert!(shown.contains("…abcd"), "{shown}");

        let mut echoed = masked.clone();
        echoed.keep_masked_secrets(&stored);
        assert_eq!(echoed, stored);
    }
}
