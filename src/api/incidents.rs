//! `/api/v1/incidents` and `/api/v1/alerts`: opening incidents, alert intake, reading.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::auth::{Admin, Authorized, Ingest, Read};
use super::body::ApiJson;
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::incidents::{self, AlertInput, Incident, NewIncident, PatchInput};
use crate::store::incidents::IncidentFilter;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/alerts").route(web::post().to(post_alert)))
        .service(
            super::resource("/incidents")
                .route(web::get().to(list_incidents))
                .route(web::post().to(create_incident)),
        )
        .service(super::resource("/incidents/{id}/forward").route(web::post().to(forward_incident)))
        .service(
            super::resource("/incidents/{id}")
                .route(web::get().to(get_incident))
                .route(web::patch().to(patch_incident)),
        );
}

#[utoipa::path(post, path = "/api/v1/alerts", tag = "incidents", request_body = AlertInput,
    security(("bearer" = [])),
    responses((status = 202, description = "`{\"result\": \"opened\"|\"occurrence\"|\"acknowledged\"|\"resolved\", \"incident\": {…}}`", body = Object),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post_alert(
    auth: Authorized<Ingest>,
    state: web::Data<AppState>,
    body: ApiJson<AlertInput>,
) -> Result<HttpResponse, ApiError> {
    let (result, incident) = incidents::alert(&state.outbox, body.0, &auth.caller.actor()).await?;
    Ok(HttpResponse::Accepted().json(json!({ "result": result, "incident": incident })))
}

#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = NewIncident,
    security(("bearer" = [])),
    responses((status = 201, body = Incident), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_incident(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    body: ApiJson<NewIncident>,
) -> Result<HttpResponse, ApiError> {
    let incident = incidents::create(&state.outbox, body.0, &auth.caller.actor()).await?;
    Ok(HttpResponse::Created().json(incident))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// `open`, `acknowledged` or `resolved`.
    status: Option<String>,
    severity: Option<String>,
    source: Option<String>,
    dedup_key: Option<String>,
    /// Text the title contains, in any case.
    q: Option<String>,
}

fn present(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = PageView<Incident>), (status = 422, body = ErrorBody)))]
pub async fn list_incidents(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<IncidentQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter = IncidentFilter {
        status: present(query.status),
        severity: present(query.severity),
        source: present(query.source),
        dedup_key: present(query.dedup_key),
        title_contains: present(query.q),
    };
    let incidents = incidents::list(&state.store, filter, page.page()?).await?;
    Ok(HttpResponse::Ok().json(PageView::from_page(incidents, |incident| incident)))
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "The incident's id (`inc_…`) or number")),
    security(("bearer" = [])),
    responses((status = 200, body = Incident), (status = 404, body = ErrorBody)))]
pub async fn get_incident(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(incidents::get(&state.store, &id).await?))
}

#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents", request_body = PatchInput,
    params(("id" = String, Path, description = "The incident's id (`inc_…`) or number")),
    security(("bearer" = [])),
    responses((status = 200, body = Incident), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch_incident(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<PatchInput>,
) -> Result<HttpResponse, ApiError> {
    let incident = incidents::patch(&state.outbox, &id, body.0, &auth.caller.actor()).await?;
    Ok(HttpResponse::Ok().json(incident))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardInput {
    /// The id of the webhook to forward to.
    webhook: String,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/forward", tag = "incidents", request_body = ForwardInput,
    params(("id" = String, Path, description = "The incident's id (`inc_…`) or number")),
    security(("bearer" = [])),
    responses((status = 200, body = Incident), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn forward_incident(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<ForwardInput>,
) -> Result<HttpResponse, ApiError> {
    let incident =
        incidents::forward(&state.outbox, &id, &body.0.webhook, &auth.caller.actor()).await?;
    Ok(HttpResponse::Ok().json(incident))
}
