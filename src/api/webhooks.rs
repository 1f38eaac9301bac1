//! `/api/v1/webhooks`: the resource, replay of past deliveries, preview and test sends.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::{Admin, Authorized, Read};
use super::body::ApiJson;
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::delivery::{self, preview};
use crate::incidents;
use crate::model::samples::{sample_event, sample_type_for};
use crate::model::{EncodedEvent, Event};
use crate::outbound::display::LOGGED_BODY_BYTES;
use crate::timestamp::{now_millis, to_rfc3339};
use crate::webhooks::{self, Webhook, WebhookSpec};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/webhooks")
            .route(web::get().to(list_webhooks))
            .route(web::post().to(create_webhook)),
    )
    .service(
        super::resource("/webhooks/{id}")
            .route(web::get().to(get_webhook))
            .route(web::put().to(replace_webhook))
            .route(web::delete().to(delete_webhook)),
    )
    .service(super::resource("/webhooks/{id}/replay").route(web::post().to(replay_deliveries)))
    .service(super::resource("/webhooks/{id}/preview").route(web::post().to(preview_request)))
    .service(super::resource("/webhooks/{id}/test").route(web::post().to(test_request)));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    id: String,
    /// Secrets are masked (`"…mzyp"`); send a masked value back unchanged to keep it.
    #[serde(flatten)]
    spec: WebhookSpec,
    created_at: String,
    updated_at: String,
}

