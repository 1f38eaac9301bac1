//! An endpoint's settings beyond its URL and method (headers, auth, signing, timeout, TLS), as
//! one group of form fields shared by the webhook form and each service slot of the trigger
//! form, with the `endpoint_fields` partial that shows them. Secrets are shown masked; a mask
//! sent back is put back by the domain's `keep_masked_secrets`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::outbound::headers::HeaderList;
use crate::outbound::{Auth, Endpoint, Signing};
use crate::ui::pages::Templates;
use crate::validation::Invalid;

pub const TEMPLATES: Templates = &[(
    "endpoint_fields",
    include_str!("../../templates/ui/endpoint.hbs"),
)];

/// The fields as the browser sends them. `insecure_tls` is `on` when any certificate is
/// accepted: a select rather than a checkbox, so repeated slots post it every time.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct EndpointFields {
    /// `Name: Value` lines.
    pub headers: String,
    pub auth_type: String,
    pub auth_token: String,
    pub auth_header: String,
    pub auth_key: String,
    pub auth_username: String,
    pub auth_password: String,
    pub signing_scheme: String,
    /// One secret, or for Standard Webhooks one per line (newest first).
    pub signing_secret: String,
    pub timeout_ms: String,
    pub insecure_tls: String,
}

/// The form field an endpoint's API field path (`headers.X-Team`, `auth.token`) belongs to.
pub fn form_field(path: &str) -> Option<&'static str> {
    Some(match path.split(['.', '[']).next().unwrap_or_default() {
        "headers" => "headers",
        "auth" => "auth",
        "signing" => "signing",
        "timeout_ms" => "timeout_ms",
        _ => return None,
    })
}

impl EndpointFields {
    pub fn blank() -> Self {
        Self {
            auth_type: "none".into(),
            signing_scheme: "none".into(),
            ..Self::default()
        }
    }

    /// The field a posted name (without its prefix) sets.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "headers" => &mut self.headers,
            "auth_type" => &mut self.auth_type,
            "auth_token" => &mut self.auth_token,
            "auth_header" => &mut self.auth_header,
            "auth_key" => &mut self.auth_key,
            "auth_username" => &mut self.auth_username,
            "auth_password" => &mut self.auth_password,
            "signing_scheme" => &mut self.signing_scheme,
            "signing_secret" => &mut self.signing_secret,
            "timeout_ms" => &mut self.timeout_ms,
            "insecure_tls" => &mut self.insecure_tls,
            _ => return None,
        })
    }

    /// Adds these settings to an endpoint's JSON, as an API client would send them; a refusal
    /// names the field by its path under `endpoint`.
    pub fn add_to(&self, endpoint: &mut Map<String, Value>) -> Result<(), Invalid> {
        // Parsed here rather than by the spec's deserializer, so a bad line is refused beside
        // the headers field instead of as the whole form.
        let headers: HeaderList = serde_json::from_value(json!(self.headers))
            .map_err(|error| Invalid::new("endpoint.headers", error.to_string()))?;
        endpoint.insert("headers".into(), json!(headers));
        endpoint.insert("auth".into(), self.auth()?);
        endpoint.insert("signing".into(), self.signing()?);
        let timeout = number(&self.timeout_ms, "endpoint.timeout_ms")?;
        endpoint.insert("timeout_ms".into(), timeout);
        endpoint.insert(
            "allow_insecure_tls".into(),
            json!(self.insecure_tls == "on"),
        );
        Ok(())
    }

    fn auth(&self) -> Result<Value, Invalid> {
        Ok(match self.auth_type.as_str() {
            "" | "none" => json!({"type": "none"}),
            "bearer" => json!({"type": "bearer", "token": self.auth_token}),
            "api_key" => {
                let header = match self.auth_header.trim() {
                    "" => "X-API-Key",
                    header => header,
                };
                json!({"type": "api_key", "header": header, "key": self.auth_key})
            }
            "basic" => json!({
                "type": "basic", "username": self.auth_username, "password": self.auth_password,
            }),
            _ => return Err(Invalid::new("endpoint.auth.type", "choose an auth type")),
        })
    }

    fn signing(&self) -> Result<Value, Invalid> {
        let secret = self.signing_secret.trim();
        Ok(match self.signing_scheme.as_str() {
            "" | "none" => json!({"scheme": "none"}),
            "standard-webhooks" => {
                json!({"scheme": "standard-webhooks", "secrets": lines(secret)})
            }
            scheme @ ("hmac-sha256" | "aws-devops-agent") => {
                json!({"scheme": scheme, "secret": secret})
            }
            _ => return Err(Invalid::new("endpoint.signing.scheme", "choose a scheme")),
        })
    }

    /// The fields for a stored endpoint, its secrets masked.
    pub fn of(endpoint: &Endpoint) -> Self {
        let endpoint = endpoint.masked();
        let mut fields = Self {
            headers: endpoint
                .headers
                .0
                .iter()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect::<Vec<_>>()
                .join("\n"),
            timeout_ms: endpoint
                .timeout_ms
                .map(|ms| ms.to_string())
                .unwrap_or_default(),
            insecure_tls: if endpoint.allow_insecure_tls {
                "on"
            } else {
                ""
            }
            .into(),
            ..Self::blank()
        };
        fields.fill_auth(&endpoint.auth);
        fields.fill_signing(&endpoint.signing);
        fields
    }

    fn fill_auth(&mut self, auth: &Auth) {
        self.auth_type = match auth {
            Auth::None => "none",
            Auth::Bearer { token } => {
                self.auth_token = token.clone();
                "bearer"
            }
            Auth::ApiKey { header, key } => {
                (self.auth_header, self.auth_key) = (header.clone(), key.clone());
                "api_key"
            }
            Auth::Basic { username, password } => {
                (self.auth_username, self.auth_password) = (username.clone(), password.clone());
                "basic"
            }
        }
        .into();
    }

    fn fill_signing(&mut self, signing: &Signing) {
        let (scheme, secret) = match signing {
            Signing::None => ("none", String::new()),
            Signing::HmacSha256 { secret } => ("hmac-sha256", secret.clone()),
            Signing::AwsDevopsAgent { secret } => ("aws-devops-agent", secret.clone()),
            Signing::StandardWebhooks { secrets, .. } => ("standard-webhooks", secrets.join("\n")),
        };
        (self.signing_scheme, self.signing_secret) = (scheme.into(), secret);
    }
}

