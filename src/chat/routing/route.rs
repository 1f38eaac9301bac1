//! A trigger compiled for routing: its services ready to call, its templates compiled, and
//! the rules that decide whether it fires on a message.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use url::Url;

use crate::chat::inbound::message::ChatMessage;
use crate::chat::trigger::{Kind, ServiceFormat, ServiceSpec, TriggerSpec, TriggerWhen, token};
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
    /// `spec.slack_signing_secret`, shared so a request checks each secret once.
    pub signing_secret: Option<Arc<str>>,
    /// The SHA-256 of each of `spec.tokens`, which are stored so (SPEC §6.5).
    pub token_digests: Vec<[u8; 32]>,
    pub services: Vec<Service>,
    pub reply_template: Option<CompiledTemplate>,
    pub updated_at: i64,
    /// Exchanges of this trigger the exchange log holds for its next write.
    pub logged: AtomicUsize,
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
            signing_secret: spec.slack_signing_secret.as_deref().map(Arc::from),
            token_digests: spec
                .tokens
                .iter()
                .map(|stored| token::digest(stored))
                .collect(),
            spec,
            services,
            reply_template,
            updated_at,
            logged: AtomicUsize::new(0),
        })
    }

    /// The first trigger word in list order that `word` matches.
    fn matching_word(&self, word: &str) -> Option<&str> {
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
        self.filtered_out(message).is_none()
    }

    /// Which filter keeps `message` out, if one does.
    fn filtered_out(&self, message: &ChatMessage) -> Option<&'static str> {
        let listed = |list: &[String], id: &str, name: &str| {
            list.is_empty() || list.iter().any(|entry| entry == id || entry == name)
        };
        if !listed(
            &self.spec.teams,
            message.field("team_id"),
            message.field("team_domain"),
        ) {
            Some("team filtered out")
        } else if !listed(
            &self.spec.channels,
            message.field("channel_id"),
            message.field("channel_name"),
        ) {
            Some("channel filtered out")
        } else {
            None
        }
    }

    /// Why this route does not fire on `message`, for the exchange log.
    pub fn why_not_fired(&self, message: &ChatMessage) -> &'static str {
        if !self.spec.enabled {
            return "the trigger is disabled";
        }
        if let Some(filter) = self.filtered_out(message) {
            return filter;
        }
        match self.spec.kind {
            Kind::Outgoing => "no trigger word matches",
            Kind::Slash => "the command is not the trigger's",
        }
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

pub(super) fn fold(word: &str, case_sensitive: bool) -> std::borrow::Cow<'_, str> {
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
