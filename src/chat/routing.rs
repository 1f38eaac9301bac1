//! The routing table: every trigger compiled, indexed by trigger word, swapped whole when
//! triggers change. A lookup costs a few hash probes whatever the number of triggers: exact
//! words by one probe, prefix words by one probe per prefix of the message's first word, and
//! channel-only triggers by channel. Readers never wait: the table is replaced atomically.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use url::Url;

use super::auth::token_digest;
use super::message::ChatMessage;
use super::trigger::{Kind, ServiceFormat, ServiceSpec, TriggerSpec, TriggerWhen};
use crate::templates::{CompiledTemplate, OutputKind};
use crate::validation::Invalid;
use crate::webhooks::{body_kind, compile_template};

/// Where a service is.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Http(Url),
    /// The gateway's own incident commands.
    BuiltinIncidents,
}

/// A service, ready to call.
#[derive(Debug, Clone)]
pub struct Service {
    pub spec: ServiceSpec,
    pub target: Target,
    pub body_template: Option<CompiledTemplate>,
    /// How error lines name it.
    pub label: String,
}

/// A trigger, compiled.
#[derive(Debug)]
pub struct Route {
    pub id: String,
    pub spec: TriggerSpec,
    pub services: Vec<Service>,
    pub reply_template: Option<CompiledTemplate>,
    pub updated_at: i64,
}

impl Route {
    /// Compiles a stored trigger; an error means it can no longer be routed (it is skipped
    /// and the reason logged).
    pub fn compile(id: String, spec: TriggerSpec, updated_at: i64) -> Result<Self, Invalid> {
        let single = spec.services.len() == 1;
        let services = spec
            .services
            .iter()
            .enumerate()
            .map(|(index, service)| compile_service(&spec.name, single, index, service))
            .collect::<Result<_, _>>()?;
        let reply_template = spec
            .reply
            .template
            .as_deref()
            .map(|source| compile_template("reply.template", source, OutputKind::Json, false))
            .transpose()?;
        Ok(Self {
            id,
            spec,
            services,
            reply_template,
            updated_at,
        })
    }

    /// The trigger word `word` matches, and its place in the list: the first in list order.
    pub fn matching_word(&self, word: &str) -> Option<&str> {
        if word.is_empty() {
            return None;
        }
        let folded = (!self.spec.case_sensitive).then(|| word.to_lowercase());
        let subject = folded.as_deref().unwrap_or(word);
        self.spec
            .trigger_words
            .iter()
            .find(|candidate| {
                let candidate = fold(candidate, self.spec.case_sensitive);
                match self.spec.trigger_when {
                    TriggerWhen::Exact => subject == candidate.as_ref(),
                    TriggerWhen::Prefix => subject.starts_with(candidate.as_ref()),
                }
            })
            .map(String::as_str)
    }

    /// Outgoing triggers without trigger words fire on every message of their channels.
    pub fn is_channel_only(&self) -> bool {
        self.spec.kind == Kind::Outgoing && self.spec.trigger_words.is_empty()
    }

    /// Team and channel filters: by id or by name; an empty list lets anything pass.
    pub fn passes_filters(&self, message: &ChatMessage) -> bool {
        let listed = |list: &[String], id: &str, name: &str| {
            list.is_empty() || list.iter().any(|entry| entry == id || entry == name)
        };
        listed(
            &self.spec.teams,
            message.field("team_id"),
            message.field("team_domain"),
        ) && listed(
            &self.spec.channels,
            message.field("channel_id"),
            message.field("channel_name"),
        )
    }

    /// The trigger word this route fires with for `message`, if it fires.
    pub fn fires_on(&self, message: &ChatMessage) -> Option<String> {
        if !self.spec.enabled || !self.passes_filters(message) {
            return None;
        }
        if self.is_channel_only() {
            return Some(String::new());
        }
        self.matching_word(message.first_word()).map(str::to_owned)
    }
}

fn fold(word: &str, case_sensitive: bool) -> std::borrow::Cow<'_, str> {
    if case_sensitive {
        word.into()
    } else {
        word.to_lowercase().into()
    }
}

fn compile_service(
    trigger: &str,
    single: bool,
    index: usize,
    spec: &ServiceSpec,
) -> Result<Service, Invalid> {
    let field = format!("services[{index}]");
    let target =
        if spec.is_builtin() {
            Target::BuiltinIncidents
        } else {
            Target::Http(Url::parse(&spec.endpoint.url).map_err(|error| {
                Invalid::new(format!("{field}.endpoint.url"), error.to_string())
            })?)
        };
    let body_template = match (spec.format, &spec.body_template) {
        (ServiceFormat::Template, Some(source)) => Some(compile_template(
            &format!("{field}.body_template"),
            source,
            body_kind(&spec.endpoint),
            spec.template_strict,
        )?),
        _ => None,
    };
    let label = match (&spec.name, &target) {
        (Some(name), _) => name.clone(),
        (None, _) if single => trigger.to_owned(),
        (None, Target::Http(url)) => url.host_str().unwrap_or(trigger).to_owned(),
        (None, Target::BuiltinIncidents) => "incidents".to_owned(),
    };
    Ok(Service {
        spec: spec.clone(),
        target,
        body_template,
        label,
    })
}

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
    /// Digests of every token a trigger of this kind accepts.
    known_tokens: HashSet<[u8; 32]>,
    /// Every distinct Slack signing secret of this kind.
    signing_secrets: Vec<Arc<[u8]>>,
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
            kind.known_tokens
                .extend(spec.tokens.iter().map(|token| token_digest(token)));
            if let Some(secret) = &spec.slack_signing_secret
                && !kind
                    .signing_secrets
                    .iter()
                    .any(|known| **known == *secret.as_bytes())
            {
                kind.signing_secrets.push(Arc::from(secret.as_bytes()));
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
            .map(|hit| &self.routes[hit.route])
            .filter(|route| route.passes_filters(message))
            .map(|route| Candidate {
                trigger_word: route.matching_word(word).unwrap_or_default().to_owned(),
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

    /// Whether any trigger of `kind` accepts one of these token digests.
    pub fn knows_token(&self, kind: Kind, digests: impl IntoIterator<Item = [u8; 32]>) -> bool {
        let known = &self.kind(kind).known_tokens;
        digests.into_iter().any(|digest| known.contains(&digest))
    }

    /// The distinct Slack signing secrets of triggers of `kind`.
    pub fn signing_secrets(&self, kind: Kind) -> &[Arc<[u8]>] {
        &self.kind(kind).signing_secrets
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
    use crate::chat::message::Encoding;

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
