//! Turning an event into the request a webhook receives: the event as stored (`generic`), a
//! built-in chat format, the webhook's body template, or its request template.

use url::Url;

use crate::model::EncodedEvent;
use crate::outbound::endpoint::parse_url;
use crate::outbound::headers::HeaderList;
use crate::outbound::{Body, HttpMethod, OutboundRequest, RequestSpec};
use crate::templates::request::{self, RequestParts};
use crate::templates::{self, CompiledTemplate, Globals, OutputKind, Scope};
use crate::webhooks::{Rendering, Webhook};

/// The parts of a request that depend on the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub method: HttpMethod,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the webhook URL is invalid: {0}")]
    Url(String),
    #[error("{field}: {error}")]
    Template {
        field: &'static str,
        error: templates::RenderError,
    },
    #[error("the webhook's template does not compile: {0}")]
    Broken(String),
    #[error("request_template: {0}")]
    Request(String),
}

impl RenderError {
    /// The webhook field the error comes from.
    pub fn field(&self) -> &'static str {
        match self {
            RenderError::Url(_) => "endpoint.url",
            RenderError::Template { field, .. } => field,
            RenderError::Broken(_) => "template",
            RenderError::Request(_) => "request_template",
        }
    }
}

/// The delivery a request is rendered for.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub webhook: &'a Webhook,
    pub event: &'a EncodedEvent,
    pub delivery_id: &'a str,
    pub attempt: u32,
}

pub fn render(target: Target<'_>, globals: &Globals) -> Result<Rendered, RenderError> {
    let webhook = target.webhook;
    let endpoint = &webhook.spec.endpoint;
    let rendering = webhook
        .rendering
        .as_ref()
        .map_err(|invalid| RenderError::Broken(invalid.to_string()))?;
    let context = || {
        let scope = Scope {
            webhook_id: &webhook.id,
            webhook_name: &webhook.spec.name,
            delivery_id: target.delivery_id,
            attempt: target.attempt,
        };
        templates::context(&target.event.event, &scope, globals)
    };
    let body = match rendering {
        Rendering::Request(template) => return from_request_template(template, context(), target),
        // The event exactly as stored: no second serialisation.
        Rendering::Generic => Body::json(target.event.json.clone().into_bytes()),
        Rendering::BuiltIn(format) => {
            let rendered =
                templates::formats::render(*format, &target.event.event).map_err(|error| {
                    RenderError::Template {
                        field: "format",
                        error,
                    }
                })?;
            Body::json(rendered.into_bytes())
        }
        Rendering::Body(template) => {
            let rendered = template
                .render(context())
                .map_err(|error| RenderError::Template {
                    field: "body_template",
                    error,
                })?;
            Body {
                content_type: content_type(template.kind()).to_owned(),
                bytes: rendered.into_bytes(),
            }
        }
    };
    Ok(Rendered {
        method: endpoint.method,
        url: Url::parse(&endpoint.url).map_err(|error| RenderError::Url(error.to_string()))?,
        headers: Vec::new(),
        body,
    })
}

fn content_type(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Json => "application/json",
        OutputKind::Form => "application/x-www-form-urlencoded",
        OutputKind::Text => "text/plain; charset=utf-8",
    }
}

/// The request a request template describes; the endpoint fills in what it leaves out. Its URL
/// passes the SSRF guard when sent, like any other.
fn from_request_template(
    template: &CompiledTemplate,
    context: serde_json::Value,
    target: Target<'_>,
) -> Result<Rendered, RenderError> {
    let endpoint = &target.webhook.spec.endpoint;
    let rendered = template
        .render(context)
        .map_err(|error| RenderError::Template {
            field: "request_template",
            error,
        })?;
    let RequestParts {
        method,
        url,
        headers,
        body,
    } = request::parse(&rendered).map_err(|error| RenderError::Template {
        field: "request_template",
        error,
    })?;
    let method = match method {
        Some(name) => serde_json::from_value::<HttpMethod>(serde_json::Value::String(
            name.to_ascii_uppercase(),
        ))
        .map_err(|_| RenderError::Request(format!("`{name}` is not a supported method")))?,
        None => endpoint.method,
    };
    let url = parse_url(url.as_deref().unwrap_or(&endpoint.url))
        .map_err(|reason| RenderError::Request(format!("url: {reason}")))?;
    HeaderList(headers.clone())
        .validate()
        .map_err(|invalid| RenderError::Request(invalid.to_string()))?;
    let body = body.map_or_else(
        || Body {
            content_type: String::new(),
            bytes: Vec::new(),
        },
        |body| Body {
            content_type: body.content_type().to_owned(),
            bytes: body.into_bytes(),
        },
    );
    Ok(Rendered {
        method,
        url,
        headers,
        body,
    })
}

