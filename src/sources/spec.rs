//! The source resource as clients send it (SPEC §4.5): which sender posts to it, how it
//! authenticates, and for `custom` how a request maps to an alert or event.

use serde::{Deserialize, Serialize};

use super::custom::Mapping;
use crate::outbound::secret::{mask, restore};
use crate::secrets::{Sealable, SecretsError};
use crate::validation::Invalid;

const MAX_NAME_CHARS: usize = 100;

/// What a client sends to create or replace a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Also the source's address: `/hooks/in/{name}`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub kind: SourceKind,
    #[serde(default)]
    pub auth: SourceAuth,
    /// With `kind: custom`: how a request becomes an alert or an event.
    #[serde(default)]
    pub mapping: Option<Mapping>,
}

fn enabled_by_default() -> bool {
    true
}

/// The sender whose documents a source takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Alertmanager,
    Grafana,
    TacticalRmm,
    Datagerry,
    Vergeos,
    Allquiet,
    Custom,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Alertmanager => "alertmanager",
            SourceKind::Grafana => "grafana",
            SourceKind::TacticalRmm => "tactical-rmm",
            SourceKind::Datagerry => "datagerry",
            SourceKind::Vergeos => "vergeos",
            SourceKind::Allquiet => "allquiet",
            SourceKind::Custom => "custom",
        }
    }
}

/// How a sender proves it may post. Secrets are write-only: answers show them masked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceAuth {
    /// An unguessable token in the path (`/hooks/in/{source}/{token}`), made by Switchyard:
    /// the only way DATAGERRY can authenticate.
    #[default]
    UrlToken,
    Bearer {
        token: String,
    },
    /// Also from `https://user:pass@…` URLs, which clients send as Basic auth.
    Basic {
        username: String,
        password: String,
    },
    ApiKey {
        #[serde(default = "default_api_key_header")]
        header: String,
        key: String,
    },
    /// A signature over the body made with a shared secret.
    Hmac {
        scheme: HmacScheme,
        secret: String,
        /// Grafana: the signature header's name when it was changed in Grafana.
        #[serde(default)]
        header: Option<String>,
        /// Grafana: the timestamp header's name, when Grafana is set to send one.
        #[serde(default)]
        timestamp_header: Option<String>,
    },
}

fn default_api_key_header() -> String {
    "X-API-Key".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HmacScheme {
    /// `X-Grafana-Alerting-Signature`: hex HMAC-SHA256 of `[timestamp:]body`.
    Grafana,
    /// `x-aq-signature`: base64 HMAC-SHA256 of `<x-aq-timestamp>:<body>`.
    Allquiet,
    /// Switchyard's own (`X-Switchyard-Signature: sha256=…` over `<timestamp>.<body>`).
    HmacSha256,
    StandardWebhooks,
}

impl SourceSpec {
    /// Checks every field.
    pub fn validate(&mut self) -> Result<(), Invalid> {
        self.name = self.name.trim().to_owned();
        let name_fits = !self.name.is_empty()
            && self.name.chars().count() <= MAX_NAME_CHARS
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_fits || self.name.starts_with("src_") {
            return Err(Invalid::new(
                "name",
                "must be 1 to 100 letters, digits, `-`, `_` or `.` (it is part of the URL), not starting with src_",
            ));
        }
        self.auth
            .validate()
            .map_err(|invalid| invalid.under("auth"))?;
        match (self.kind, &self.mapping) {
            (SourceKind::Custom, Some(mapping)) => {
                mapping
                    .compile()
                    .map_err(|invalid| invalid.under("mapping"))?;
            }
            (SourceKind::Custom, None) => {
                return Err(Invalid::new("mapping", "is needed for a custom source"));
            }
            (_, Some(_)) => {
                return Err(Invalid::new("mapping", "is only for kind custom"));
            }
            (_, None) => {}
        }
        Ok(())
    }

    pub fn masked(&self) -> SourceSpec {
        SourceSpec {
            auth: self.auth.masked(),
            ..self.clone()
        }
    }

    /// A replacement that echoes masked values back (as read from the API) keeps the stored
    /// secrets.
    pub fn keep_masked_secrets(&mut self, stored: &SourceSpec) {
        self.auth.keep_masked_secrets(&stored.auth);
    }
}

impl Sealable for SourceSpec {
    fn each_secret(
        &mut self,
        visit: &mut dyn FnMut(&mut String) -> Result<(), SecretsError>,
    ) -> Result<(), SecretsError> {
        match &mut self.auth {
            SourceAuth::UrlToken => Ok(()),
            SourceAuth::Bearer { token } => visit(token),
            SourceAuth::Basic { password, .. } => visit(password),
            SourceAuth::ApiKey { key, .. } => visit(key),
            SourceAuth::Hmac { secret, .. } => visit(secret),
        }
    }
}

impl SourceAuth {
    fn validate(&self) -> Result<(), Invalid> {
        let empty = |field: &str, value: &str| {
            if value.is_empty() {
                Err(Invalid::new(field, "must not be empty"))
            } else {
                Ok(())
            }
        };
        match self {
            SourceAuth::UrlToken => Ok(()),
            SourceAuth::Bearer { token } => empty("token", token),
            SourceAuth::Basic { username, password } => {
                empty("username", username)?;
                empty("password", password)
            }
            SourceAuth::ApiKey { header, key } => {
                empty("header", header)?;
                empty("key", key)
            }
            SourceAuth::Hmac { secret, .. } => empty("secret", secret),
        }
    }

    fn masked(&self) -> SourceAuth {
        let mut copy = self.clone();
        match &mut copy {
            SourceAuth::UrlToken => {}
            SourceAuth::Bearer { token } => *token = mask(token),
            SourceAuth::Basic { password, .. } => *password = mask(password),
            SourceAuth::ApiKey { key, .. } => *key = mask(key),
            SourceAuth::Hmac { secret, .. } => *secret = mask(secret),
        }
        copy
    }

    fn keep_masked_secrets(&mut self, stored: &SourceAuth) {
        match (self, stored) {
            (SourceAuth::Bearer { token }, SourceAuth::Bearer { token: old }) => {
                restore(token, old)
            }
            (SourceAuth::Basic { password, .. }, SourceAuth::Basic { password: old, .. }) => {
                restore(password, old);
            }
            (SourceAuth::ApiKey { key, .. }, SourceAuth::ApiKey { key: old, .. }) => {
                restore(key, old);
            }
            (SourceAuth::Hmac { secret, .. }, SourceAuth::Hmac { secret: old, .. }) => {
                restore(secret, old);
            }
            _ => {}
        }
    }
}
