//! The routing table: every trigger compiled, indexed by trigger word, swapped whole when
//! triggers change. A lookup costs a few hash probes whatever the number of triggers: exact
//! words by one probe, prefix words by one probe per prefix of the message's first word, and
//! channel-only triggers by channel. Readers never wait: the table is replaced atomically.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use super::route::{Route, fold};
use crate::chat::inbound::message::ChatMessage;
use crate::chat::trigger::{Kind, TriggerWhen};

/// A route's index in the table, and the position of the matched word in its list.
#[derive(Debug, Clone, Copy)]
struct Hit {
    route: usize,
    position: usize,
}

#[derive(Default)]
struct WordIndex {
    exact: HashMap<Box<str>, Vec<Hit>>,
    prefix: HashMap<Box<str>, Vec<Hit>>,
    /// The longest prefix word, in bytes: longer prefixes of a message need no probe.
    longest_prefix: usize,
}

impl WordIndex {
    fn add(&mut self, word: &str, when: TriggerWhen, hit: Hit) {
        let map = match when {
            TriggerWhen::Exact => &mut self.exact,
            TriggerWhen::Prefix => {
                self.longest_prefix = self.longest_prefix.max(word.len());
                &mut self.prefix
            }
        };
        map.entry(word.into()).or_default().push(hit);
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefix.is_empty()
    }

    fn probe(&self, word: &str, hits: &mut Vec<Hit>) {
        if let Some(found) = self.exact.get(word) {
            hits.extend_from_slice(found);
        }
        if self.prefix.is_empty() {
            return;
        }
        let limit = word.len().min(self.longest_prefix);
        for (end, _) in word.char_indices().skip(1).chain([(word.len(), ' ')]) {
            if end > limit {
                break;
            }
            if let Some(found) = self.prefix.get(&word[..end]) {
                hits.extend_from_slice(found);
            }
        }
    }
}

/// The index of one kind of trigger.
#[derive(Default)]
struct KindIndex {
    case_sensitive: WordIndex,
    /// Words of `case_sensitive: false` triggers, lower-cased.
    folded: WordIndex,
    channel_only: HashMap<Box<str>, Vec<usize>>,
    /// Digests of every token a trigger of this kind takes (signed triggers take none), each
    /// with the first trigger that takes it.
    known_tokens: HashMap<[u8; 32], usize>,
}

/// An immutable snapshot of every trigger.
#[derive(Default)]
pub struct Index {
    routes: Vec<Arc<Route>>,
    by_reference: HashMap<String, usize>,
    outgoing: KindIndex,
    slash: KindIndex,
}

/// A route that fires on a message, with the trigger word it fires with (`""` for a
/// channel-only trigger).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub route: Arc<Route>,
    pub trigger_word: String,
}

impl Index {
    /// Routes in the order given (oldest first): that order decides between triggers that
    /// match the same message.
    pub fn build(routes: Vec<Arc<Route>>) -> Self {
        let mut index = Index::default();
        for (position, route) in routes.iter().enumerate() {
            index.by_reference.insert(route.id.clone(), position);
            index.by_reference.insert(route.spec.name.clone(), position);
            let spec = &route.spec;
            let kind = match spec.kind {
                Kind::Outgoing => &mut index.outgoing,
                Kind::Slash => &mut index.slash,
            };
            if spec.slack_signing_secret.is_none() {
                for digest in &route.token_digests {
                    kind.known_tokens.entry(*digest).or_insert(position);
                }
            }
            if !spec.enabled {
                continue;
            }
            if route.is_channel_only() {
                for channel in &spec.channels {
                    kind.channel_only
                        .entry(channel.as_str().into())
                        .or_default()
                        .push(position);
                }
            }
            let words = if spec.case_sensitive {
                &mut kind.case_sensitive
            } else {
                &mut kind.folded
            };
            for (word_position, word) in spec.trigger_words.iter().enumerate() {
                let hit = Hit {
                    route: position,
                    position: word_position,
                };
                words.add(&fold(word, spec.case_sensitive), spec.trigger_when, hit);
            }
        }
        index.routes = routes;
        index
    }

