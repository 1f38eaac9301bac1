//! From service answers to the reply the chat shows (SPEC §3.4): texts joined in service
//! order, attachments concatenated, error lines where a service failed, overrides only where
//! allowed, long text cut (synchronous replies) or split into several posts (asynchronous).

use super::answer::{Answer, Post};
use super::trigger::{Kind, OnError, ReplySpec};
use crate::templates::text::truncate;

/// Marks text cut at `chat.max_post_chars`.
pub const CUT_MARKER: &str = "…";

/// What one service came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Answered(Box<Answer>),
    /// An empty or unusable answer: logged, not an error.
    Nothing,
    /// A readable error line, `build: service timed out after 10 s`.
    Failed(String),
}

/// What decides a reply besides the answers.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub kind: Kind,
    pub reply: &'a ReplySpec,
    pub allow_username_override: bool,
    pub allow_icon_override: bool,
    pub max_post_chars: usize,
}

impl Rules<'_> {
    /// The reply of all outcomes in service order; `None` when nothing is to be posted.
    pub fn join(&self, outcomes: &[Outcome]) -> Option<Post> {
        let mut reply = Post::default();
        let mut texts: Vec<&str> = Vec::new();
        let mut any_post = false;
        for outcome in outcomes {
            match outcome {
                Outcome::Answered(answer) if answer.has_post() => {
                    any_post = true;
                    if let Some(text) = &answer.post.text {
                        texts.push(text);
                    }
                    merge(&mut reply, &answer.post);
                }
                Outcome::Failed(line) if self.reply.on_error == OnError::Post => {
                    any_post = true;
                    texts.push(line);
                }
                _ => {}
            }
        }
        if !any_post {
            return None;
        }
        if !texts.is_empty() {
            let joined = texts.join("\n\n");
            reply.text = Some(truncate(&joined, self.max_post_chars, CUT_MARKER).into_owned());
        }
        Some(self.finish(reply))
    }

    /// The overrides of the trigger and the settings.
    fn finish(&self, mut reply: Post) -> Post {
        if !self.allow_username_override {
            reply.username = None;
        }
        if !self.allow_icon_override {
            reply.icon_url = None;
        }
        reply.username = reply.username.or_else(|| self.reply.username.clone());
        reply.icon_url = reply.icon_url.or_else(|| self.reply.icon_url.clone());
        if let Some(response_type) = &self.reply.response_type {
            reply.response_type = Some(response_type.clone());
        }
        if self.kind == Kind::Outgoing {
            // Slash-command-only fields mean nothing to an outgoing webhook's answer.
            reply.extra_responses.clear();
            reply.goto_location = None;
            reply.skip_slack_parsing = None;
            reply.channel_id = None;
        }
        reply
    }

    /// One service's reply, as posts of at most `max_post_chars` characters each; the
    /// attachments go with the last.
    pub fn posts(&self, outcome: &Outcome) -> Vec<Post> {
        let Some(mut reply) = self.join_whole(outcome) else {
            return Vec::new();
        };
        let Some(text) = reply.text.take() else {
            return vec![reply];
        };
        let chunks = split_chars(&text, self.max_post_chars.max(1));
        let last = chunks.len().saturating_sub(1);
        chunks
            .into_iter()
            .enumerate()
            .map(|(index, chunk)| {
                let mut post = if index == last {
                    reply.clone()
                } else {
                    Post {
                        attachments: Vec::new(),
                        extra_responses: Vec::new(),
                        ..reply.clone()
                    }
                };
                post.text = Some(chunk.to_owned());
                post
            })
            .collect()
    }

    /// [`Rules::join`] of one outcome, without cutting its text.
    fn join_whole(&self, outcome: &Outcome) -> Option<Post> {
        let uncut = Rules {
            max_post_chars: usize::MAX,
            ..self.clone()
        };
        uncut.join(std::slice::from_ref(outcome))
    }
}

/// Consecutive pieces of at most `max` characters (code points, as Mattermost splits);
/// an empty text is one empty piece.
fn split_chars(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some((end, _)) = rest.char_indices().nth(max) {
        pieces.push(&rest[..end]);
        rest = &rest[end..];
    }
    pieces.push(rest);
    pieces
}

