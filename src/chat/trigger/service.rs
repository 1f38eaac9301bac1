//! A trigger's service: an endpoint, and the format of what it receives.

use serde::{Deserialize, Serialize};
use url::Url;

use super::MAX_NAME_CHARS;
use crate::outbound::Endpoint;
use crate::validation::Invalid;
use crate::webhooks::{body_kind, compile_template};

/// The service URL of the gateway's own incident commands (`list`, `ack 12`, …).
pub const BUILTIN_INCIDENTS: &str = "builtin:incidents";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Shown in error lines (`build: service timed out after 10 s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub endpoint: Endpoint,
    #[serde(default)]
    pub format: ServiceFormat,
    /// The body for `format: template`, rendered from the `json` format's object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_template: Option<String>,
    #[serde(default)]
    pub template_strict: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceFormat {
    /// The chat's fields form-encoded exactly as Mattermost encodes them.
    #[default]
    MattermostForm,
    /// The chat's fields as Mattermost's JSON.
    MattermostJson,
    /// The chat's fields with `trigger`, `trigger_word`, `args`, `platform`, `response_url`.
    Json,
    /// `body_template` rendered from the `json` object.
    Template,
}

impl ServiceSpec {
    pub fn is_builtin(&self) -> bool {
        self.endpoint.url.starts_with("builtin:")
    }

    /// The service's URL when it is an HTTP service.
    pub(super) fn validate(&mut self) -> Result<Option<Url>, Invalid> {
        if let Some(name) = &self.name
            && (name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS)
        {
            return Err(Invalid::new("name", "must be 1 to 100 characters"));
        }
        match (self.format, &self.body_template) {
            (ServiceFormat::Template, Some(source)) => {
                compile_template(
                    "body_template",
                    source,
                    body_kind(&self.endpoint),
                    self.template_strict,
                )?;
            }
            (ServiceFormat::Template, None) => {
                return Err(Invalid::new(
                    "body_template",
                    "is required when `format` is `template`",
                ));
            }
            (_, Some(_)) => {
                return Err(Invalid::new(
                    "body_template",
                    "is only used when `format` is `template`",
                ));
            }
            (_, None) => {}
        }
        if self.is_builtin() {
            if self.endpoint.url != BUILTIN_INCIDENTS {
                return Err(Invalid::new(
                    "endpoint.url",
                    format!("the only built-in service is `{BUILTIN_INCIDENTS}`"),
                ));
            }
            return Ok(None);
        }
        self.endpoint.normalize();
        self.endpoint
            .validate()
            .map(Some)
            .map_err(|error| error.under("endpoint"))
    }
}
