//! Reading JSON that a sender broke by pasting values into a template without escaping them
//! (Tactical RMM): a `"` or `\` inside a value, raw control characters, Python's `True`,
//! `False` and `None`, and a whole document sent as one JSON string because the sender could
//! not parse it itself.

use serde_json::Value;

/// The document in `text`, repaired where it has to be; `None` when even that fails.
pub fn parse(text: &str) -> Option<Value> {
    let value = serde_json::from_str::<Value>(text)
        .ok()
        .or_else(|| serde_json::from_str(&repair(text)).ok())?;
    match value {
        // The sender's own fallback: the whole template, one JSON string.
        Value::String(inner) if looks_like_a_document(&inner) => {
            parse(&inner).or(Some(Value::String(inner)))
        }
        other => Some(other),
    }
}

fn looks_like_a_document(text: &str) -> bool {
    let trimmed = text.trim_start();
    trimmed.starts_with('{') || trimmed.starts_with('[')
}

/// Escapes what a JSON string may not hold as it stands, and spells Python's constants as
/// JSON's. A quote inside a string closes it only when what follows can follow a string.
fn repair(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if in_string {
            match c {
                '\\' => match chars.get(index + 1) {
                    Some(next) if "\"\\/bfnrtu".contains(*next) => {
                        out.push(c);
                        out.push(*next);
                        index += 1;
                    }
                    _ => out.push_str("\\\\"),
                },
                '"' if closes_string(&chars[index + 1..]) => {
                    in_string = false;
                    out.push(c);
                }
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push(' '),
                c => out.push(c),
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if let Some((word, json)) = python_constant(&chars[index..]) {
            out.push_str(json);
            index += word - 1;
        } else {
            out.push(c);
        }
        index += 1;
    }
    out
}

/// Whether a quote followed by `rest` ends a string: only `,` `:` `}` `]` or the end may come
/// after one (white space aside).
fn closes_string(rest: &[char]) -> bool {
    rest.iter()
        .find(|c| !c.is_whitespace())
        .is_none_or(|c| matches!(c, ',' | ':' | '}' | ']'))
}

/// Python's `True`, `False` or `None` at the start of `rest`, outside any string: its length
/// and its JSON spelling.
fn python_constant(rest: &[char]) -> Option<(usize, &'static str)> {
    [("True", "true"), ("False", "false"), ("None", "null")]
        .into_iter()
        .find_map(|(word, json)| {
            let length = word.chars().count();
            let matches = rest.len() >= length
                && rest[..length].iter().copied().eq(word.chars())
                && rest.get(length).is_none_or(|next| !next.is_alphanumeric());
            matches.then_some((length, json))
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unescaped_quotes_backslashes_and_python_constants_are_read() {
        let broken = "{\"message\": \"Service \"Spooler\" stopped\", \"path\": \"C:\\Users\\admin\", \"ok\": False, \"at\": None}";
        assert_eq!(
            parse(broken),
            Some(
                json!({"message": "Service \"Spooler\" stopped", "path": "C:\\Users\\admin", "ok": false, "at": null})
            )
        );
    }

    #[test]
    fn a_document_sent_as_one_string_is_read_inside() {
        let wrapped =
            serde_json::to_string("{\"title\": \"Disk \"C\" full\", \"severity\": \"error\"}")
                .unwrap();
        assert_eq!(
            parse(&wrapped),
            Some(json!({"title": "Disk \"C\" full", "severity": "error"}))
        );
    }

    #[test]
    fn words_inside_strings_and_valid_documents_are_left_alone() {
        assert_eq!(
            parse("{\"a\": \"None of True\"}"),
            Some(json!({"a": "None of True"}))
        );
        assert_eq!(parse("not json at all"), None);
    }
}
