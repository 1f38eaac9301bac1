//! A chat reply as the chat would show it. Its text comes from services outside, so it is
//! escaped first and only then given a small Markdown subset (bold, italics, code, links to
//! `http(s)` URLs): nothing the text holds can become markup of its own. Attachments keep their
//! colour bar (an SVG fill: the console's CSP allows no inline styles), title, text and fields.

use std::sync::LazyLock;

use handlebars::html_escape;
use regex::{Captures, Regex};
use serde::Serialize;
use serde_json::Value;

/// A post, each text already safe HTML.
#[derive(Debug, Serialize)]
pub struct PostView {
    username: Option<String>,
    response_type: Option<String>,
    text_html: Option<String>,
    attachments: Vec<AttachmentView>,
    /// The reply as the chat server received it, pretty.
    raw: String,
}

#[derive(Debug, Serialize)]
struct AttachmentView {
    /// A `#rrggbb`-like colour, named or checked: it can only be a colour in `fill`.
    color: String,
    pretext_html: Option<String>,
    title: Option<String>,
    title_link: Option<String>,
    text_html: Option<String>,
    fields: Vec<FieldView>,
    footer: Option<String>,
}

#[derive(Debug, Serialize)]
struct FieldView {
    title: String,
    value_html: String,
    short: bool,
}

static BOLD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\*\*([^*\n]+)\*\*").expect("regex"));
static ITALIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[\s(])[*_]([^*_\n]+)[*_]").expect("regex"));
static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)").expect("regex"));
static HEX_COLOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^#[0-9a-fA-F]{3,8}$").expect("regex"));

/// Chat Markdown as HTML: escaped, then `code`, **bold**, *italics* and [links](https://…);
/// line breaks kept.
pub fn markdown(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(index, part)| {
            let escaped = html_escape(part);
            // Odd parts were between backticks (an unclosed one leaves its text as code).
            if index % 2 == 1 {
                format!("<code>{escaped}</code>")
            } else {
                inline(&escaped)
            }
        })
        .collect::<String>()
        .replace('\n', "<br>")
}

fn inline(escaped: &str) -> String {
    let linked = LINK.replace_all(escaped, |caps: &Captures| {
        format!(
            "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
            &caps[2], &caps[1]
        )
    });
    let bold = BOLD.replace_all(&linked, "<strong>$1</strong>");
    ITALIC.replace_all(&bold, "$1<em>$2</em>").into_owned()
}

fn text_of(value: &Value, key: &str) -> Option<String> {
    value[key]
        .as_str()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

impl PostView {
    /// The view of a reply as the chat server reads it.
    pub fn of(reply: &Value) -> Self {
        let attachments = reply["attachments"]
            .as_array()
            .map(|list| list.iter().map(AttachmentView::of).collect())
            .unwrap_or_default();
        Self {
            username: text_of(reply, "username"),
            response_type: text_of(reply, "response_type"),
            text_html: reply["text"].as_str().map(markdown),
            attachments,
            raw: serde_json::to_string_pretty(reply).unwrap_or_default(),
        }
    }
}

impl AttachmentView {
    fn of(attachment: &Value) -> Self {
        let color = attachment["color"].as_str().unwrap_or_default();
        let color = match color {
            "good" => "#2eb886",
            "warning" => "#daa038",
            "danger" => "#a30200",
            color if HEX_COLOR.is_match(color) => color,
            _ => "#8d8d8d",
        };
        let fields = attachment["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .map(|field| FieldView {
                        title: text_of(field, "title").unwrap_or_default(),
                        value_html: markdown(&value_text(&field["value"])),
                        short: field["short"].as_bool().unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            color: color.to_owned(),
            pretext_html: text_of(attachment, "pretext").map(|text| markdown(&text)),
            title: text_of(attachment, "title"),
            title_link: text_of(attachment, "title_link").filter(|link| link.starts_with("http")),
            text_html: text_of(attachment, "text").map(|text| markdown(&text)),
            fields,
            footer: text_of(attachment, "footer"),
        }
    }
}

/// A field's value as text: services send numbers too.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markup_in_chat_text_stays_text() {
        let html = markdown("<script>alert(1)</script> **ok** `<b>`");
        assert!(
            html.starts_with("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("<strong>ok</strong>") && html.contains("<code>&lt;b&gt;</code>"));
    }

    #[test]
    fn links_go_only_to_web_addresses_and_italics_need_a_word_start() {
        let html =
            markdown("[docs](https://example.com/a?b=1) [x](javascript:alert(1)) a_b_c _it_");
        assert!(
            html.contains("<a href=\"https://example.com/a?b&#x3D;1\""),
            "{html}"
        );
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(
            html.contains("a_b_c") && html.contains("<em>it</em>"),
            "{html}"
        );
    }

    #[test]
    fn attachment_colours_are_names_or_checked_hex() {
        let post = PostView::of(&json!({"attachments": [
            {"color": "danger", "title": "t"},
            {"color": "#00ff00"},
            {"color": "\"/><script>"},
        ]}));
        let colors: Vec<&str> = post.attachments.iter().map(|a| a.color.as_str()).collect();
        assert_eq!(colors, ["#a30200", "#00ff00", "#8d8d8d"]);
    }
}