/// The request for `rendered`, with the gateway's headers, auth and a signature made now.
pub fn build_request(
    webhook: &Webhook,
    event: &EncodedEvent,
    delivery_id: &str,
    rendered: Rendered,
) -> OutboundRequest {
    RequestSpec {
        endpoint: &webhook.spec.endpoint,
        method: rendered.method,
        url: rendered.url,
        body: rendered.body,
        gateway_headers: vec![
            ("X-Switchyard-Event".into(), event.event.event_type.clone()),
            ("X-Switchyard-Event-Id".into(), event.event.id.clone()),
            ("X-Switchyard-Delivery".into(), delivery_id.to_owned()),
        ],
        rendered_headers: rendered.headers,
        message_id: delivery_id,
    }
    .build()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::model::samples::sample_event;
    use crate::secrets::Secrets;
    use crate::store::webhooks::WebhookRow;
    use crate::webhooks::from_row;

    fn webhook(spec: Value) -> Webhook {
        from_row(
            &WebhookRow {
                id: "whk_1".into(),
                name: "a".into(),
                active: true,
                config: spec.to_string(),
                created_at: 0,
                updated_at: 0,
            },
            &Secrets::default(),
        )
        .unwrap()
    }

    fn rendered(request_template: &str) -> Result<Rendered, RenderError> {
        let webhook = webhook(
            json!({"name": "a", "endpoint": {"url": "https://a.example/x"},
            "events": ["*"], "request_template": request_template}),
        );
        let event = EncodedEvent::encode(sample_event("object.updated")).unwrap();
        let target = Target {
            webhook: &webhook,
            event: &event,
            delivery_id: "dlv_1",
            attempt: 1,
        };
        render(target, &Globals::default())
    }

    #[test]
    fn request_templates_fill_gaps_from_the_endpoint_and_refuse_what_cannot_be_sent() {
        let bare = rendered("{}").unwrap();
        assert_eq!(
            (bare.method, bare.url.as_str()),
            (HttpMethod::Post, "https://a.example/x")
        );
        assert!(bare.body.bytes.is_empty() && bare.body.content_type.is_empty());
        let method = rendered(r#"{"method": "TRACE"}"#).unwrap_err();
        assert!(
            method
                .to_string()
                .contains("`TRACE` is not a supported method"),
            "{method}"
        );
        let header = rendered(r#"{"headers": {"bad name": "x"}}"#).unwrap_err();
        assert_eq!(header.field(), "request_template");
        let url = rendered(r#"{"url": "ftp://a.example/{{object.id}}"}"#).unwrap_err();
        assert!(url.to_string().contains("url:"), "{url}");
    }

    #[test]
    fn a_stored_template_that_no_longer_compiles_fails_every_render() {
        let mut broken = webhook(
            json!({"name": "a", "endpoint": {"url": "https://a.example/x"}, "events": ["*"]}),
        );
        broken.rendering = Err(crate::validation::Invalid::new(
            "body_template",
            "unknown helper `gone`",
        ));
        let event = EncodedEvent::encode(sample_event("object.updated")).unwrap();
        let target = Target {
            webhook: &broken,
            event: &event,
            delivery_id: "dlv_1",
            attempt: 1,
        };
        let error = render(target, &Globals::default()).unwrap_err();
        assert!(matches!(error, RenderError::Broken(_)), "{error:?}");
    }
}
