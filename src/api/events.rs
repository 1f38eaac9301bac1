//! `/api/v1/events`: posting object and custom events (scope `ingest`), reading stored ones.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Authorized, Ingest, Read};
use super::body::ApiJson;
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::events::{self, NewEvent};
use crate::model::Event;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/events")
            .route(web::get().to(list_events))
            .route(web::post().to(post_event)),
    )
    .service(super::resource("/events/{id}").route(web::get().to(get_event)));
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// `object.created`, `object.updated`, `object.deleted` or a custom `x.<name>`.
    #[serde(rename = "type")]
    event_type: String,
    /// What the event is about, e.g. an object's id.
    subject: Option<String>,
    /// The object (for `object.deleted`: as it was before).
    #[serde(default)]
    #[schema(value_type = Object)]
    data: Value,
    #[schema(value_type = Object)]
    previous: Option<Value>,
    #[schema(value_type = Object)]
    changes: Option<Value>,
}

#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = EventInput,
    security(("bearer" = [])),
    responses((status = 202, description = "Stored with its deliveries", body = Object), (status = 422, body = ErrorBody)))]
pub async fn post_event(
    _auth: Authorized<Ingest>,
    state: web::Data<AppState>,
    body: ApiJson<EventInput>,
) -> Result<HttpResponse, ApiError> {
    let EventInput {
        event_type,
        subject,
        data,
        previous,
        changes,
    } = body.0;
    let new = NewEvent {
        event_type,
        subject,
        data,
        previous,
        changes,
    };
    let published = events::publish(&state.outbox, new).await?;
    Ok(HttpResponse::Accepted().json(json!({
        "id": published.event.event.id,
        "type": published.event.event.event_type,
        "deliveries": published.deliveries,
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    event_type: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    page: PageQuery,
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventQuery, PageQuery),
    security(("bearer" = [])), responses((status = 200, body = PageView<Object>)))]
pub async fn list_events(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<EventQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = events::list(&state.store, query.event_type, query.page.page()?).await?;
    Ok(HttpResponse::Ok().json(PageView::from_page(page, |event: Event| event)))
}

#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events",
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn get_event(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(events::get(&state.store, &id).await?))
}
