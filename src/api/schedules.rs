//! `/api/v1/schedules`: the resource with its next due times, running one now, its runs.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::auth::{Admin, Authorized, Read};
use super::body::ApiJson;
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::schedules::{Run, Schedule, ScheduleSpec};
use crate::timestamp::to_rfc3339;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/schedules")
            .route(web::get().to(list_schedules))
            .route(web::post().to(create_schedule)),
    )
    .service(
        super::resource("/schedules/{id}")
            .route(web::get().to(get_schedule))
            .route(web::put().to(replace_schedule))
            .route(web::delete().to(delete_schedule)),
    )
    .service(super::resource("/schedules/{id}/run").route(web::post().to(run_schedule)))
    .service(super::resource("/schedules/{id}/runs").route(web::get().to(list_runs)));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    id: String,
    #[serde(flatten)]
    spec: ScheduleSpec,
    /// The next five due times (none while disabled).
    next_due: Vec<String>,
    last_fired_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl TryFrom<Schedule> for ScheduleView {
    type Error = ApiError;

    fn try_from(schedule: Schedule) -> Result<Self, ApiError> {
        let next_due = schedule.upcoming()?;
        Ok(Self {
            id: schedule.id,
            spec: schedule.spec,
            next_due: next_due.into_iter().map(to_rfc3339).collect(),
            last_fired_at: schedule.last_fired_at.map(to_rfc3339),
            created_at: to_rfc3339(schedule.created_at),
            updated_at: to_rfc3339(schedule.updated_at),
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunView {
    id: String,
    due_at: String,
    fired_at: String,
    /// Run by hand (`POST …/run`).
    manual: bool,
    /// Due times that passed while no process ran, folded into this run.
    missed: i64,
    event_id: String,
    /// The delivery to the schedule's webhook: `{id, status, attempts, last_status_code}`.
    #[schema(value_type = Option<Object>)]
    delivery: Option<serde_json::Value>,
}

impl From<Run> for RunView {
    fn from(run: Run) -> Self {
        Self {
            id: run.id,
            due_at: to_rfc3339(run.due_at),
            fired_at: to_rfc3339(run.fired_at),
            manual: run.manual,
            missed: run.missed,
            event_id: run.event_id,
            delivery: run.delivery.map(|delivery| {
                serde_json::json!({
                    "id": delivery.id,
                    "status": delivery.status,
                    "attempts": delivery.attempts,
                    "last_status_code": delivery.last_status_code,
                })
            }),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", params(PageQuery),
    security(("bearer" = [])), responses((status = 200, body = PageView<ScheduleView>)))]
pub async fn list_schedules(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.schedules.list(query.page()?).await?;
    let items = page
        .items
        .into_iter()
        .map(ScheduleView::try_from)
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(PageView {
        items,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = ScheduleSpec,
    security(("bearer" = [])),
    responses((status = 201, body = ScheduleView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_schedule(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    body: ApiJson<ScheduleSpec>,
) -> Result<HttpResponse, ApiError> {
    let schedule = state.schedules.create(body.0, &auth.caller.actor()).await?;
    Ok(HttpResponse::Created().json(ScheduleView::try_from(schedule)?))
}

#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules",
    security(("bearer" = [])), responses((status = 200, body = ScheduleView), (status = 404, body = ErrorBody)))]
pub async fn get_schedule(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let schedule = state.schedules.get(&id).await?;
    Ok(HttpResponse::Ok().json(ScheduleView::try_from(schedule)?))
}

#[utoipa::path(put, path = "/api/v1/schedules/{id}", tag = "schedules", request_body = ScheduleSpec,
    security(("bearer" = [])),
    responses((status = 200, body = ScheduleView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_schedule(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<ScheduleSpec>,
) -> Result<HttpResponse, ApiError> {
    let schedule = state
        .schedules
        .replace(&id, body.0, &auth.caller.actor())
        .await?;
    Ok(HttpResponse::Ok().json(ScheduleView::try_from(schedule)?))
}

#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "schedules",
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_schedule(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.schedules.delete(&id, &auth.caller.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/schedules/{id}/run", tag = "schedules",
    security(("bearer" = [])), responses((status = 202, body = RunView), (status = 404, body = ErrorBody)))]
pub async fn run_schedule(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let run = state.schedules.run(&id, &auth.caller.actor()).await?;
    Ok(HttpResponse::Accepted().json(RunView::from(run)))
}

#[utoipa::path(get, path = "/api/v1/schedules/{id}/runs", tag = "schedules", params(PageQuery),
    security(("bearer" = [])), responses((status = 200, body = PageView<RunView>), (status = 404, body = ErrorBody)))]
pub async fn list_runs(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let runs = state.schedules.runs(&id, query.page()?).await?;
    Ok(HttpResponse::Ok().json(PageView::from_page(runs, RunView::from)))
}
