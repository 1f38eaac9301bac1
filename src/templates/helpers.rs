//! The helpers of SPEC §5 beyond those Handlebars ships. Each computes a value; the registry's
//! escape function then makes it fit the output (JSON string content, form encoding, raw).

use chrono::DateTime;
use chrono::format::StrftimeItems;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use serde_json::Value;

use super::engine::OutputKind;
use super::slack_markup::slack_to_markdown;
use super::text::{markdown_escape, slack_escape, truncate};

/// Helpers the `handlebars` crate registers itself.
pub const BUILT_IN: &[&str] = &[
    "if", "unless", "each", "with", "lookup", "raw", "log", "eq", "ne", "gt", "gte", "lt", "lte",
    "and", "or", "not", "len",
];

/// Ours, with how many arguments each takes (at least, at most).
pub const OURS: &[(&str, usize, usize)] = &[
    ("json", 1, 1),
    ("default", 2, 2),
    ("upper", 1, 1),
    ("lower", 1, 1),
    ("truncate", 2, 3),
    ("join", 1, 2),
    ("date", 1, 2),
    ("markdown_escape", 1, 1),
    ("slack_escape", 1, 1),
    ("slack_to_markdown", 1, 1),
];

/// How many arguments a helper of ours takes, `None` for a helper of the crate's.
pub fn arity(name: &str) -> Option<(usize, usize)> {
    OURS.iter()
        .find(|(ours, _, _)| *ours == name)
        .map(|(_, min, max)| (*min, *max))
}

pub fn register(registry: &mut Handlebars<'static>, kind: OutputKind) {
    let helpers: [(&str, Compute); 8] = [
        ("upper", |args| Ok(text(args[0]).to_uppercase().into())),
        ("lower", |args| Ok(text(args[0]).to_lowercase().into())),
        ("truncate", truncate_helper),
        ("join", join),
        ("date", date),
        ("markdown_escape", |args| {
            Ok(markdown_escape(&text(args[0])).into())
        }),
        ("slack_escape", |args| {
            Ok(slack_escape(&text(args[0])).into())
        }),
        ("slack_to_markdown", |args| {
            Ok(slack_to_markdown(&text(args[0]), |_| None).into())
        }),
    ];
    for (name, compute) in helpers {
        let helper = ValueHelper {
            name,
            compute,
            accepts_missing: false,
        };
        registry.register_helper(name, Box::new(helper));
    }
    registry.register_helper(
        "default",
        Box::new(ValueHelper {
            name: "default",
            compute: default,
            accepts_missing: true,
        }),
    );
    // Inside JSON, `json` inserts the value itself; elsewhere its JSON text is escaped like
    // any other value.
    match kind {
        OutputKind::Json => registry.register_helper("json", Box::new(RawJson)),
        OutputKind::Form | OutputKind::Text => {
            registry.register_helper("json", Box::new(JSON_TEXT))
        }
    }
}

/// `json`: the value's JSON text.
const JSON_TEXT: ValueHelper = ValueHelper {
    name: "json",
    compute: |args| Ok(args[0].to_string().into()),
    accepts_missing: false,
};

type Compute = fn(&[&Value]) -> Result<Value, String>;

/// A helper that computes a value from its arguments. In strict mode a missing argument is an
/// error naming its path, unless the helper exists to handle missing values (`default`).
struct ValueHelper {
    name: &'static str,
    compute: Compute,
    accepts_missing: bool,
}

impl HelperDef for ValueHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        helper: &Helper<'rc>,
        registry: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let mut args = Vec::with_capacity(helper.params().len());
        for param in helper.params() {
            if registry.strict_mode() && !self.accepts_missing && param.is_value_missing() {
                return Err(RenderError::strict_error(param.relative_path()));
            }
            args.push(param.value());
        }
        let (min, max) = arity(self.name).unwrap_or((0, usize::MAX));
        if args.len() < min || args.len() > max {
            return Err(failed(self.name, "wrong number of arguments".into()));
        }
        (self.compute)(&args)
            .map(ScopedJson::Derived)
            .map_err(|message| failed(self.name, message))
    }
}

fn failed(helper: &str, message: String) -> RenderError {
    RenderErrorReason::Other(format!("helper `{helper}`: {message}")).into()
}

/// `json` in a JSON body: writes the value's JSON text unescaped.
struct RawJson;

impl HelperDef for RawJson {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        helper: &Helper<'rc>,
        registry: &'reg Handlebars<'reg>,
        context: &'rc Context,
        render_context: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        JSON_TEXT.call_inner(helper, registry, context, render_context)
    }

    fn call<'reg: 'rc, 'rc>(
        &self,
        helper: &Helper<'rc>,
        registry: &'reg Handlebars<'reg>,
        context: &'rc Context,
        render_context: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let json = self.call_inner(helper, registry, context, render_context)?;
        out.write(json.as_json().as_str().unwrap_or_default())?;
        Ok(())
    }
}

