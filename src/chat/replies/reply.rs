//! From service answers to the reply the chat shows (SPEC §3.4): texts joined in service
//! order, attachments concatenated, error lines where a service failed, overrides only where
//! allowed, long text cut (synchronous replies) or split into several posts (asynchronous).

use serde_json::Value;

use super::answer::{self, Answer, Post, Read};
use crate::chat::trigger::{Kind, OnError, ReplySpec};
use crate::templates::text::truncate;

/// Marks text cut at `chat.max_post_chars`.
pub const CUT_MARKER: &str = "…";
/// One reply is split into at most this many posts; the last is cut.
pub const MAX_POSTS: usize = 10;

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
    pub fn join<'o>(&self, outcomes: impl IntoIterator<Item = &'o Outcome>) -> Option<Post> {
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

    /// The overrides of the trigger and the settings, on the reply and on each of a slash
    /// command's extra responses (the chat posts those too).
    fn finish(&self, mut reply: Post) -> Post {
        self.override_post(&mut reply);
        if self.kind == Kind::Outgoing {
            // Slash-command-only fields mean nothing to an outgoing webhook's answer.
            reply.extra_responses.clear();
            reply.goto_location = None;
            reply.skip_slack_parsing = None;
            reply.channel_id = None;
        }
        reply.extra_responses = std::mem::take(&mut reply.extra_responses)
            .into_iter()
            .filter_map(|extra| self.extra_response(extra))
            .collect();
        reply
    }

    fn override_post(&self, post: &mut Post) {
        if !self.allow_username_override {
            post.username = None;
        }
        if !self.allow_icon_override {
            post.icon_url = None;
        }
        post.username = post.username.take().or_else(|| self.reply.username.clone());
        post.icon_url = post.icon_url.take().or_else(|| self.reply.icon_url.clone());
        if let Some(response_type) = &self.reply.response_type {
            post.response_type = Some(response_type.clone());
        }
    }

    /// An extra response read as an answer (keys in any case) and held to the same rules;
    /// Mattermost honours neither nested extra responses nor their `goto_location`.
    fn extra_response(&self, extra: Value) -> Option<Value> {
        let Read::Answer(answer) = answer::from_value(extra) else {
            return None;
        };
        let mut post = answer.post;
        post.extra_responses.clear();
        post.goto_location = None;
        self.override_post(&mut post);
        post.text = post
            .text
            .map(|text| truncate(&text, self.max_post_chars, CUT_MARKER).into_owned());
        Some(post.to_json())
    }

    /// One service's reply, as posts of at most `max_post_chars` characters each (at most
    /// [`MAX_POSTS`] of them, the last cut); the attachments go with the last.
    pub fn posts(&self, outcome: &Outcome) -> Vec<Post> {
        let Some(mut reply) = self.join_whole(outcome) else {
            return Vec::new();
        };
        let Some(text) = reply.text.take() else {
            return vec![reply];
        };
        let max = self.max_post_chars.max(1);
        let mut chunks: Vec<std::borrow::Cow<'_, str>> = split_chars(&text, max)
            .into_iter()
            .map(Into::into)
            .collect();
        if chunks.len() > MAX_POSTS {
            let rest: String = chunks.drain(MAX_POSTS - 1..).collect();
            chunks.push(truncate(&rest, max, CUT_MARKER).into_owned().into());
        }
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
                post.text = Some(chunk.into_owned());
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
    use serde_json::json;

    use super::*;
    use crate::chat::replies::answer::from_value;

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
    fn extra_responses_are_held_to_the_same_rules() {
        let spec = ReplySpec {
            response_type: Some("in_channel".into()),
            ..ReplySpec::default()
        };
        let slash = Rules {
            kind: Kind::Slash,
            max_post_chars: 5,
            ..rules(&spec)
        };
        let answer = [answered(json!({"text": "a", "extra_responses": [
            {"Text": "0123456789", "Username": "spoof", "response_type": "ephemeral",
             "extra_responses": [{"text": "nested"}], "goto_location": "https://x"},
            "not an object"]}))];
        let json = slash.join(&answer).unwrap().to_json();
        assert_eq!(
            json["extra_responses"],
            json!([{"text": "0123…", "response_type": "in_channel"}])
        );
    }

    #[test]
    fn a_reply_is_split_into_at_most_ten_posts() {
        let spec = ReplySpec::default();
        let tiny = Rules {
            max_post_chars: 3,
            ..rules(&spec)
        };
        let posts = tiny.posts(&answered(json!({"text": "x".repeat(100)})));
        assert_eq!(posts.len(), MAX_POSTS);
        assert_eq!(posts[MAX_POSTS - 1].text.as_deref(), Some("xx…"));
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