impl From<Webhook> for WebhookView {
    fn from(webhook: Webhook) -> Self {
        Self {
            id: webhook.id,
            spec: webhook.spec.masked(),
            created_at: to_rfc3339(webhook.created_at),
            updated_at: to_rfc3339(webhook.updated_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(PageQuery),
    security(("bearer" = [])), responses((status = 200, body = PageView<WebhookView>)))]
pub async fn list_webhooks(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = webhooks::list(&state.store, query.page()?).await?;
    Ok(HttpResponse::Ok().json(PageView::from_page(page, WebhookView::from)))
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookSpec,
    security(("bearer" = [])),
    responses((status = 201, body = WebhookView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_webhook(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    body: ApiJson<WebhookSpec>,
) -> Result<HttpResponse, ApiError> {
    let policy = state.engine.clients().policy();
    let webhook = webhooks::create(&state.store, policy, body.0, &auth.caller.actor()).await?;
    Ok(HttpResponse::Created().json(WebhookView::from(webhook)))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    security(("bearer" = [])), responses((status = 200, body = WebhookView), (status = 404, body = ErrorBody)))]
pub async fn get_webhook(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let webhook = webhooks::get(&state.store, &id).await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(webhook)))
}

#[utoipa::path(put, path = "/api/v1/webhooks/{id}", tag = "webhooks", request_body = WebhookSpec,
    security(("bearer" = [])),
    responses((status = 200, body = WebhookView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_webhook(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<WebhookSpec>,
) -> Result<HttpResponse, ApiError> {
    let policy = state.engine.clients().policy();
    let webhook =
        webhooks::replace(&state.store, policy, &id, body.0, &auth.caller.actor()).await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(webhook)))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_webhook(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    webhooks::delete(&state.store, &id, &auth.caller.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// RFC 3339: deliveries created at or after this time.
    since: String,
    /// `failed` (default), `succeeded` or `pending`.
    #[serde(default = "failed")]
    status: String,
}

fn failed() -> String {
    "failed".into()
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", tag = "webhooks", request_body = ReplayRequest,
    security(("bearer" = [])), responses((status = 202, body = Object), (status = 422, body = ErrorBody)))]
pub async fn replay_deliveries(
    _auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<ReplayRequest>,
) -> Result<HttpResponse, ApiError> {
    let ReplayRequest { since, status } = body.0;
    let since = chrono::DateTime::parse_from_rfc3339(&since)
        .map_err(|_| {
            ApiError::validation(
                "since",
                "must be an RFC 3339 time, e.g. 2026-11-22T10:00:00Z",
            )
        })?
        .timestamp_millis();
    super::deliveries::check_status(&status)?;
    webhooks::get(&state.store, &id).await?;
    let requeued = delivery::log::replay(&state.store, &state.engine, &id, &status, since).await?;
    Ok(HttpResponse::Accepted().json(json!({ "requeued": requeued })))
}

/// Which event to preview or test with: a given one, or a sample of the subscribed type.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// An event as webhooks receive it (`type` and `data` at least).
    #[schema(value_type = Object)]
    event: Option<Value>,
    /// Use a sample event of the first type the webhook subscribes to.
    #[serde(default)]
    sample: bool,
    /// An incident (id or number): the event is that incident as it is now, of the first
    /// incident type the webhook subscribes to.
    incident: Option<String>,
}

async fn preview_event(
    state: &AppState,
    request: PreviewRequest,
    webhook: &Webhook,
) -> Result<EncodedEvent, ApiError> {
    let event = match &request.incident {
        Some(reference) => incident_event(state, reference, webhook).await?,
        None => chosen_event(request, webhook)?,
    };
    EncodedEvent::encode(event).map_err(|error| ApiError::internal(&error))
}

async fn incident_event(
    state: &AppState,
    reference: &str,
    webhook: &Webhook,
) -> Result<Event, ApiError> {
    let incident = incidents::get(&state.store, reference).await?;
    let event_type = webhook
        .spec
        .events
        .iter()
        .map(|pattern| sample_type_for(pattern))
        .find(|event_type| event_type.starts_with("incident."))
        .unwrap_or("incident.created");
    Ok(Event {
        id: "evt_preview".into(),
        event_type: event_type.to_owned(),
        occurred_at: to_rfc3339(now_millis()),
        subject: Some(incident.id.clone()),
        data: incident.to_value(),
        previous: None,
        changes: None,
    })
}

fn chosen_event(request: PreviewRequest, webhook: &Webhook) -> Result<Event, ApiError> {
    match request.event {
        Some(mut event) => {
            let object = event
                .as_object_mut()
                .ok_or_else(|| ApiError::validation("event", "must be an object"))?;
            object.entry("id").or_insert_with(|| json!("evt_preview"));
            object
                .entry("occurred_at")
                .or_insert_with(|| json!(to_rfc3339(now_millis())));
            object.entry("subject").or_insert(Value::Null);
            object.entry("data").or_insert_with(|| json!({}));
            serde_json::from_value(event).map_err(|error| ApiError::validation("event", error))
        }
        None if request.sample => {
            let pattern = webhook.spec.events.first().map_or("*", String::as_str);
            Ok(sample_event(sample_type_for(pattern)))
        }
        None => Err(ApiError::validation(
            "event",
            "send an `event`, or `\"sample\": true`",
        )),
    }
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/preview", tag = "webhooks", request_body = PreviewRequest,
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 422, body = ErrorBody)))]
pub async fn preview_request(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<PreviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let webhook = webhooks::get(&state.store, &id).await?;
    let event = preview_event(&state, body.0, &webhook).await?;
    let request = preview::build(&webhook, &event, &state.engine.globals())
        .map_err(|error| ApiError::validation(error.field(), error))?;
    Ok(HttpResponse::Ok().json(json!({ "request": request.to_json(usize::MAX) })))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", request_body = PreviewRequest,
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 422, body = ErrorBody)))]
pub async fn test_request(
    _auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<PreviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let webhook = webhooks::get(&state.store, &id).await?;
    let event = preview_event(&state, body.0, &webhook).await?;
    let engine = &state.engine;
    let result = preview::send_test(
        engine.clients(),
        engine.default_timeout_ms(),
        &webhook,
        &event,
        &engine.globals(),
    )
    .await
    .map_err(|error| ApiError::validation(error.field(), error))?;
    let (response, error) = match &result.outcome {
        Ok(response) => (response.to_json(LOGGED_BODY_BYTES), Value::Null),
        Err(error) => (Value::Null, json!(error.to_string())),
    };
    Ok(HttpResponse::Ok().json(json!({
        "request": result.request.to_json(LOGGED_BODY_BYTES),
        "response": response,
        "error": error,
        "duration_ms": result.duration_ms,
    })))
}
