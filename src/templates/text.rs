//! Text transformations shared by helpers, built-in formats and the chat side: truncation that
//! stays within a platform's limit, and escaping for Markdown and Slack's mrkdwn.

use std::borrow::Cow;

/// At most `max` characters (Unicode scalar values, as the platforms count), the marker
/// included, so a cut is visible.
pub fn truncate<'a>(text: &'a str, max: usize, marker: &str) -> Cow<'a, str> {
    // No more bytes than the limit means no more characters either: nothing to count.
    if text.len() <= max || text.char_indices().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    let marker_chars = marker.chars().count();
    if marker_chars > max {
        return Cow::Borrowed(prefix(text, max));
    }
    Cow::Owned(format!("{}{marker}", prefix(text, max - marker_chars)))
}

/// [`truncate`] for text already owned: cut in place, no copy.
pub fn truncate_owned(text: String, max: usize, marker: &str) -> String {
    match truncate(&text, max, marker) {
        Cow::Owned(cut) => cut,
        Cow::Borrowed(_) => text,
    }
}

fn prefix(text: &str, chars: usize) -> &str {
    let end = text
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(at, _)| at);
    &text[..end]
}

/// Backslash-escapes what Markdown (Mattermost, Discord, Teams) would read as formatting, so
/// text shows as written. Characters that only matter at the start of a line are escaped there.
pub fn markdown_escape(text: &str) -> String {
    let special = [
        '\\', '`', '*', '_', '~', '[', ']', '<', '>', '|', '#', '-', '+', '=',
    ];
    if !text.contains(special) {
        return text.to_owned();
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    for character in text.chars() {
        let always = matches!(
            character,
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '<' | '>' | '|'
        );
        let at_line_start = line_start && matches!(character, '#' | '-' | '+' | '=');
        if always || at_line_start {
            escaped.push('\\');
        }
        escaped.push(character);
        line_start = character == '\n' || (line_start && character == ' ');
    }
    escaped
}

/// Slack's mrkdwn escaping: `&`, `<` and `>` as entities, so user text cannot ping a channel or
/// forge a link.
pub fn slack_escape(text: &str) -> String {
    if !text.contains(['&', '<', '>']) {
        return text.to_owned();
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("ééééé", 5, "…"), "ééééé");
        assert_eq!(truncate("éééééé", 5, "…"), "éééé…");
        assert_eq!(truncate("🔥🔥🔥", 2, "…"), "🔥…");
        assert_eq!(truncate("abc", 0, "…"), "");
        assert_eq!(truncate("abcdef", 4, " [more]"), "abcd");
    }

    #[test]
    fn markdown_escaping_keeps_text_literal() {
        assert_eq!(
            markdown_escape("*bold* _it_ `code`"),
            r"\*bold\* \_it\_ \`code\`"
        );
        assert_eq!(markdown_escape("[x](http://y)"), r"\[x\](http://y)");
        assert_eq!(
            markdown_escape("# title\n- item\nweb-1 #2"),
            "\\# title\n\\- item\nweb-1 #2"
        );
        assert_eq!(markdown_escape("a\\b"), r"a\\b");
    }

    #[test]
    fn slack_escaping_uses_entities() {
        assert_eq!(
            slack_escape("<!channel> & <@U1>"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt;"
        );
    }
}
