//! `/api/v1/vars`: global values templates read as `{{vars.KEY}}`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::{Admin, Authorized, Read};
use super::body::ApiJson;
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::timestamp::to_rfc3339;
use crate::vars::Var;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/vars").route(web::get().to(list_vars)))
        .service(
            super::resource("/vars/{key}")
                .route(web::get().to(get_var))
                .route(web::put().to(put_var))
                .route(web::delete().to(delete_var)),
        );
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VarValue {
    /// Any JSON value.
    #[schema(value_type = Object)]
    value: Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VarView {
    key: String,
    #[schema(value_type = Object)]
    value: Value,
    updated_by: String,
    updated_at: String,
}

impl From<Var> for VarView {
    fn from(var: Var) -> Self {
        Self {
            key: var.key,
            value: var.value,
            updated_by: var.updated_by,
            updated_at: to_rfc3339(var.updated_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/vars", tag = "vars", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = PageView<VarView>), (status = 401, body = ErrorBody)))]
pub async fn list_vars(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.vars.list(query.page()?).await?;
    Ok(HttpResponse::Ok().json(PageView::from_page(page, VarView::from)))
}

#[utoipa::path(get, path = "/api/v1/vars/{key}", tag = "vars",
    security(("bearer" = [])),
    responses((status = 200, body = VarView), (status = 404, body = ErrorBody)))]
pub async fn get_var(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(VarView::from(state.vars.get(&key).await?)))
}

#[utoipa::path(put, path = "/api/v1/vars/{key}", tag = "vars", request_body = VarValue,
    security(("bearer" = [])),
    responses((status = 201, body = VarView), (status = 200, body = VarView), (status = 422, body = ErrorBody)))]
pub async fn put_var(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    key: web::Path<String>,
    body: ApiJson<VarValue>,
) -> Result<HttpResponse, ApiError> {
    let (var, created) = state
        .vars
        .put(&key, body.0.value, &auth.caller.actor())
        .await?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(VarView::from(var)))
}

#[utoipa::path(delete, path = "/api/v1/vars/{key}", tag = "vars",
    security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_var(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.vars.delete(&key, &auth.caller.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}
