//! `/api/v1/settings`: the `chat.*` switches at runtime.

use actix_web::{HttpResponse, web};

use super::auth::{Admin, Authorized, Read};
use super::body::ApiJson;
use super::{ApiError, AppState, ErrorBody};
use crate::chat::settings::SettingsDocument;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/settings")
            .route(web::get().to(get_settings))
            .route(web::put().to(put_settings)),
    );
}

#[utoipa::path(get, path = "/api/v1/settings", tag = "settings",
    security(("bearer" = [])), responses((status = 200, body = SettingsDocument)))]
pub async fn get_settings(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.gateway.settings().document()))
}

/// Keys left out keep their values.
#[utoipa::path(put, path = "/api/v1/settings", tag = "settings", request_body = SettingsDocument,
    security(("bearer" = [])),
    responses((status = 200, body = SettingsDocument), (status = 422, body = ErrorBody)))]
pub async fn put_settings(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    body: ApiJson<SettingsDocument>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.caller.actor();
    let settings = state.gateway.settings().update(body.0, &actor).await?;
    Ok(HttpResponse::Ok().json(settings))
}
