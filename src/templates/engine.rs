//! Compiling and rendering Handlebars templates with escaping that follows the output: JSON
//! string content, form encoding, or raw text — never HTML.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement, TemplateMapping};
use handlebars::{Context, Handlebars, RenderContext, Renderable, StringOutput};
use serde_json::Value;

use super::helpers;

/// What a template produces, which decides how inserted values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputKind {
    /// `{{value}}` becomes JSON string content; `{{json value}}` inserts any value as JSON.
    Json,
    /// `{{value}}` is form-encoded (`application/x-www-form-urlencoded`).
    Form,
    /// `{{value}}` is inserted as it is.
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", position(*line, *column))]
pub struct CompileError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("line {line}, column {column}: "),
        (Some(line), None) => format!("line {line}: "),
        _ => String::new(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// In strict mode, a variable the context does not have; `path` names it.
    #[error("`{path}` is missing from the context (strict mode)")]
    Missing { path: String },
    #[error("{0}")]
    Failed(String),
    /// A JSON template whose output does not parse: the parser's message and the rendered text
    /// around the place it stopped.
    #[error("the rendered body is not valid JSON: {reason}, near: {near}")]
    InvalidJson { reason: String, near: String },
}

/// A template compiled once, when saved, and rendered many times.
#[derive(Debug, Clone)]
pub struct CompiledTemplate {
    source: Arc<str>,
    template: Arc<Template>,
    kind: OutputKind,
    strict: bool,
}

/// Two templates are the same when compiled from the same text for the same output.
impl PartialEq for CompiledTemplate {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.kind == other.kind && self.strict == other.strict
    }
}

