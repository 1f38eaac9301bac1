//! Bytes as Mattermost puts them on the wire, and as we accept them.
//!
//! Mattermost is written in Go: its form bodies are `url.Values.Encode` (keys sorted, values
//! `QueryEscape`d) and its JSON is `json.Marshal` (HTML characters escaped as `\u003c`). An
//! integration that checks a body byte for byte, or a signature over it, sees the same bytes
//! behind the gateway only if we encode exactly as Go does. Decoding is strict where Go's is:
//! a bad percent escape or a `;` separator is an error, not guessed at.

use std::fmt::Write;

/// Why a form body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("invalid percent-encoding in `{0}`")]
    Escape(String),
    #[error("`;` is not a form field separator")]
    Semicolon,
    #[error("a form value is not valid UTF-8")]
    Utf8,
}

/// Decodes `application/x-www-form-urlencoded` (or a query string) into its fields, in order,
/// repeated keys kept.
pub fn decode_form(input: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut fields = Vec::new();
    for pair in input.split(|&byte| byte == b'&') {
        if pair.contains(&b';') {
            return Err(FormError::Semicolon);
        }
        let (key, value) = match pair.iter().position(|&byte| byte == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        let key = unescape(key)?;
        if key.is_empty() {
            continue;
        }
        fields.push((key, unescape(value)?));
    }
    Ok(fields)
}

fn unescape(input: &[u8]) -> Result<String, FormError> {
    let Some(first) = input.iter().position(|&b| b == b'%' || b == b'+') else {
        // Most values need no decoding at all.
        return std::str::from_utf8(input)
            .map(str::to_owned)
            .map_err(|_| FormError::Utf8);
    };
    let mut bytes = Vec::with_capacity(input.len());
    bytes.extend_from_slice(&input[..first]);
    let mut index = first;
    while index < input.len() {
        match input[index] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let high = input.get(index + 1).and_then(|b| hex_value(*b));
                let low = input.get(index + 2).and_then(|b| hex_value(*b));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(FormError::Escape(
                        String::from_utf8_lossy(input).into_owned(),
                    ));
                };
                bytes.push(high << 4 | low);
                index += 2;
            }
            other => bytes.push(other),
        }
        index += 1;
    }
    String::from_utf8(bytes).map_err(|_| FormError::Utf8)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Go's `url.QueryEscape`: only `A-Z a-z 0-9 - _ . ~` stay as they are, a space becomes `+`,
/// every other byte `%XX` in upper case.
pub fn query_escape(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            continue;
        }
        // The run before is ASCII, so a slice of `text` as it is, copied in one go. (Between
        // the bytes of one character the run is empty and falls inside the character: `get`
        // says `None` there, and there is nothing to copy.)
        out.push_str(text.get(start..index).unwrap_or_default());
        if byte == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
        start = index + 1;
    }
    out.push_str(text.get(start..).unwrap_or_default());
}

/// Go's `url.Values.Encode`: keys sorted bytewise, each key's values in their order.
pub fn encode_form<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut sorted: Vec<(&str, &str)> = fields.into_iter().collect();
    // Stable, so the values of a repeated key keep their order.
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::with_capacity(sorted.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (index, (key, value)) in sorted.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        query_escape(key, &mut out);
        out.push('=');
        query_escape(value, &mut out);
    }
    out
}

/// A JSON string as Go's `json.Marshal` writes it, quotes included: `<`, `>` and `&` as
/// `\u003c` `\u003e` `\u0026`, U+2028 and U+2029 escaped, other non-ASCII left as UTF-8.
pub fn go_json_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(character));
            }
            control if control < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// chat-protocols.md §2.3: the form Mattermost sends for `#build now <x> & "y" ü`.
    const MATTERMOST_FORM: &str = "channel_id=hawos4dqtby53pd64o4a4cmeoo&channel_name=town-square&file_ids=&post_id=axdygg1957njfe5pu38saikdho&team_domain=someteam&team_id=kwoknj9nwpypzgzy78wkw516qe&text=%23build+now+%3Cx%3E+%26+%22y%22+%C3%BC&timestamp=1445532266&token=zmigewsanbbsdf59xnmduzypjc&trigger_word=%23build&user_id=rnina9994bde8mua79zqcg5hmo&user_name=somename";

    #[test]
    fn the_reference_form_decodes_and_encodes_back_byte_for_byte() {
        let fields = decode_form(MATTERMOST_FORM.as_bytes()).unwrap();
        assert_eq!(fields.len(), 12);
        assert!(fields.contains(&("text".into(), "#build now <x> & \"y\" ü".into())));
        let encoded = encode_form(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(encoded, MATTERMOST_FORM);
    }

    #[test]
    fn go_escaping_differs_from_the_whatwg_form_serializer_where_go_does() {
        let mut out = String::new();
        query_escape("a*b~c d/é", &mut out);
        assert_eq!(out, "a%2Ab~c+d%2F%C3%A9");
    }

    #[test]
    fn keys_sort_and_repeated_values_keep_their_order() {
        let encoded = encode_form([("b", "2"), ("a", "x"), ("b", "1")]);
        assert_eq!(encoded, "a=x&b=2&b=1");
    }

    #[test]
    fn bad_escapes_semicolons_and_invalid_utf8_are_refused() {
        assert!(matches!(
            decode_form(b"text=%zz"),
            Err(FormError::Escape(_))
        ));
        assert!(matches!(decode_form(b"text=%4"), Err(FormError::Escape(_))));
        assert_eq!(decode_form(b"a=1;b=2"), Err(FormError::Semicolon));
        assert_eq!(decode_form(b"text=%FF%FE"), Err(FormError::Utf8));
        assert_eq!(decode_form(b"text=\xff"), Err(FormError::Utf8));
        assert_eq!(decode_form(b"").unwrap(), vec![]);
        assert_eq!(
            decode_form(b"&a&=x&b=").unwrap(),
            vec![("a".into(), String::new()), ("b".into(), String::new())]
        );
    }

    #[test]
    fn json_strings_escape_html_characters_as_go_does() {
        let mut out = String::new();
        go_json_string("#build now <x> & \"y\" ü\u{2028}\u{1}\u{8}", &mut out);
        assert_eq!(
            out,
            r##""#build now \u003cx\u003e \u0026 \"y\" ü\u2028\u0001\b""##
        );
    }
}
