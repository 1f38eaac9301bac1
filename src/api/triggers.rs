//! `/api/v1/triggers`: the chat → services routes.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::auth::{Admin, Authorized, Read};
use super::body::ApiJson;
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::chat::routing::triggers::Trigger;
use crate::chat::trigger::TriggerSpec;
use crate::timestamp::to_rfc3339;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/triggers")
            .route(web::get().to(list_triggers))
            .route(web::post().to(create_trigger)),
    )
    .service(
        super::resource("/triggers/{id}")
            .route(web::get().to(get_trigger))
            .route(web::put().to(replace_trigger))
            .route(web::delete().to(delete_trigger)),
    );
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TriggerView {
    id: String,
    /// Tokens and secrets are masked (`"…mzyp"`); send a masked value back unchanged to keep it.
    #[serde(flatten)]
    spec: TriggerSpec,
    created_at: String,
    updated_at: String,
}

impl From<Trigger> for TriggerView {
    fn from(trigger: Trigger) -> Self {
        Self {
            id: trigger.id,
            spec: trigger.spec.masked(),
            created_at: to_rfc3339(trigger.created_at),
            updated_at: to_rfc3339(trigger.updated_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/triggers", tag = "triggers", params(PageQuery),
    security(("bearer" = [])), responses((status = 200, body = PageView<TriggerView>)))]
pub async fn list_triggers(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.gateway.triggers().list(query.page()?).await?;
    Ok(HttpResponse::Ok().json(PageView::from_page(page, TriggerView::from)))
}

#[utoipa::path(post, path = "/api/v1/triggers", tag = "triggers", request_body = TriggerSpec,
    security(("bearer" = [])),
    responses((status = 201, body = TriggerView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_trigger(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    body: ApiJson<TriggerSpec>,
) -> Result<HttpResponse, ApiError> {
    let policy = state.clients.policy();
    let actor = auth.caller.actor();
    let trigger = state
        .gateway
        .triggers()
        .create(policy, body.0, &actor)
        .await?;
    Ok(HttpResponse::Created().json(TriggerView::from(trigger)))
}

#[utoipa::path(get, path = "/api/v1/triggers/{id}", tag = "triggers",
    security(("bearer" = [])), responses((status = 200, body = TriggerView), (status = 404, body = ErrorBody)))]
pub async fn get_trigger(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let trigger = state.gateway.triggers().get(&id).await?;
    Ok(HttpResponse::Ok().json(TriggerView::from(trigger)))
}

#[utoipa::path(put, path = "/api/v1/triggers/{id}", tag = "triggers", request_body = TriggerSpec,
    security(("bearer" = [])),
    responses((status = 200, body = TriggerView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_trigger(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<TriggerSpec>,
) -> Result<HttpResponse, ApiError> {
    let policy = state.clients.policy();
    let actor = auth.caller.actor();
    let trigger = state
        .gateway
        .triggers()
        .replace(policy, &id, body.0, &actor)
        .await?;
    Ok(HttpResponse::Ok().json(TriggerView::from(trigger)))
}

#[utoipa::path(delete, path = "/api/v1/triggers/{id}", tag = "triggers",
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_trigger(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.caller.actor();
    state.gateway.triggers().delete(&id, &actor).await?;
    Ok(HttpResponse::NoContent().finish())
}
