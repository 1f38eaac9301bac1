//! Every request gets an id (echoed as `X-Request-Id`), a tracing span carrying it, a log line
//! when it completes, and its count and latency in the metrics.
//!
//! Logs name the matched route pattern, never the raw path or query: a query may carry a chat
//! token (Mattermost slash commands over GET) and `/hooks/reply/{id}` paths are capabilities.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use tracing::Instrument;

use super::AppState;
use crate::timestamp::rounded_millis;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_REQUEST_ID_CHARS: usize = 128;
const UNMATCHED_ROUTE: &str = "unmatched";

/// Reuses a caller's `X-Request-Id` when it is short and plain, so ids can be followed across
/// services; anything else gets a fresh id.
fn request_id(req: &ServiceRequest) -> HeaderValue {
    let plain = |value: &&HeaderValue| {
        let id = value.as_bytes();
        !id.is_empty()
            && id.len() <= MAX_REQUEST_ID_CHARS
            && id
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    };
    if let Some(given) = req.headers().get(&REQUEST_ID).filter(plain) {
        return given.clone();
    }
    let mut buffer = uuid::Uuid::encode_buffer();
    let fresh = uuid::Uuid::new_v4().simple().encode_lower(&mut buffer);
    HeaderValue::from_str(fresh).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request_id(&req);
    let method = req.method().clone();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.http.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id.to_str().unwrap_or_default(),
        %method,
        route = tracing::field::Empty
    );
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();

    let (status, route) = match &result {
        Ok(response) => (
            response.status(),
            response
                .request()
                .match_pattern()
                .unwrap_or_else(|| UNMATCHED_ROUTE.into()),
        ),
        Err(error) => (
            error.as_response_error().status_code(),
            UNMATCHED_ROUTE.into(),
        ),
    };
    span.record("route", route.as_str());
    if let Some(metrics) = metrics {
        metrics.observe(method.as_str(), &route, status.as_str(), elapsed);
    }
    let latency_ms = rounded_millis(elapsed);
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), latency_ms, "request completed");
        } else {
            tracing::info!(status = status.as_u16(), latency_ms, "request completed");
        }
    });

    result.map(|mut response| {
        response.headers_mut().insert(REQUEST_ID, id);
        response
    })
}
