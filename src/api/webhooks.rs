//! `/api/v1/webhooks`: the resource, replay of past deliveries, preview and test sends.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{Admin, Authorized, Read};
use super::body::ApiJson;
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::delivery::{
    self,
    preview::{IncidentSnapshot, Preview, PreviewInput},
};
use crate::incidents;
use crate::timestamp::to_rfc3339;
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
    let policy = state.clients.policy();
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
    let policy = state.clients.policy();
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

/// A webhook's request for the event `input` asks for. An incident it names is read here, as
/// it is now: the preview itself sits below incidents.
async fn preview_of(
    state: &AppState,
    webhook_id: &str,
    input: PreviewInput,
) -> Result<Preview, ApiError> {
    let webhook = webhooks::get(&state.store, webhook_id).await?;
    let incident = match &input.incident {
        Some(reference) => {
            let incident = incidents::get(&state.store, reference).await?;
            Some(IncidentSnapshot {
                data: incident.to_value(),
                id: incident.id,
            })
        }
        None => None,
    };
    Ok(Preview::build(
        &webhook,
        input,
        incident,
        &state.globals.current(),
    )?)
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/preview", tag = "webhooks", request_body = PreviewInput,
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 422, body = ErrorBody)))]
pub async fn preview_request(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<PreviewInput>,
) -> Result<HttpResponse, ApiError> {
    let preview = preview_of(&state, &id, body.0).await?;
    Ok(HttpResponse::Ok().json(json!({ "request": preview.to_json() })))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", request_body = PreviewInput,
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 422, body = ErrorBody)))]
pub async fn test_request(
    _auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<PreviewInput>,
) -> Result<HttpResponse, ApiError> {
    let preview = preview_of(&state, &id, body.0).await?;
    let default_timeout_ms = state.config.outbound.default_timeout_ms;
    let result = preview.send(&state.clients, default_timeout_ms).await;
    Ok(HttpResponse::Ok().json(result.to_json()))
}
