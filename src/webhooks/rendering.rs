//! A webhook's own templates, compiled when it is saved (a failure is a `422` naming the line
//! and column) and again when it is loaded, then kept with the parsed webhook.

use super::{Format, WebhookSpec};
use crate::outbound::Endpoint;
use crate::templates::{BuiltIn, CompiledTemplate, OutputKind};
use crate::validation::Invalid;

/// Template sources beyond this are refused: they are configuration, not data.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// How a webhook turns an event into a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendering {
    /// The event as stored.
    Generic,
    BuiltIn(BuiltIn),
    Body(CompiledTemplate),
    /// A whole-request template, which overrides the format.
    Request(CompiledTemplate),
}

impl Rendering {
    pub fn compile(spec: &WebhookSpec) -> Result<Self, Invalid> {
        let compile = |field: &str, source: &str, kind: OutputKind| {
            compile_template(field, source, kind, spec.template_strict)
        };
        let body = match (&spec.format, &spec.body_template) {
            (Format::Custom, Some(source)) => {
                Some(compile("body_template", source, body_kind(&spec.endpoint))?)
            }
            (Format::Custom, None) if spec.request_template.is_none() => {
                return Err(Invalid::new(
                    "body_template",
                    "is required when `format` is `custom`",
                ));
            }
            (_, Some(_)) if spec.format != Format::Custom => {
                return Err(Invalid::new(
                    "body_template",
                    "is only used when `format` is `custom`",
                ));
            }
            _ => None,
        };
        if let Some(source) = &spec.request_template {
            return Ok(Rendering::Request(compile(
                "request_template",
                source,
                OutputKind::Json,
            )?));
        }
        Ok(match (spec.format, body) {
            (_, Some(body)) => Rendering::Body(body),
            (Format::Slack, None) => Rendering::BuiltIn(BuiltIn::Slack),
            (Format::Mattermost, None) => Rendering::BuiltIn(BuiltIn::Mattermost),
            (Format::Discord, None) => Rendering::BuiltIn(BuiltIn::Discord),
            (Format::Teams, None) => Rendering::BuiltIn(BuiltIn::Teams),
            (Format::TeamsAdaptive, None) => Rendering::BuiltIn(BuiltIn::TeamsAdaptive),
            (Format::Generic | Format::Custom, None) => Rendering::Generic,
        })
    }
}

/// Compiles an administrator's template; sources beyond [`MAX_TEMPLATE_BYTES`] are refused.
pub fn compile_template(
    field: &str,
    source: &str,
    kind: OutputKind,
    strict: bool,
) -> Result<CompiledTemplate, Invalid> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(Invalid::new(
            field,
            format!("must be at most {MAX_TEMPLATE_BYTES} bytes"),
        ));
    }
    CompiledTemplate::compile(source, kind, strict)
        .map_err(|error| Invalid::new(field, error.to_string()))
}

/// A body template's output follows the `Content-Type` the endpoint sends: a form, text, or
/// (by default) JSON.
pub fn body_kind(endpoint: &Endpoint) -> OutputKind {
    let content_type = endpoint
        .headers
        .0
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.to_ascii_lowercase());
    match content_type {
        Some(media) if media.starts_with("application/x-www-form-urlencoded") => OutputKind::Form,
        Some(media) if media.starts_with("text/") => OutputKind::Text,
        _ => OutputKind::Json,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rendering(extra: serde_json::Value) -> Result<Rendering, Invalid> {
        let mut spec =
            json!({"name": "a", "endpoint": {"url": "https://a.example"}, "events": ["*"]});
        for (key, value) in extra.as_object().unwrap() {
            spec[key] = value.clone();
        }
        Rendering::compile(&serde_json::from_value(spec).unwrap())
    }

    #[test]
    fn the_format_picks_the_rendering_and_a_request_template_overrides_it() {
        assert_eq!(rendering(json!({})), Ok(Rendering::Generic));
        assert_eq!(
            rendering(json!({"format": "teams-adaptive"})),
            Ok(Rendering::BuiltIn(BuiltIn::TeamsAdaptive))
        );
        let request = rendering(json!({"format": "slack", "request_template": "{}"})).unwrap();
        assert!(matches!(request, Rendering::Request(_)));
    }

    #[test]
    fn body_templates_belong_to_the_custom_format_and_follow_the_content_type() {
        assert_eq!(
            rendering(json!({"format": "custom"})).unwrap_err().field,
            "body_template"
        );
        assert_eq!(
            rendering(json!({"format": "slack", "body_template": "{}"}))
                .unwrap_err()
                .field,
            "body_template"
        );
        let form = rendering(json!({"format": "custom", "body_template": "a={{x}}",
            "endpoint": {"url": "https://a.example", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}}));
        let Ok(Rendering::Body(template)) = form else {
            panic!("{form:?}")
        };
        assert_eq!(template.kind(), OutputKind::Form);
    }

    #[test]
    fn compile_errors_name_the_field_line_and_column() {
        let error = rendering(
            json!({"format": "custom", "body_template": "{\n  \"a\": \"{{nope x}}\"\n}"}),
        )
        .unwrap_err();
        assert_eq!(error.field, "body_template");
        assert!(error.reason.contains("line 2, column 9"), "{error}");
        let too_big =
            rendering(json!({"request_template": "x".repeat(MAX_TEMPLATE_BYTES + 1)})).unwrap_err();
        assert_eq!(too_big.field, "request_template");
    }
}