    fn kind(&self, kind: Kind) -> &KindIndex {
        match kind {
            Kind::Outgoing => &self.outgoing,
            Kind::Slash => &self.slash,
        }
    }

    /// A trigger by id or name.
    pub fn find(&self, reference: &str) -> Option<&Arc<Route>> {
        self.by_reference
            .get(reference)
            .map(|&position| &self.routes[position])
    }

    /// Enabled routes that fire on `message` and whose filters pass: trigger-word matches
    /// first, then channel-only triggers, each in table order.
    pub fn candidates(&self, message: &ChatMessage) -> Vec<Candidate> {
        let kind = self.kind(message.kind);
        let word = message.first_word();
        let mut hits = Vec::new();
        if !word.is_empty() {
            kind.case_sensitive.probe(word, &mut hits);
            if !kind.folded.is_empty() {
                kind.folded.probe(&word.to_lowercase(), &mut hits);
            }
        }
        // The first matching word in list order names the trigger word.
        hits.sort_by_key(|hit| (hit.route, hit.position));
        hits.dedup_by_key(|hit| hit.route);
        let mut candidates: Vec<Candidate> = hits
            .iter()
            .map(|hit| (&self.routes[hit.route], hit.position))
            .filter(|(route, _)| route.passes_filters(message))
            .map(|(route, position)| Candidate {
                trigger_word: route.spec.trigger_words[position].clone(),
                route: Arc::clone(route),
            })
            .collect();
        if message.kind == Kind::Outgoing {
            let mut channel_routes: Vec<usize> =
                [message.field("channel_id"), message.field("channel_name")]
                    .iter()
                    .filter(|channel| !channel.is_empty())
                    .filter_map(|channel| kind.channel_only.get(*channel))
                    .flatten()
                    .copied()
                    .collect();
            channel_routes.sort_unstable();
            channel_routes.dedup();
            candidates.extend(
                channel_routes
                    .into_iter()
                    .map(|position| &self.routes[position])
                    .filter(|route| route.passes_filters(message))
                    .map(|route| Candidate {
                        route: Arc::clone(route),
                        trigger_word: String::new(),
                    }),
            );
        }
        candidates
    }

