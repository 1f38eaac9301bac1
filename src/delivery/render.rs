//! Turning an event into the request a webhook receives. Each `format` is one way of doing so;
//! this is the seam the template formats plug into.

use url::Url;

use crate::model::EncodedEvent;
use crate::outbound::{Body, HttpMethod, OutboundRequest, RequestSpec};
use crate::webhooks::{Format, Webhook};

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
}

pub fn render(webhook: &Webhook, event: &EncodedEvent) -> Result<Rendered, RenderError> {
    let endpoint = &webhook.spec.endpoint;
    let url = Url::parse(&endpoint.url).map_err(|error| RenderError::Url(error.to_string()))?;
    let body = match webhook.spec.format {
        // The event exactly as stored: no second serialisation.
        Format::Generic => event.json.clone().into_bytes(),
    };
    Ok(Rendered {
        method: endpoint.method,
        url,
        headers: Vec::new(),
        body: Body::json(body),
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
