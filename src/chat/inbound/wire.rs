//! Bytes as Mattermost puts them on the wire, and as we accept them.
//!
//! Mattermost is written in Go: its form bodies are `url.Values.Encode` (keys sorted, values
//! `QueryEscape`d) and its JSON is `json.Marshal` (HTML characters escaped as `\u003c`). An
//! integration that checks a body byte for byte, or a signature over it, sees the same bytes
//! behind the gateway only if we encode exactly as Go does. Decoding is strict where Go's is:
//! a bad percent escape or a `;` separator is an error, not guessed at.

use std::fmt::Write;

use super::fields::{Fields, TYPICAL_FIELDS};

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
/// repeated keys kept. One pass finds the separators and whether a field has escapes at all
/// (most have none and are copied as they are).
pub fn decode_form(input: &[u8]) -> Result<Fields, FormError> {
    // `&`, `=` and `;` are ASCII, so no split cuts a character: the body is checked as UTF-8
    // once, and afterwards only what escapes decode to.
    let input = std::str::from_utf8(input).map_err(|_| FormError::Utf8)?;
    let mut fields = Fields::with_capacity(TYPICAL_FIELDS, input.len());
    let mut pair = Pair::starting_at(0);
    for (index, byte) in input.bytes().enumerate() {
        match byte {
            b'&' => {
                pair.decode_into(input, index, &mut fields)?;
                pair = Pair::starting_at(index + 1);
            }
            b'=' if pair.equals.is_none() => pair.equals = Some(index),
            b'%' | b'+' => pair.escaped = true,
            b';' => return Err(FormError::Semicolon),
            _ => {}
        }
    }
    pair.decode_into(input, input.len(), &mut fields)?;
    Ok(fields)
}

/// Where one `key=value` of a form starts, where its `=` is, whether it has escapes.
struct Pair {
    start: usize,
    equals: Option<usize>,
    escaped: bool,
}

impl Pair {
    fn starting_at(start: usize) -> Self {
        Self {
            start,
            equals: None,
            escaped: false,
        }
    }

    fn decode_into(&self, input: &str, end: usize, fields: &mut Fields) -> Result<(), FormError> {
        let (key, value) = match self.equals {
            Some(equals) => (input.get(self.start..equals), input.get(equals + 1..end)),
            None => (input.get(self.start..end), Some("")),
        };
        let (key, value) = (key.unwrap_or_default(), value.unwrap_or_default());
        if self.escaped {
            fields.push_with(|out| unescape(key, out), |out| unescape(value, out))
        } else {
            fields.push(key, value);
            Ok(())
        }
    }
}

/// Appends `input` decoded to `out`.
fn unescape(input: &str, out: &mut String) -> Result<(), FormError> {
    let bytes = input.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%' || b == b'+') else {
        // The key or the value of an escaped pair that has no escapes of its own.
        out.push_str(input);
        return Ok(());
    };
    let mut decoded = Vec::with_capacity(bytes.len());
    decoded.extend_from_slice(&bytes[..first]);
    let mut index = first;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let high = bytes.get(index + 1).and_then(|b| hex_value(*b));
                let low = bytes.get(index + 2).and_then(|b| hex_value(*b));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(FormError::Escape(input.to_owned()));
                };
                decoded.push(high << 4 | low);
                index += 2;
            }
            other => decoded.push(other),
        }
        index += 1;
    }
    let text = std::str::from_utf8(&decoded).map_err(|_| FormError::Utf8)?;
    out.push_str(text);
    Ok(())
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The bytes Go's `url.QueryEscape` leaves as they are: `A-Z a-z 0-9 - _ . ~`.
static UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        byte += 1;
    }
    table
};

/// Go's `url.QueryEscape`: only `A-Z a-z 0-9 - _ . ~` stay as they are, a space becomes `+`,
/// every other byte `%XX` in upper case.
pub fn query_escape(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(offset) = bytes
        .get(start..)
        .and_then(|rest| rest.iter().position(|&b| !UNRESERVED[usize::from(b)]))
    {
        let index = start + offset;
        let byte = bytes[index];
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
    let length: usize = sorted.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    // Room for some escapes: growing would copy it all.
    let mut out = String::with_capacity(length + length / 2);
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
        assert_eq!(fields.get("text"), Some("#build now <x> & \"y\" ü"));
        let encoded = encode_form(fields.iter());
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
        assert!(decode_form(b"").unwrap().is_empty());
        assert_eq!(
            decode_form(b"&a&=x&b=").unwrap().iter().collect::<Vec<_>>(),
            [("a", ""), ("b", "")]
        );
        assert_eq!(
            decode_form(b"a=b=c&d=%3D+")
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            [("a", "b=c"), ("d", "= ")]
        );
        assert_eq!(
            decode_form(b"=%zz&a=1").unwrap().iter().collect::<Vec<_>>(),
            [("a", "1")]
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
