//! `/api/v1/deliveries`: the delivery log with every attempt, and manual retries.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::{Admin, Authorized, Read};
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::delivery::log::{self, Attempt, Delivery};
use crate::incidents;
use crate::store::delivery_log::DeliveryFilter;
use crate::timestamp::to_rfc3339;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/deliveries").route(web::get().to(list_deliveries)))
        .service(super::resource("/deliveries/{id}").route(web::get().to(get_delivery)))
        .service(super::resource("/deliveries/{id}/retry").route(web::post().to(retry_delivery)));
}

pub fn check_status(status: &str) -> Result<(), ApiError> {
    match status {
        "pending" | "succeeded" | "failed" => Ok(()),
        _ => Err(ApiError::validation(
            "status",
            "must be pending, succeeded or failed",
        )),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// A webhook id.
    webhook: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    status: Option<String>,
    /// An event id.
    event: Option<String>,
    /// An incident (id or number): the deliveries of its events.
    incident: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    page: PageQuery,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    id: String,
    event_id: String,
    webhook_id: String,
    /// The webhook's name as it is now.
    webhook_name: String,
    /// The event's type, e.g. `incident.created`.
    event_type: String,
    /// `pending`, `succeeded` or `failed`.
    status: String,
    attempts: i32,
    max_attempts: i32,
    next_attempt_at: Option<String>,
    in_flight: bool,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    attempt_log: Option<Vec<Value>>,
}

impl DeliveryView {
    fn new(delivery: Delivery, attempts: Option<Vec<Attempt>>) -> Self {
        Self {
            id: delivery.id,
            event_id: delivery.event_id,
            webhook_id: delivery.webhook_id,
            webhook_name: delivery.webhook_name,
            event_type: delivery.event_type,
            status: delivery.status,
            attempts: delivery.attempts,
            max_attempts: delivery.max_attempts,
            next_attempt_at: delivery.next_attempt_at.map(to_rfc3339),
            in_flight: delivery.in_flight,
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error,
            created_at: to_rfc3339(delivery.created_at),
            updated_at: to_rfc3339(delivery.updated_at),
            attempt_log: attempts.map(|attempts| attempts.into_iter().map(attempt_view).collect()),
        }
    }
}

fn attempt_view(attempt: Attempt) -> Value {
    serde_json::json!({
        "attempt": attempt.attempt,
        "initiated_by": attempt.initiated_by,
        "started_at": to_rfc3339(attempt.started_at),
        "duration_ms": attempt.duration_ms,
        "outcome": attempt.outcome,
        "request": attempt.request,
        "response": attempt.response,
        "error": attempt.error,
    })
}

#[utoipa::path(get, path = "/api/v1/deliveries", tag = "deliveries", params(DeliveryQuery, PageQuery),
    security(("bearer" = [])), responses((status = 200, body = PageView<DeliveryView>)))]
pub async fn list_deliveries(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    if let Some(status) = &query.status {
        check_status(status)?;
    }
    let subject = match &query.incident {
        Some(reference) => Some(incidents::get(&state.store, reference).await?.id),
        None => None,
    };
    let filter = DeliveryFilter {
        webhook_id: query.webhook,
        event_id: query.event,
        status: query.status,
        subject,
        ..DeliveryFilter::default()
    };
    let page = log::list(&state.store, filter, query.page.page()?).await?;
    Ok(HttpResponse::Ok().json(PageView::from_page(page, |d| DeliveryView::new(d, None))))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "deliveries",
    security(("bearer" = [])), responses((status = 200, body = DeliveryView), (status = 404, body = ErrorBody)))]
pub async fn get_delivery(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (delivery, attempts) = log::get(&state.store, &id).await?;
    Ok(HttpResponse::Ok().json(DeliveryView::new(delivery, Some(attempts))))
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/retry", tag = "deliveries",
    security(("bearer" = [])),
    responses((status = 202, body = DeliveryView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry_delivery(
    _auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let delivery = log::retry(&state.store, &state.engine, &id).await?;
    Ok(HttpResponse::Accepted().json(DeliveryView::new(delivery, None)))
}
