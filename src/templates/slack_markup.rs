//! Slack markup to Markdown, for targets that do not speak Slack's (Discord, Teams, and the
//! chat side's replies to Mattermost), following Mattermost's own translation
//! (chat-protocols §5.1).

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// `<url|label>`: the URL without newline, `<`, `|` or `>`; the label without `|`, newline or
/// `>` — so code such as `a < b || c > d` is left alone.
static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([^\n<|>]+)\|([^|\n>]+)>").expect("a valid pattern"));
static USER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<@([A-Za-z0-9]+)>").expect("a valid pattern"));

/// Converts `<!channel>`, `<!here>`, `<!all>`, `<@ID>` (when `user_name` knows the id; unknown
/// ids stay as they are) and `<url|label>` links.
pub fn slack_to_markdown(text: &str, user_name: impl Fn(&str) -> Option<String>) -> String {
    let announced = text
        .replace("<!channel>", "@channel")
        .replace("<!here>", "@here")
        .replace("<!all>", "@all");
    let named = USER.replace_all(&announced, |captures: &Captures| {
        match user_name(&captures[1]) {
            Some(name) => format!("@{name}"),
            None => captures[0].to_owned(),
        }
    });
    LINK.replace_all(&named, "[$2]($1)").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// chat-protocols.md §5.4, the webhook path (Mattermost's current link pattern).
    #[test]
    fn mattermost_vectors() {
        let users = |id: &str| match id {
            "5fb5f7iw8tfrfcwssd1xmx3j7y" => Some("bob".to_owned()),
            "U123" => Some("alice".to_owned()),
            _ => None,
        };
        let vectors = [
            ("<!channel> foo <!channel>", "@channel foo @channel"),
            ("<!here> bar <!here>", "@here bar @here"),
            ("<!all> bar <!all>", "@all bar @all"),
            ("<@5fb5f7iw8tfrfcwssd1xmx3j7y> hello", "@bob hello"),
            ("<@UNKNOWN1> hi", "<@UNKNOWN1> hi"),
            (
                "<https://mattermost.com|Mattermost>",
                "[Mattermost](https://mattermost.com)",
            ),
            (
                "Click <https://mattermost.com/|here> for a link.",
                "Click [here](https://mattermost.com/) for a link.",
            ),
            ("<https://mattermost.com/>", "<https://mattermost.com/>"),
            ("`<>|<>|`", "`<>|<>|`"),
            ("< |\n|\n>", "< |\n|\n>"),
            (
                "`if(status_int < QUERY_UNKNOWN || status_int >= QUERY_STATUS_MAX)`",
                "`if(status_int < QUERY_UNKNOWN || status_int >= QUERY_STATUS_MAX)`",
            ),
            (
                "Author: foo <foo@example.org>",
                "Author: foo <foo@example.org>",
            ),
            ("<#C024BE7LR|general>", "[general](#C024BE7LR)"),
            ("<#C024BE7LR>", "<#C024BE7LR>"),
            ("<@U123|alice>", "[alice](@U123)"),
            ("<!here|here>", "[here](!here)"),
            ("<!everyone>", "<!everyone>"),
            (
                "<mailto:bob@example.com|Bob>",
                "[Bob](mailto:bob@example.com)",
            ),
            ("<http://a|b|c>", "<http://a|b|c>"),
            ("<http://a\n|b>", "<http://a\n|b>"),
            (
                "a <http://x|X> and <http://y|Y>",
                "a [X](http://x) and [Y](http://y)",
            ),
        ];
        for (input, expected) in vectors {
            assert_eq!(slack_to_markdown(input, users), expected, "{input:?}");
        }
    }
}
