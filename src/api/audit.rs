//! `GET /api/v1/audit`: who changed what, newest first.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::{Authorized, Read};
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::audit::{self, AuditEntry};
use crate::store::audit::AuditFilter;
use crate::timestamp::to_rfc3339;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/audit").route(web::get().to(list_audit)));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `token`, `trigger`, `webhook`, `schedule`, …
    resource_type: Option<String>,
    resource_id: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    page: PageQuery,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    id: String,
    at: String,
    actor: String,
    /// `<resource>.<verb>`, e.g. `token.created`.
    action: String,
    resource_type: String,
    resource_id: String,
    /// What changed; secrets are masked.
    #[schema(value_type = Object)]
    details: Value,
}

impl From<AuditEntry> for AuditView {
    fn from(entry: AuditEntry) -> Self {
        Self {
            id: entry.id,
            at: to_rfc3339(entry.at),
            actor: entry.actor,
            action: entry.action,
            resource_type: entry.resource_type,
            resource_id: entry.resource_id,
            details: entry.details,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = PageView<AuditView>), (status = 401, body = ErrorBody)))]
pub async fn list_audit(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter = AuditFilter {
        resource_type: query.resource_type,
        resource_id: query.resource_id,
        ..AuditFilter::default()
    };
    let page = audit::list(&state.store, filter, query.page.page()?).await?;
    Ok(HttpResponse::Ok().json(PageView::from_page(page, AuditView::from)))
}