    /// The first trigger of `kind` that accepts one of these token digests.
    pub fn route_with_token(
        &self,
        kind: Kind,
        digests: impl IntoIterator<Item = [u8; 32]>,
    ) -> Option<&Arc<Route>> {
        let known = &self.kind(kind).known_tokens;
        digests
            .into_iter()
            .find_map(|digest| known.get(&digest))
            .map(|&position| &self.routes[position])
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

/// The current index, and the trigger generation it was built from.
pub struct RoutingTable {
    current: ArcSwap<Index>,
    generation: AtomicI64,
    /// Installs take turns, so an older index never replaces a newer one.
    installing: Mutex<()>,
}

impl Default for RoutingTable {
    fn default() -> Self {
        Self {
            current: ArcSwap::from_pointee(Index::default()),
            generation: AtomicI64::new(-1),
            installing: Mutex::new(()),
        }
    }
}

impl RoutingTable {
    pub fn current(&self) -> Arc<Index> {
        self.current.load_full()
    }

    pub fn generation(&self) -> i64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Installs an index built from the triggers as of `generation`, unless a newer one is in.
    pub fn install(&self, index: Index, generation: i64) {
        let _turn = self
            .installing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if generation >= self.generation() {
            self.current.store(Arc::new(index));
            self.generation.store(generation, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::chat::inbound::message::Encoding;
    use crate::chat::trigger::TriggerSpec;

    fn route(id: &str, extra: Value) -> Arc<Route> {
        let mut spec = json!({"name": id, "tokens": ["token-0123456789abcdef"],
            "services": [{"endpoint": {"url": "https://svc.example/x"}}]});
        for (key, value) in extra.as_object().unwrap() {
            spec[key] = value.clone();
        }
        let spec: TriggerSpec = serde_json::from_value(spec).unwrap();
        Arc::new(Route::compile(id.into(), spec, 0).unwrap())
    }

    fn message(text: &str, channel: &str) -> ChatMessage {
        let body = format!(
            "text={}&channel_name={channel}&channel_id=c-{channel}&team_id=t1&team_domain=acme",
            form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
        );
        ChatMessage::parse(Kind::Outgoing, Encoding::Form, body.as_bytes(), false).unwrap()
    }

    fn fired(index: &Index, text: &str, channel: &str) -> Vec<(String, String)> {
        index
            .candidates(&message(text, channel))
            .into_iter()
            .map(|candidate| (candidate.route.id.clone(), candidate.trigger_word))
            .collect()
    }

    fn pair(id: &str, word: &str) -> (String, String) {
        (id.to_owned(), word.to_owned())
    }

    #[test]
    fn exact_and_prefix_words_match_as_mattermost_does() {
        let index = Index::build(vec![
            route("exact", json!({"trigger_words": ["#build"]})),
            route(
                "prefix",
                json!({"trigger_words": ["foo", "fo"], "trigger_when": "prefix"}),
            ),
        ]);
        assert_eq!(
            fired(&index, "#build now", "x"),
            vec![pair("exact", "#build")]
        );
        assert!(fired(&index, "#build: now", "x").is_empty());
        assert!(fired(&index, "now #build", "x").is_empty());
        assert!(fired(&index, "#Build", "x").is_empty());
        assert_eq!(fired(&index, "foobar", "x"), vec![pair("prefix", "foo")]);
        assert_eq!(fired(&index, "fox", "x"), vec![pair("prefix", "fo")]);
        assert!(fired(&index, "barfoo", "x").is_empty());
    }

    #[test]
    fn case_insensitive_triggers_fold_unicode_and_report_the_configured_word() {
        let index = Index::build(vec![route(
            "ci",
            json!({"trigger_words": ["#Déploy"], "case_sensitive": false}),
        )]);
        assert_eq!(
            fired(&index, "#DÉPLOY prod", "x"),
            vec![pair("ci", "#Déploy")]
        );
        assert_eq!(fired(&index, "#déploy", "x"), vec![pair("ci", "#Déploy")]);
    }

    #[test]
    fn channel_only_triggers_fire_on_every_message_of_their_channel_after_word_matches() {
        let index = Index::build(vec![
            route("all-ops", json!({"channels": ["ops"]})),
            route("build", json!({"trigger_words": ["#build"]})),
        ]);
        assert_eq!(
            fired(&index, "#build", "ops"),
            vec![pair("build", "#build"), pair("all-ops", "")]
        );
        assert_eq!(fired(&index, "", "ops"), vec![pair("all-ops", "")]);
        assert!(fired(&index, "hello", "dev").is_empty());
    }

    #[test]
    fn filters_and_disabled_triggers_narrow_the_candidates() {
        let index = Index::build(vec![
            route(
                "other-team",
                json!({"trigger_words": ["#x"], "teams": ["t2"]}),
            ),
            route(
                "this-team",
                json!({"trigger_words": ["#x"], "teams": ["acme"], "channels": ["c-dev"]}),
            ),
            route("off", json!({"trigger_words": ["#x"], "enabled": false})),
        ]);
        assert_eq!(fired(&index, "#x", "dev"), vec![pair("this-team", "#x")]);
        assert!(fired(&index, "#x", "ops").is_empty());
        assert!(
            index.find("off").is_some(),
            "disabled triggers stay addressable"
        );
    }

    #[test]
    fn the_index_agrees_with_matching_each_route_directly() {
        let routes: Vec<_> = (0..50)
            .map(|n| {
                route(
                    &format!("r{n}"),
                    json!({"trigger_words": [format!("#w{}", n % 7), format!("!{n}")],
                           "trigger_when": if n % 2 == 0 { "exact" } else { "prefix" },
                           "case_sensitive": n % 3 != 0}),
                )
            })
            .collect();
        let index = Index::build(routes.clone());
        for text in ["#w1", "#W3x", "!12", "!1", "!123 go", "#w", "nothing"] {
            let message = message(text, "x");
            let direct: Vec<_> = routes
                .iter()
                .filter_map(|route| Some((route.id.clone(), route.fires_on(&message)?)))
                .collect();
            assert_eq!(fired(&index, text, "x"), direct, "{text}");
        }
    }
}
