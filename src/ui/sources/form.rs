//! The source form's fields: parsed into the API's [`SourceSpec`] (built as the JSON an API
//! client would send, so the form accepts exactly what the API does), and filled from a stored
//! source with its secrets masked. A refusal names the form field it concerns.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::sources::{SourceAuth, SourceSpec};
use crate::validation::Invalid;

/// The kinds the API takes, with what the console calls them, in the order it lists them.
pub const KINDS: [(&str, &str); 7] = [
    ("alertmanager", "Prometheus Alertmanager"),
    ("grafana", "Grafana alerting"),
    ("tactical-rmm", "Tactical RMM"),
    ("datagerry", "DATAGERRY"),
    ("vergeos", "VergeOS"),
    ("allquiet", "All Quiet"),
    ("custom", "Custom (your own mapping)"),
];

/// What the console calls `kind`; `None` for a kind the API does not take.
pub fn kind_label(kind: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, label)| *label)
}

/// Every field as the browser sends it; checkboxes are absent when unchecked.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SourceForm {
    #[serde(skip_serializing)]
    pub csrf: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub enabled: Option<String>,
    pub auth_type: String,
    pub auth_token: String,
    pub auth_username: String,
    pub auth_password: String,
    pub auth_header: String,
    pub auth_key: String,
    pub hmac_scheme: String,
    pub hmac_secret: String,
    pub hmac_header: String,
    pub hmac_timestamp_header: String,
    /// For kind `custom`: the mapping as JSON.
    pub mapping: String,
}

/// A refusal placed beside its field: `field` is the form field's name (`form` when none fits).
#[derive(Debug, Default, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn of(invalid: &Invalid) -> Self {
        let field = match invalid.field.split(['.', '[']).next().unwrap_or_default() {
            "name" => "name",
            "description" => "description",
            "kind" => "kind",
            "auth" => "auth",
            "mapping" => "mapping",
            _ => "form",
        };
        Self {
            field,
            message: invalid.to_string(),
        }
    }
}

/// Text or nothing: an empty optional header name is no header name.
fn optional(text: &str) -> Value {
    match text.trim() {
        "" => Value::Null,
        text => json!(text),
    }
}

impl SourceForm {
    /// A blank form for a source of `kind`, with the API's defaults.
    pub fn blank(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            enabled: Some("on".into()),
            auth_type: "url_token".into(),
            hmac_scheme: if kind == "allquiet" {
                "allquiet"
            } else {
                "grafana"
            }
            .into(),
            ..Self::default()
        }
    }

    pub fn to_spec(&self) -> Result<SourceSpec, Invalid> {
        let mapping = match self.mapping.trim() {
            "" => Value::Null,
            text => serde_json::from_str(text)
                .map_err(|error| Invalid::new("mapping", format!("is not JSON: {error}")))?,
        };
        let spec = json!({
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled.is_some(),
            "kind": self.kind,
            "auth": self.auth()?,
            "mapping": mapping,
        });
        serde_json::from_value(spec).map_err(|error| {
            let field = if error.to_string().contains("variant") {
                "kind"
            } else {
                "form"
            };
            Invalid::new(field, error.to_string())
        })
    }

    fn auth(&self) -> Result<Value, Invalid> {
        Ok(match self.auth_type.as_str() {
            "" | "url_token" => json!({"type": "url_token"}),
            "bearer" => json!({"type": "bearer", "token": self.auth_token}),
            "basic" => json!({
                "type": "basic", "username": self.auth_username, "password": self.auth_password,
            }),
            "api_key" => {
                let header = match self.auth_header.trim() {
                    "" => "X-API-Key",
                    header => header,
                };
                json!({"type": "api_key", "header": header, "key": self.auth_key})
            }
            "hmac" => json!({
                "type": "hmac", "scheme": self.hmac_scheme, "secret": self.hmac_secret,
                "header": optional(&self.hmac_header),
                "timestamp_header": optional(&self.hmac_timestamp_header),
            }),
            _ => return Err(Invalid::new("auth.type", "choose how the sender signs in")),
        })
    }

    /// The form for a stored source, its secrets masked.
    pub fn of(spec: &SourceSpec) -> Self {
        let spec = spec.masked();
        let mut form = Self {
            name: spec.name.clone(),
            description: spec.description.clone(),
            enabled: spec.enabled.then(|| "on".into()),
            mapping: spec
                .mapping
                .as_ref()
                .and_then(|mapping| serde_json::to_string_pretty(mapping).ok())
                .unwrap_or_default(),
            ..Self::blank(spec.kind.as_str())
        };
        form.fill_auth(&spec.auth);
        form
    }

    fn fill_auth(&mut self, auth: &SourceAuth) {
        self.auth_type = match auth {
            SourceAuth::UrlToken => "url_token",
            SourceAuth::Bearer { token } => {
                self.auth_token = token.clone();
                "bearer"
            }
            SourceAuth::Basic { username, password } => {
                (self.auth_username, self.auth_password) = (username.clone(), password.clone());
                "basic"
            }
            SourceAuth::ApiKey { header, key } => {
                (self.auth_header, self.auth_key) = (header.clone(), key.clone());
                "api_key"
            }
            SourceAuth::Hmac {
                scheme,
                secret,
                header,
                timestamp_header,
            } => {
                self.hmac_scheme = json!(scheme).as_str().unwrap_or_default().to_owned();
                self.hmac_secret = secret.clone();
                self.hmac_header = header.clone().unwrap_or_default();
                self.hmac_timestamp_header = timestamp_header.clone().unwrap_or_default();
                "hmac"
            }
        }
        .into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_form_with_a_name_is_a_url_token_source() {
        let form = SourceForm {
            name: "rmm".into(),
            ..SourceForm::blank("tactical-rmm")
        };
        let spec = form.to_spec().unwrap();
        assert_eq!(spec.auth, SourceAuth::UrlToken);
        assert_eq!(SourceForm::of(&spec).kind, "tactical-rmm");
    }

    #[test]
    fn refusals_name_their_form_field() {
        let unknown_kind = SourceForm {
            name: "x".into(),
            ..SourceForm::blank("pagerduty")
        };
        let bad_mapping = SourceForm {
            mapping: "{".into(),
            ..SourceForm::blank("custom")
        };
        let hmac = SourceForm {
            auth_type: "hmac".into(),
            hmac_secret: "s3cret-value".into(),
            ..SourceForm::blank("grafana")
        };
        assert_eq!(
            FieldError::of(&unknown_kind.to_spec().unwrap_err()).field,
            "kind"
        );
        assert_eq!(
            FieldError::of(&bad_mapping.to_spec().unwrap_err()).field,
            "mapping"
        );
        let masked = SourceForm::of(&hmac.to_spec().unwrap());
        assert_eq!(
            (masked.auth_type.as_str(), masked.hmac_scheme.as_str()),
            ("hmac", "grafana")
        );
        assert_ne!(masked.hmac_secret, "s3cret-value");
    }
}
