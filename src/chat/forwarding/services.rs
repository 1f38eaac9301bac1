//! Calling one service of a trigger (SPEC §3.3): its body in the service's format, its own
//! timeout, auth, signing and TLS options, the SSRF guard, and its answer read into an
//! [`Outcome`]: something to post, nothing, or a readable error line.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::payload::Forwarded;
use crate::chat::exchange::ServiceCall;
use crate::chat::incidents::IncidentDesk;
use crate::chat::replies::answer::{self, Answer, Read};
use crate::chat::replies::reply::Outcome;
use crate::chat::routing::route::{Route, Service, Target};
use crate::chat::trigger::{Kind, ServiceFormat};
use crate::outbound::{Body, HttpClients, OutboundResponse, RequestSpec, SendError};
use crate::templates::{Globals, OutputKind};

/// What every call shares.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    pub clients: &'a HttpClients,
    pub default_timeout_ms: u64,
    pub globals: &'a Globals,
    pub incidents: &'a dyn IncidentDesk,
}

/// One chat request on its way to a trigger's services.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub route: &'a Route,
    pub forwarded: Forwarded<'a>,
    /// Identifies the request to services that sign-check (Standard Webhooks' `webhook-id`).
    pub request_id: &'a str,
    /// The chat's token as presented (in the body or in `Authorization: Token …`).
    pub chat_token: &'a str,
}

impl Request<'_> {
    fn kind(&self) -> Kind {
        self.forwarded.message.kind
    }

    /// The `json` object, with `vars` and `env` for templates.
    fn template_context(&self, globals: &Globals) -> Value {
        let mut object = self.forwarded.json_object();
        object.insert("vars".into(), Value::clone(&globals.vars));
        object.insert("env".into(), Value::clone(&globals.env));
        Value::Object(object)
    }
}

/// `10 s`, `1.5 s`, `250 ms`.
pub fn human_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    match millis {
        0..1000 => format!("{millis} ms"),
        _ if millis.is_multiple_of(1000) => format!("{} s", millis / 1000),
        _ => format!("{:.1} s", duration.as_secs_f64()),
    }
}

/// Calls `service`: what came of it, with what it was sent and answered for the exchange log.
pub async fn call(caller: Caller<'_>, request: Request<'_>, service: &Service) -> ServiceCall {
    let mut record = ServiceCall::new(&service.label);
    let answered = match &service.target {
        Target::BuiltinIncidents => builtin(caller, request).await,
        Target::Http(_) => http(caller, request, service, &mut record).await,
    };
    let outcome = match answered {
        Ok(Some(answer)) => apply_patch(caller, request.route, &service.label, answer).await,
        Ok(None) => Outcome::Nothing,
        Err(line) => Outcome::Failed(format!("{}: {line}", service.label)),
    };
    if let Outcome::Failed(line) = &outcome {
        tracing::warn!(trigger = %request.route.spec.name, error = %line, "a service failed");
    }
    record.outcome = outcome;
    record
}

/// The built-in incident commands answer with a text post.
async fn builtin(caller: Caller<'_>, request: Request<'_>) -> Result<Option<Answer>, String> {
    let message = request.forwarded.message;
    let actor = format!("chat:{}", message.field("user_name"));
    let text = caller.incidents.command(message.args(), &actor).await;
    Ok(Some(Answer::text(text)))
}

/// An answer naming an incident and operations patches it when the trigger allows; a refusal
/// is shown with the answer's own text.
pub async fn apply_patch(
    caller: Caller<'_>,
    route: &Route,
    label: &str,
    mut answer: Answer,
) -> Outcome {
    let (Some(reference), Some(operations)) = (answer.incident_id.take(), answer.operations.take())
    else {
        return Outcome::Answered(Box::new(answer));
    };
    let refusal = if route.spec.incident_updates {
        let actor = format!("trigger:{}", route.spec.name);
        caller
            .incidents
            .patch(&reference, operations, &actor)
            .await
            .err()
    } else {
        None
    };
    let Some(reason) = refusal else {
        return Outcome::Answered(Box::new(answer));
    };
    let line = format!("{label}: incident {reference} was not changed: {reason}");
    match answer.post.text.take() {
        Some(text) => {
            answer.post.text = Some(format!("{text}\n\n{line}"));
            Outcome::Answered(Box::new(answer))
        }
        None if answer.has_post() => {
            answer.post.text = Some(line);
            Outcome::Answered(Box::new(answer))
        }
        None => Outcome::Failed(line),
    }
}

async fn http(
    caller: Caller<'_>,
    request: Request<'_>,
    service: &Service,
    record: &mut ServiceCall,
) -> Result<Option<Answer>, String> {
    let Target::Http(url) = &service.target else {
        return Ok(None);
    };
    let endpoint = &service.spec.endpoint;
    let body = body(caller, request, service)?;
    let mut url = url.clone();
    let method = endpoint.method;
    if !method.has_body()
        && body
            .content_type
            .starts_with("application/x-www-form-urlencoded")
    {
        // As Mattermost sends `GET` commands: the form appended to the query.
        let query = match url.query() {
            Some(existing) if !existing.is_empty() => {
                format!("{existing}&{}", String::from_utf8_lossy(&body.bytes))
            }
            _ => String::from_utf8_lossy(&body.bytes).into_owned(),
        };
        url.set_query(Some(&query));
    }
    let outbound = RequestSpec {
        endpoint,
        method,
        url,
        body,
        gateway_headers: gateway_headers(request, service),
        rendered_headers: Vec::new(),
        message_id: request.request_id,
    }
    .build();
    let timeout = endpoint.timeout(caller.default_timeout_ms);
    let started = Instant::now();
    let sent = caller
        .clients
        .send(&outbound, timeout, endpoint.allow_insecure_tls)
        .await;
    let elapsed = started.elapsed();
    record.latency = Some(elapsed);
    record.request = Some(outbound);
    let response = sent.map_err(|error| unsent(&error, timeout, elapsed))?;
    let read = match &request.route.reply_template {
        Some(_) => mapped(caller, request, service, &response)?,
        None => answer::read(
            request.kind(),
            response.header("content-type"),
            &response.body,
            response.truncated,
        ),
    };
    let status = response.status;
    record.answer = Some(response);
    judge(status, read, elapsed, request)
}

