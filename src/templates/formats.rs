//! The built-in chat formats (SPEC §5): Handlebars files in the repository's `templates/`
//! folder, embedded in the binary so it runs from anywhere, compiled once.

use std::sync::LazyLock;

use serde_json::Value;

use super::engine::{CompileError, CompiledTemplate, OutputKind, RenderError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltIn {
    Slack,
    Mattermost,
    Discord,
    Teams,
    TeamsAdaptive,
}

const SOURCES: [(BuiltIn, &str, &str); 5] = [
    (
        BuiltIn::Slack,
        "slack.hbs",
        include_str!("../../templates/formats/slack.hbs"),
    ),
    (
        BuiltIn::Mattermost,
        "mattermost.hbs",
        include_str!("../../templates/formats/mattermost.hbs"),
    ),
    (
        BuiltIn::Discord,
        "discord.hbs",
        include_str!("../../templates/formats/discord.hbs"),
    ),
    (
        BuiltIn::Teams,
        "teams.hbs",
        include_str!("../../templates/formats/teams.hbs"),
    ),
    (
        BuiltIn::TeamsAdaptive,
        "teams-adaptive.hbs",
        include_str!("../../templates/formats/teams-adaptive.hbs"),
    ),
];

#[derive(Debug, Clone, thiserror::Error)]
#[error("built-in template {file}: {error}")]
pub struct BuiltInError {
    file: &'static str,
    error: CompileError,
}

static COMPILED: LazyLock<Result<Vec<(BuiltIn, CompiledTemplate)>, BuiltInError>> =
    LazyLock::new(|| {
        SOURCES
            .iter()
            .map(|(format, file, source)| {
                CompiledTemplate::compile(source, OutputKind::Json, false)
                    .map(|template| (*format, template))
                    .map_err(|error| BuiltInError { file, error })
            })
            .collect()
    });

/// Compiles the built-in formats; called at start so a broken file stops it there.
pub fn load() -> Result<(), BuiltInError> {
    COMPILED.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// Renders `format` with `context`.
pub fn render(format: BuiltIn, context: Value) -> Result<String, RenderError> {
    let compiled = COMPILED
        .as_ref()
        .map_err(|error| RenderError::Failed(error.to_string()))?;
    let template = compiled
        .iter()
        .find(|(candidate, _)| *candidate == format)
        .map(|(_, template)| template)
        .ok_or_else(|| RenderError::Failed(format!("no built-in template for {format:?}")))?;
    template.render(context)
}
