//! The built-in chat formats (SPEC §5): Handlebars files in the repository's `templates/`
//! folder, embedded in the binary so it runs from anywhere, compiled once.
//!
//! The files lay a message out; what goes into it is prepared here, per platform: the event's
//! [`Display`] escaped for the platform's markup and cut to its limits, and the facts already in
//! the platform's shape. Rust does that work once per render instead of the template calling
//! helpers per value, which keeps a render within a few microseconds.

use std::borrow::Cow;
use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Map, Value};

use super::display::{Display, display};
use super::engine::{CompileError, CompiledTemplate, OutputKind, RenderError};
use super::text::{markdown_escape, slack_escape, truncate, truncate_owned};
use crate::model::Event;

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

const MARKER: &str = "…";

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

/// Renders `event` in `format`.
pub fn render(format: BuiltIn, event: &Event) -> Result<String, RenderError> {
    let compiled = COMPILED
        .as_ref()
        .map_err(|error| RenderError::Failed(error.to_string()))?;
    let template = compiled
        .iter()
        .find(|(candidate, _)| *candidate == format)
        .map(|(_, template)| template)
        .ok_or_else(|| RenderError::Failed(format!("no built-in template for {format:?}")))?;
    // Every value is escaped for JSON by the template and the facts are serialised by serde:
    // the output is JSON by construction (the golden-file tests hold it to that), so it is not
    // parsed again.
    template.render_raw(platform_context(format, &display(event), event))
}

fn cut(text: &str, max: usize) -> String {
    truncate(text, max, MARKER).into_owned()
}

fn cut_owned(text: String, max: usize) -> String {
    truncate_owned(text, max, MARKER)
}

/// What a format's file places, keyed by the names the file uses.
fn platform_context(format: BuiltIn, shown: &Display, event: &Event) -> Value {
    let mut context = Map::with_capacity(12);
    let mut put = |key: &str, value: Value| {
        context.insert(key.to_owned(), value);
    };
    put("emoji", shown.emoji.into());
    put("occurred_at", event.occurred_at.clone().into());
    put("has_facts", (!shown.facts.is_empty()).into());
    let facts = match format {
        BuiltIn::Slack => {
            put("title", cut_owned(slack_escape(&shown.title), 2900).into());
            put("header", cut(&shown.title, 140).into());
            put("text", cut_owned(slack_escape(&shown.text), 3000).into());
            put("footer", slack_escape(&shown.footer).into());
            facts_json(shown, |name, value| FactOut {
                kind: Some("mrkdwn"),
                text: Some(
                    format!(
                        "*{}*\n{}",
                        slack_escape(name),
                        cut_owned(slack_escape(value), 1900)
                    )
                    .into(),
                ),
                ..FactOut::default()
            })
        }
        BuiltIn::Mattermost => {
            put("title", markdown_escape(&shown.title).into());
            put("fallback", shown.title.clone().into());
            put("text", cut_owned(markdown_escape(&shown.text), 4000).into());
            put("color", shown.color.clone().into());
            put("footer", shown.footer.clone().into());
            facts_json(shown, |name, value| FactOut {
                short: Some(true),
                title: Some(name.into()),
                value: Some(markdown_escape(value).into()),
                ..FactOut::default()
            })
        }
        BuiltIn::Discord => {
            // 256 + 3000 + 10 × (40 + 200) + 100 stays under the 6000 characters of an embed.
            put(
                "content",
                cut_owned(markdown_escape(&shown.title), 2000).into(),
            );
            put(
                "title",
                cut_owned(format!("{} {}", shown.emoji, shown.title), 256).into(),
            );
            put("text", cut_owned(markdown_escape(&shown.text), 3000).into());
            put("color", shown.color_int.into());
            put("footer", cut(&shown.footer, 100).into());
            facts_json(shown, |name, value| FactOut {
                name: Some(truncate(name, 40, MARKER)),
                value: Some(cut_owned(markdown_escape(value), 200).into()),
                inline: Some(true),
                ..FactOut::default()
            })
        }
        BuiltIn::Teams => {
            put("title", markdown_escape(&shown.title).into());
            put("summary", cut(&shown.title, 200).into());
            put("text", cut_owned(markdown_escape(&shown.text), 4000).into());
            put("color", shown.color_hex.clone().into());
            facts_json(shown, |name, value| FactOut {
                name: Some(name.into()),
                value: Some(markdown_escape(value).into()),
                ..FactOut::default()
            })
        }
        BuiltIn::TeamsAdaptive => {
            // TextBlocks read only a little Markdown: text goes in as written.
            put("title", shown.title.clone().into());
            put("text", cut(&shown.text, 4000).into());
            put("color", shown.card_color.into());
            put("footer", shown.footer.clone().into());
            facts_json(shown, |name, value| FactOut {
                title: Some(name.into()),
                value: Some(value.into()),
                ..FactOut::default()
            })
        }
    };
    put("facts", facts.into());
    Value::Object(context)
}

/// One fact in any platform's shape; absent parts are left out. The field order is the order
/// each platform documents its own.
#[derive(Default, Serialize)]
struct FactOut<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    short: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inline: Option<bool>,
}

/// The facts as a JSON array, serialised straight from the display: the files place this text
/// as it is (`{{{facts}}}`).
fn facts_json<'a>(shown: &'a Display, shape: impl Fn(&'a str, &'a str) -> FactOut<'a>) -> String {
    let facts: Vec<FactOut<'a>> = shown
        .facts
        .iter()
        .map(|fact| shape(&fact.name, &fact.value))
        .collect();
    serde_json::to_string(&facts).unwrap_or_else(|_| "[]".to_owned())
}