/// Values separated by lines or commas.
pub fn lines(text: &str) -> Vec<&str> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
}

/// An optional whole number; `field` names it when it is not one.
pub fn number(text: &str, field: &str) -> Result<Value, Invalid> {
    match text.trim() {
        "" => Ok(Value::Null),
        text => text
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| Invalid::new(field, "must be a whole number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_through_a_stored_endpoint_masked() {
        let fields = EndpointFields {
            headers: "X-Team: ops\nX-Api-Token: tok-0123456789abc".into(),
            auth_type: "bearer".into(),
            auth_token: "bearer-0123456789".into(),
            signing_scheme: "hmac-sha256".into(),
            signing_secret: "signing-secret-abcdefghijkl".into(),
            timeout_ms: "2500".into(),
            insecure_tls: "on".into(),
            ..EndpointFields::blank()
        };
        let mut json = Map::new();
        json.insert("url".into(), json!("https://ci.example.com/x"));
        fields.add_to(&mut json).unwrap();
        let endpoint: Endpoint = serde_json::from_value(Value::Object(json)).unwrap();
        let shown = EndpointFields::of(&endpoint);
        assert_eq!(endpoint.timeout_ms, Some(2500));
        assert!(endpoint.allow_insecure_tls);
        assert_eq!(shown.auth_token, "…6789");
        assert_eq!(shown.signing_secret, "…ijkl");
        assert_eq!(shown.headers, "X-Team: ops\nX-Api-Token: …9abc");
    }

    #[test]
    fn bad_lines_and_numbers_name_their_field() {
        let bad = |fields: EndpointFields| fields.add_to(&mut Map::new()).unwrap_err().field;
        let headers = EndpointFields {
            headers: "no colon here".into(),
            ..EndpointFields::blank()
        };
        let timeout = EndpointFields {
            timeout_ms: "soon".into(),
            ..EndpointFields::blank()
        };
        assert_eq!(bad(headers), "endpoint.headers");
        assert_eq!(bad(timeout), "endpoint.timeout_ms");
        assert_eq!(form_field("auth.token"), Some("auth"));
        assert_eq!(form_field("url"), None);
    }
}