/// The registries templates are rendered with: one per output kind and strictness, each with
/// the same helpers. Built once; rendering only reads them.
struct Registries {
    lenient: [Handlebars<'static>; 3],
    strict: [Handlebars<'static>; 3],
    helper_names: HashSet<&'static str>,
}

static REGISTRIES: LazyLock<Registries> = LazyLock::new(|| {
    let build = |kind: OutputKind, strict: bool| {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(strict);
        match kind {
            OutputKind::Json => registry.register_escape_fn(json_string_content),
            OutputKind::Form => registry.register_escape_fn(form_encode),
            OutputKind::Text => registry.register_escape_fn(handlebars::no_escape),
        }
        helpers::register(&mut registry, kind);
        registry
    };
    let kinds = [OutputKind::Json, OutputKind::Form, OutputKind::Text];
    Registries {
        lenient: kinds.map(|kind| build(kind, false)),
        strict: kinds.map(|kind| build(kind, true)),
        helper_names: helpers::BUILT_IN
            .iter()
            .copied()
            .chain(helpers::OURS.iter().map(|(name, _, _)| *name))
            .collect(),
    }
});

fn registry(kind: OutputKind, strict: bool) -> &'static Handlebars<'static> {
    let index = match kind {
        OutputKind::Json => 0,
        OutputKind::Form => 1,
        OutputKind::Text => 2,
    };
    if strict {
        &REGISTRIES.strict[index]
    } else {
        &REGISTRIES.lenient[index]
    }
}

/// JSON string content: what goes between the quotes. One pass, one allocation: it runs for
/// every value of every render.
fn json_string_content(value: &str) -> String {
    use std::fmt::Write;
    if !value
        .bytes()
        .any(|byte| byte < b' ' || byte == b'"' || byte == b'\\')
    {
        return value.to_owned();
    }
    let mut escaped = String::with_capacity(value.len() + 2);
    for character in value.chars() {
        match character {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            '\u{8}' => escaped.push_str("\\b"),
            '\u{c}' => escaped.push_str("\\f"),
            control if control < ' ' => {
                let _ = write!(escaped, "\\u{:04x}", u32::from(control));
            }
            other => escaped.push(other),
        }
    }
    escaped
}

fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl CompiledTemplate {
    /// Parses `source` and checks that every helper and partial it names exists.
    pub fn compile(source: &str, kind: OutputKind, strict: bool) -> Result<Self, CompileError> {
        let template = Template::compile(source).map_err(|error| CompileError {
            line: error.pos().map(|(line, _)| line),
            column: error.pos().map(|(_, column)| column),
            message: error.reason().to_string(),
        })?;
        check_names(&template, &mut HashSet::new())?;
        Ok(Self {
            source: source.into(),
            template: Arc::new(template),
            kind,
            strict,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn kind(&self) -> OutputKind {
        self.kind
    }

    /// Renders with `data` as the context. JSON output is checked to parse.
    pub fn render(&self, data: Value) -> Result<String, RenderError> {
        let rendered = self.render_raw(data)?;
        if self.kind == OutputKind::Json
            && let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(&rendered)
        {
            return Err(invalid_json(&rendered, &error));
        }
        Ok(rendered)
    }

    /// Renders without checking the output (for built-in formats, whose JSON is known good).
    pub fn render_raw(&self, data: Value) -> Result<String, RenderError> {
        let registry = registry(self.kind, self.strict);
        let context = Context::from(data);
        let mut render_context = RenderContext::new(None);
        let mut output = StringOutput::new();
        self.template
            .render(registry, &context, &mut render_context, &mut output)
            .map_err(render_error)?;
        output
            .into_string()
            .map_err(|error| RenderError::Failed(error.to_string()))
    }
}

fn render_error(error: handlebars::RenderError) -> RenderError {
    use handlebars::RenderErrorReason;
    match error.reason() {
        RenderErrorReason::MissingVariable(path) => RenderError::Missing {
            path: path.clone().unwrap_or_else(|| "a value".into()),
        },
        _ => RenderError::Failed(error.to_string()),
    }
}

/// The parse error with up to 40 characters of rendered text either side of where it stopped.
fn invalid_json(rendered: &str, error: &serde_json::Error) -> RenderError {
    let line = rendered
        .lines()
        .nth(error.line().saturating_sub(1))
        .unwrap_or_default();
    let chars: Vec<char> = line.chars().collect();
    let at = error.column().saturating_sub(1).min(chars.len());
    let from = at.saturating_sub(40);
    let to = (at + 40).min(chars.len());
    RenderError::InvalidJson {
        reason: error.to_string(),
        near: chars[from..to].iter().collect(),
    }
}

/// Refuses helpers and partials that do not exist, naming where they are used.
fn check_names(template: &Template, inline: &mut HashSet<String>) -> Result<(), CompileError> {
    for (index, element) in template.elements.iter().enumerate() {
        let at = template.mapping.get(index);
        match element {
            TemplateElement::Expression(helper) | TemplateElement::HtmlExpression(helper) => {
                // `{{name}}` alone may be a variable; with arguments it must be a helper.
                if !helper.params.is_empty() || !helper.hash.is_empty() {
                    check_helper(helper, at)?;
                }
                check_parameters(helper.params.iter().chain(helper.hash.values()), at)?;
            }
            TemplateElement::HelperBlock(helper) => {
                check_helper(helper, at)?;
                check_parameters(helper.params.iter().chain(helper.hash.values()), at)?;
                for inner in [&helper.template, &helper.inverse].into_iter().flatten() {
                    check_names(inner, inline)?;
                }
            }
            TemplateElement::DecoratorBlock(decorator)
            | TemplateElement::DecoratorExpression(decorator) => {
                if let Some(Parameter::Literal(Value::String(name))) = decorator.params.first() {
                    inline.insert(name.clone());
                }
                if let Some(inner) = &decorator.template {
                    check_names(inner, inline)?;
                }
            }
            TemplateElement::PartialExpression(partial)
            | TemplateElement::PartialBlock(partial) => {
                let name = partial.name.as_name().unwrap_or_default();
                if !inline.contains(name) {
                    return Err(located(at, format!("unknown partial `{name}`")));
                }
            }
            // Text and comments name nothing.
            _ => {}
        }
    }
    Ok(())
}

fn check_helper(helper: &HelperTemplate, at: Option<&TemplateMapping>) -> Result<(), CompileError> {
    match helper.name.as_name() {
        Some(name) => check_call(name, helper.params.len(), at),
        None => Ok(()),
    }
}

/// The helper exists and, if it is one of ours, gets as many arguments as it takes.
fn check_call(
    name: &str,
    arguments: usize,
    at: Option<&TemplateMapping>,
) -> Result<(), CompileError> {
    if !REGISTRIES.helper_names.contains(name) {
        return Err(located(at, format!("unknown helper `{name}`")));
    }
    match helpers::arity(name) {
        Some((min, max)) if arguments < min || arguments > max => {
            let expected = if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            };
            Err(located(
                at,
                format!("helper `{name}` takes {expected} argument(s), not {arguments}"),
            ))
        }
        _ => Ok(()),
    }
}

fn check_parameters<'a>(
    parameters: impl Iterator<Item = &'a Parameter>,
    at: Option<&TemplateMapping>,
) -> Result<(), CompileError> {
    for parameter in parameters {
        if let Parameter::Subexpression(subexpression) = parameter {
            let arguments = subexpression.params().map_or(0, Vec::len);
            check_call(subexpression.name(), arguments, at)?;
            let inner: Vec<&Parameter> = subexpression
                .params()
                .into_iter()
                .flatten()
                .chain(
                    subexpression
                        .hash()
                        .into_iter()
                        .flat_map(|hash| hash.values()),
                )
                .collect();
            check_parameters(inner.into_iter(), at)?;
        }
    }
    Ok(())
}

fn located(at: Option<&TemplateMapping>, message: String) -> CompileError {
    CompileError {
        line: at.map(|mapping| mapping.0),
        column: at.map(|mapping| mapping.1),
        message,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(source: &str, kind: OutputKind, data: Value) -> Result<String, RenderError> {
        CompiledTemplate::compile(source, kind, false)
            .unwrap()
            .render(data)
    }

    #[test]
    fn json_output_escapes_values_as_string_content() {
        let nasty = "quote \" backslash \\ newline \n tab \t bell \u{7} <b>&</b> 🔥 שלום";
        let rendered = render(
            r#"{"text": "{{v}}"}"#,
            OutputKind::Json,
            json!({"v": nasty}),
        )
        .unwrap();
        let parsed: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(parsed["text"], nasty);
    }

    #[test]
    fn json_string_content_matches_serde_json() {
        for text in [
            "plain",
            "q\"b\\n\nr\rt\t",
            "\u{0}\u{8}\u{c}\u{1f}\u{7f}",
            "é🔥 שלום",
            "\u{2028}",
        ] {
            let quoted = Value::String(text.to_owned()).to_string();
            assert_eq!(
                json_string_content(text),
                quoted[1..quoted.len() - 1],
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_json_helper_inserts_any_value() {
        let data = json!({"o": {"a": [1, true, null]}, "n": 2.5, "s": "x\"y"});
        let rendered = render(
            r#"{"o": {{json o}}, "n": {{json n}}, "s": {{json s}}}"#,
            OutputKind::Json,
            data.clone(),
        )
        .unwrap();
        assert_eq!(serde_json::from_str::<Value>(&rendered).unwrap(), data);
        let in_text = render("{{json o}}", OutputKind::Text, data).unwrap();
        assert_eq!(in_text, r#"{"a":[1,true,null]}"#);
    }

    #[test]
    fn form_output_form_encodes_values() {
        let rendered = render(
            "text={{v}}&n={{n}}",
            OutputKind::Form,
            json!({"v": "a b&c=d/é", "n": 1}),
        )
        .unwrap();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&rendered).unwrap();
        assert_eq!(
            pairs,
            [
                ("text".into(), "a b&c=d/é".into()),
                ("n".into(), "1".into())
            ]
        );
    }

    #[test]
    fn text_output_is_raw_and_never_html_escaped() {
        assert_eq!(
            render("{{v}}", OutputKind::Text, json!({"v": "<b>\"&'"})).unwrap(),
            "<b>\"&'"
        );
    }

    #[test]
    fn a_body_that_is_not_json_fails_with_the_text_around_the_error() {
        let error = render(
            r#"{"count": {{n}}}"#,
            OutputKind::Json,
            json!({"n": "many"}),
        )
        .unwrap_err();
        let RenderError::InvalidJson { near, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(near.contains("\"count\": many"), "{near}");
    }

    #[test]
    fn missing_values_render_empty_unless_strict() {
        assert_eq!(
            render("[{{a.b}}]", OutputKind::Text, json!({})).unwrap(),
            "[]"
        );
        let strict = CompiledTemplate::compile(
            "{{incident.title}} {{upper incident.nope}}",
            OutputKind::Text,
            true,
        )
        .unwrap();
        let error = strict
            .render(json!({"incident": {"title": "t"}}))
            .unwrap_err();
        assert_eq!(
            error,
            RenderError::Missing {
                path: "incident.nope".into()
            }
        );
        let plain = CompiledTemplate::compile("{{nothing.here}}", OutputKind::Text, true).unwrap();
        assert_eq!(
            plain.render(json!({})).unwrap_err(),
            RenderError::Missing {
                path: "nothing.here".into()
            }
        );
        let defaulted = CompiledTemplate::compile(
            "{{default a.b \"n/a\"}}{{#if c}}x{{/if}}",
            OutputKind::Text,
            true,
        )
        .unwrap();
        assert_eq!(defaulted.render(json!({})).unwrap(), "n/a");
    }

    #[test]
    fn compile_errors_carry_line_and_column() {
        let error =
            CompiledTemplate::compile("line one\n  {{#if x}}\n  no end", OutputKind::Text, false)
                .unwrap_err();
        assert!(error.line.is_some(), "{error}");
        let unknown =
            CompiledTemplate::compile("a\nb {{shout x}}", OutputKind::Text, false).unwrap_err();
        assert_eq!((unknown.line, unknown.column), (Some(2), Some(3)));
        assert!(unknown.message.contains("unknown helper `shout`"));
        let nested =
            CompiledTemplate::compile("{{upper (shout x)}}", OutputKind::Text, false).unwrap_err();
        assert!(nested.message.contains("`shout`"));
        let block =
            CompiledTemplate::compile("{{#loop x}}{{/loop}}", OutputKind::Text, false).unwrap_err();
        assert!(block.message.contains("`loop`"));
        let partial =
            CompiledTemplate::compile("{{> header}}", OutputKind::Text, false).unwrap_err();
        assert!(partial.message.contains("unknown partial `header`"));
        let arity =
            CompiledTemplate::compile("{{truncate x}}", OutputKind::Text, false).unwrap_err();
        assert!(arity.message.contains("takes 2 to 3"), "{arity}");
        assert!(
            CompiledTemplate::compile(
                "{{#*inline \"p\"}}x{{/inline}}{{> p}}",
                OutputKind::Text,
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn helpers_compose_and_escape_for_the_output() {
        let data = json!({"t": "a_b *c*", "list": ["x", "y"], "at": "2026-11-22T10:00:00Z"});
        let source = r#"{"m": "{{markdown_escape t}}", "u": "{{upper (join list "-")}}", "d": "{{date at "%d.%m."}}", "s": "{{slack_escape "<!here>"}}", "md": "{{slack_to_markdown "<!here> see <https://x.example|docs>"}}", "e": "{{#if (eq (len list) 2)}}two{{/if}}"}"#;
        let rendered: Value =
            serde_json::from_str(&render(source, OutputKind::Json, data).unwrap()).unwrap();
        assert_eq!(
            rendered,
            json!({"m": "a\\_b \\*c\\*", "u": "X-Y", "d": "22.11.", "s": "&lt;!here&gt;", "md": "@here see [docs](https://x.example)", "e": "two"})
        );
    }
}