/// Fields other than text come from the first answer that has them; attachments and extra
/// responses add up.
fn merge(reply: &mut Post, answer: &Post) {
    fn first<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
        if slot.is_none() {
            slot.clone_from(value);
        }
    }
    reply.attachments.extend(answer.attachments.iter().cloned());
    reply
        .extra_responses
        .extend(answer.extra_responses.iter().cloned());
    first(&mut reply.blocks, &answer.blocks);
    first(&mut reply.username, &answer.username);
    first(&mut reply.icon_url, &answer.icon_url);
    first(&mut reply.props, &answer.props);
    first(&mut reply.response_type, &answer.response_type);
    first(&mut reply.post_type, &answer.post_type);
    first(&mut reply.goto_location, &answer.goto_location);
    first(&mut reply.skip_slack_parsing, &answer.skip_slack_parsing);
    first(&mut reply.channel_id, &answer.channel_id);
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::chat::answer::{Read, from_value};

    fn answered(value: Value) -> Outcome {
        match from_value(value) {
            Read::Answer(answer) => Outcome::Answered(answer),
            other => panic!("{other:?}"),
        }
    }

    fn rules(reply: &ReplySpec) -> Rules<'_> {
        Rules {
            kind: Kind::Outgoing,
            reply,
            allow_username_override: false,
            allow_icon_override: false,
            max_post_chars: 16383,
        }
    }

    #[test]
    fn texts_join_in_service_order_with_error_lines_in_place() {
        let spec = ReplySpec::default();
        let joined = rules(&spec)
            .join(&[
                answered(json!({"text": "one", "attachments": [{"text": "a"}]})),
                Outcome::Failed("slow: service timed out after 1 s".into()),
                Outcome::Nothing,
                answered(json!({"text": "three", "attachments": [{"text": "b"}]})),
            ])
            .unwrap();
        assert_eq!(
            joined.text.as_deref(),
            Some("one\n\nslow: service timed out after 1 s\n\nthree")
        );
        assert_eq!(joined.attachments.len(), 2);
        let silent = ReplySpec {
            on_error: OnError::Silent,
            ..ReplySpec::default()
        };
        assert_eq!(rules(&silent).join(&[Outcome::Failed("x".into())]), None);
        assert_eq!(rules(&spec).join(&[Outcome::Nothing]), None);
    }

    #[test]
    fn overrides_need_the_switches_and_the_trigger_can_set_defaults() {
        let spec = ReplySpec {
            icon_url: Some("https://icons.example/bot.png".into()),
            response_type: Some("comment".into()),
            ..ReplySpec::default()
        };
        let outcome = [answered(
            json!({"text": "hi", "username": "svc", "icon_url": "https://x/y.png", "response_type": "post"}),
        )];
        let locked = rules(&spec).join(&outcome).unwrap();
        assert_eq!(locked.username, None);
        assert_eq!(
            locked.icon_url.as_deref(),
            Some("https://icons.example/bot.png")
        );
        assert_eq!(locked.response_type.as_deref(), Some("comment"));
        let open = Rules {
            allow_username_override: true,
            allow_icon_override: true,
            ..rules(&spec)
        };
        let unlocked = open.join(&outcome).unwrap();
        assert_eq!(unlocked.username.as_deref(), Some("svc"));
        assert_eq!(unlocked.icon_url.as_deref(), Some("https://x/y.png"));
    }

    #[test]
    fn long_text_is_cut_when_synchronous_and_split_when_not() {
        let spec = ReplySpec::default();
        let short = Rules {
            max_post_chars: 10,
            ..rules(&spec)
        };
        let long = answered(json!({"text": "本".repeat(25), "attachments": [{"text": "a"}]}));
        let cut = short.join(std::slice::from_ref(&long)).unwrap();
        assert_eq!(
            cut.text.as_deref(),
            Some(format!("{}…", "本".repeat(9)).as_str())
        );
        let posts = short.posts(&long);
        let lengths: Vec<usize> = posts
            .iter()
            .map(|post| post.text.as_deref().unwrap().chars().count())
            .collect();
        assert_eq!(lengths, vec![10, 10, 5]);
        assert!(posts[0].attachments.is_empty() && posts[2].attachments.len() == 1);
    }

    #[test]
    fn slash_only_fields_pass_through_for_slash_commands_only() {
        let spec = ReplySpec::default();
        let answer = [answered(
            json!({"text": "a", "skip_slack_parsing": true, "extra_responses": [{"text": "b"}], "goto_location": "https://x"}),
        )];
        let slash = Rules {
            kind: Kind::Slash,
            ..rules(&spec)
        };
        let json = slash.join(&answer).unwrap().to_json();
        assert_eq!(json["skip_slack_parsing"], true);
        assert_eq!(json["extra_responses"][0]["text"], "b");
        let outgoing = rules(&spec).join(&answer).unwrap().to_json();
        assert!(
            outgoing.get("extra_responses").is_none()
                && outgoing.get("skip_slack_parsing").is_none()
        );
    }
}
