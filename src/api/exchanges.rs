//! The chat exchange log: `/api/v1/triggers/{id}/exchanges` (one trigger's latest requests)
//! and `/api/v1/chat/exchanges` (the whole gateway's, including those that matched no
//! trigger).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::auth::{Authorized, Read};
use super::{ApiError, AppState, ErrorBody};
use crate::store::chat_exchanges::ExchangeFilter;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/triggers/{id}/exchanges").route(web::get().to(list_trigger_exchanges)),
    )
    .service(super::resource("/chat/exchanges").route(web::get().to(list_chat_exchanges)));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TriggerExchangeQuery {
    /// `forwarded`, `ignored`, `refused`, `malformed` or `disabled`.
    outcome: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExchangeQuery {
    /// `forwarded`, `ignored`, `refused`, `malformed` or `disabled`.
    outcome: Option<String>,
    /// A trigger's id, or `none` for the requests that matched no trigger.
    trigger: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/triggers/{id}/exchanges", tag = "triggers",
    params(("id" = String, Path, description = "The trigger's id"), TriggerExchangeQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_trigger_exchanges(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<TriggerExchangeQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = ExchangeFilter {
        trigger_id: Some(Some(id.into_inner())),
        outcome: query.into_inner().outcome,
    };
    let items = state.gateway.triggers().exchanges(filter).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/api/v1/chat/exchanges", tag = "triggers", params(ExchangeQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 422, body = ErrorBody)))]
pub async fn list_chat_exchanges(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<ExchangeQuery>,
) -> Result<HttpResponse, ApiError> {
    let ExchangeQuery { outcome, trigger } = query.into_inner();
    let trigger_id = trigger.map(|trigger| (trigger != "none").then_some(trigger));
    let filter = ExchangeFilter {
        trigger_id,
        outcome,
    };
    let items = state.gateway.triggers().exchanges(filter).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}