/// An outgoing webhook's answer counts whatever its status, as Mattermost reads it: a `4xx` or
/// `5xx` is an error only without a post. A slash command's service must answer with a `2xx`,
/// as Mattermost requires; anything else is an error whatever the body (an error page is not a
/// reply). An empty or unusable answer is otherwise only logged.
fn judge(
    status: u16,
    read: Read,
    elapsed: Duration,
    request: Request<'_>,
) -> Result<Option<Answer>, String> {
    let failed_status = || {
        format!(
            "service answered HTTP {status} after {}",
            human_duration(elapsed)
        )
    };
    let successful = (200..300).contains(&status);
    match read {
        _ if request.kind() == Kind::Slash && !successful => Err(failed_status()),
        Read::Answer(answer) if answer.has_post() || status < 400 => Ok(Some(*answer)),
        Read::Answer(_) | Read::Empty | Read::Unusable(_) if status >= 400 => Err(failed_status()),
        Read::Unusable(reason) => {
            tracing::info!(trigger = %request.route.spec.name, %reason, "a service answer was ignored");
            Ok(None)
        }
        Read::Answer(_) | Read::Empty => Ok(None),
    }
}

fn unsent(error: &SendError, timeout: Duration, elapsed: Duration) -> String {
    match error {
        SendError::TimedOut(_) => format!("service timed out after {}", human_duration(timeout)),
        SendError::Connect(detail) => format!(
            "service could not be reached after {} ({detail})",
            human_duration(elapsed)
        ),
        SendError::Refused(refusal) => {
            // The channel learns that the address is refused, not which address it resolved to.
            tracing::warn!(%refusal, "a service address was refused by the SSRF guard");
            "service address is not allowed by the network policy".to_owned()
        }
        SendError::Failed(detail) => format!("request to the service failed ({detail})"),
    }
}

fn gateway_headers(request: Request<'_>, service: &Service) -> Vec<(String, String)> {
    let mut headers = vec![
        ("Accept".to_owned(), "application/json".to_owned()),
        (
            "X-Switchyard-Trigger".to_owned(),
            request.route.spec.name.clone(),
        ),
    ];
    let mattermost_format = matches!(
        service.spec.format,
        ServiceFormat::MattermostForm | ServiceFormat::MattermostJson
    );
    let token = request.chat_token;
    if request.kind() == Kind::Slash && mattermost_format && !token.is_empty() {
        // Mattermost sends its command token in this header too.
        headers.push(("Authorization".to_owned(), format!("Token {token}")));
    }
    headers
}

fn body(caller: Caller<'_>, request: Request<'_>, service: &Service) -> Result<Body, String> {
    let forwarded = request.forwarded;
    Ok(match service.spec.format {
        ServiceFormat::MattermostForm => Body {
            content_type: "application/x-www-form-urlencoded".into(),
            bytes: forwarded.form().into_bytes(),
        },
        ServiceFormat::MattermostJson => Body::json(forwarded.mattermost_json().into_bytes()),
        ServiceFormat::Json => Body::json(
            serde_json::to_vec(&Value::Object(forwarded.json_object())).unwrap_or_default(),
        ),
        ServiceFormat::Template => {
            let template = service
                .body_template
                .as_ref()
                .ok_or("the body template is missing")?;
            let rendered = template
                .render(request.template_context(caller.globals))
                .map_err(|error| format!("the body template failed: {error}"))?;
            Body {
                content_type: match template.kind() {
                    OutputKind::Json => "application/json",
                    OutputKind::Form => "application/x-www-form-urlencoded",
                    OutputKind::Text => "text/plain; charset=utf-8",
                }
                .into(),
                bytes: rendered.into_bytes(),
            }
        }
    })
}

/// `reply.template` maps the answer, whatever it is, to the reply JSON.
fn mapped(
    caller: Caller<'_>,
    request: Request<'_>,
    service: &Service,
    response: &OutboundResponse,
) -> Result<Read, String> {
    let Some(template) = &request.route.reply_template else {
        return Ok(Read::Empty);
    };
    let headers: Map<String, Value> = response
        .header_pairs()
        .map(|(name, value)| (name.to_owned(), Value::String(value.into_owned())))
        .collect();
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let parsed = serde_json::from_slice::<Value>(&response.body).unwrap_or(Value::Null);
    let url = match &service.target {
        Target::Http(url) => url.as_str(),
        Target::BuiltinIncidents => "",
    };
    let context = json!({
        "request": request.template_context(caller.globals),
        "response": {"status": response.status, "headers": headers, "body": text, "json": parsed},
        "service": {"name": service.label, "url": url},
    });
    let rendered = template
        .render(context)
        .map_err(|error| format!("the reply template failed: {error}"))?;
    let value = serde_json::from_str(&rendered)
        .map_err(|error| format!("the reply template failed: {error}"))?;
    Ok(answer::from_value(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(Duration::from_secs(10)), "10 s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250 ms");
    }
}