/// A value as text: strings as they are, nothing as empty, anything else as its JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        _ => false,
    }
}

fn default(args: &[&Value]) -> Result<Value, String> {
    let chosen = if is_blank(args[0]) { args[1] } else { args[0] };
    Ok(chosen.clone())
}

/// `truncate value max [marker]`: at most `max` characters, the marker included.
fn truncate_helper(args: &[&Value]) -> Result<Value, String> {
    let max = args[1]
        .as_u64()
        .and_then(|max| usize::try_from(max).ok())
        .ok_or("the length must be a whole number")?;
    let marker = args.get(2).map_or_else(|| "…".to_owned(), |m| text(m));
    Ok(truncate(&text(args[0]), max, &marker).into_owned().into())
}

/// `join list [separator]`, the separator `, ` unless given.
fn join(args: &[&Value]) -> Result<Value, String> {
    let separator = args.get(1).map_or_else(|| ", ".to_owned(), |s| text(s));
    let joined = match args[0] {
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(&separator),
        other => text(other),
    };
    Ok(joined.into())
}

/// `date at [format]`: an RFC 3339 time (or milliseconds since the epoch) in strftime's format,
/// RFC 3339 unless given. An absent time gives empty text.
fn date(args: &[&Value]) -> Result<Value, String> {
    let at = match args[0] {
        Value::Null => return Ok(Value::String(String::new())),
        Value::String(text) if text.is_empty() => return Ok(Value::String(String::new())),
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|error| format!("`{text}` is not an RFC 3339 time: {error}"))?
            .to_utc(),
        Value::Number(millis) => millis
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or("the number is not a time in milliseconds")?,
        other => return Err(format!("`{other}` is not a time")),
    };
    let Some(format) = args.get(1) else {
        return Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into());
    };
    let format = text(format);
    // An unknown specifier would make chrono fail while writing: check the format first.
    let items = StrftimeItems::new(&format)
        .parse()
        .map_err(|_| format!("`{format}` is not a valid strftime format"))?;
    Ok(at.format_with_items(items.iter()).to_string().into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(compute: Compute, args: &[Value]) -> Result<Value, String> {
        compute(&args.iter().collect::<Vec<_>>())
    }

    #[test]
    fn default_replaces_null_and_empty_text_only() {
        assert_eq!(
            call(default, &[json!(null), json!("n/a")]),
            Ok(json!("n/a"))
        );
        assert_eq!(call(default, &[json!(""), json!("n/a")]), Ok(json!("n/a")));
        assert_eq!(call(default, &[json!(0), json!("n/a")]), Ok(json!(0)));
        assert_eq!(call(default, &[json!(false), json!(1)]), Ok(json!(false)));
    }

    #[test]
    fn truncate_counts_characters_and_keeps_the_marker_within_the_limit() {
        assert_eq!(
            call(truncate_helper, &[json!("héllo wörld"), json!(6)]),
            Ok(json!("héllo…"))
        );
        assert_eq!(
            call(truncate_helper, &[json!("short"), json!(10)]),
            Ok(json!("short"))
        );
        assert_eq!(
            call(
                truncate_helper,
                &[json!("abcdefgh"), json!(6), json!("[…]")]
            ),
            Ok(json!("abc[…]"))
        );
        assert!(call(truncate_helper, &[json!("a"), json!("x")]).is_err());
    }

    #[test]
    fn join_renders_each_item_as_text() {
        assert_eq!(
            call(join, &[json!(["a", 1, null, true])]),
            Ok(json!("a, 1, , true"))
        );
        assert_eq!(
            call(join, &[json!(["a", "b"]), json!(" | ")]),
            Ok(json!("a | b"))
        );
        assert_eq!(call(join, &[json!("single")]), Ok(json!("single")));
    }

    #[test]
    fn date_formats_rfc3339_and_milliseconds_with_strftime() {
        let at = json!("2026-11-22T10:05:09.123+01:00");
        assert_eq!(
            call(date, &[at.clone(), json!("%Y-%m-%d %H:%M")]),
            Ok(json!("2026-11-22 09:05"))
        );
        assert_eq!(call(date, &[at]), Ok(json!("2026-11-22T09:05:09Z")));
        assert_eq!(
            call(date, &[json!(0), json!("%d.%m.%Y")]),
            Ok(json!("01.01.1970"))
        );
        assert_eq!(call(date, &[json!(null), json!("%Y")]), Ok(json!("")));
        assert!(
            call(date, &[json!("yesterday")])
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert!(
            call(date, &[json!(0), json!("%Q")])
                .unwrap_err()
                .contains("strftime")
        );
    }

    #[test]
    fn text_of_values() {
        assert_eq!(text(&json!("a")), "a");
        assert_eq!(text(&json!(null)), "");
        assert_eq!(text(&json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(text(&json!(2.5)), "2.5");
    }
}
