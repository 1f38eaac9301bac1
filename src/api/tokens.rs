//! `/api/v1/tokens`: list, create (the secret is shown once), read, revoke.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::auth::{Admin, Authorized, Read};
use super::body::ApiJson;
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::timestamp::to_rfc3339;
use crate::tokens::{self, ApiToken, Scope};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/tokens")
            .route(web::get().to(list_tokens))
            .route(web::post().to(create_token)),
    )
    .service(
        super::resource("/tokens/{id}")
            .route(web::get().to(get_token))
            .route(web::delete().to(delete_token)),
    );
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    scope: Scope,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    id: String,
    name: String,
    scope: Scope,
    /// The secret itself in the answer to its creation, and only there; otherwise masked
    /// to its last characters (`…Xy9z`).
    token: String,
    created_by: String,
    created_at: String,
    last_used_at: Option<String>,
}

impl TokenView {
    fn new(token: ApiToken, secret: Option<String>) -> Self {
        Self {
            id: token.id,
            name: token.name,
            scope: token.scope,
            token: secret.unwrap_or_else(|| format!("…{}", token.hint)),
            created_by: token.created_by,
            created_at: to_rfc3339(token.created_at),
            last_used_at: token.last_used_at.map(to_rfc3339),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = PageView<TokenView>), (status = 401, body = ErrorBody)))]
pub async fn list_tokens(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = tokens::list(&state.store, query.page()?).await?;
    Ok(HttpResponse::Ok().json(PageView::from_page(page, |token| {
        TokenView::new(token, None)
    })))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken,
    security(("bearer" = [])),
    responses((status = 201, body = TokenView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_token(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    body: ApiJson<NewToken>,
) -> Result<HttpResponse, ApiError> {
    let NewToken { name, scope } = body.0;
    let issued = tokens::create(&state.store, &name, scope, &auth.caller.actor()).await?;
    Ok(HttpResponse::Created().json(TokenView::new(issued.token, Some(issued.secret))))
}

#[utoipa::path(get, path = "/api/v1/tokens/{id}", tag = "tokens",
    security(("bearer" = [])),
    responses((status = 200, body = TokenView), (status = 404, body = ErrorBody)))]
pub async fn get_token(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = tokens::get(&state.store, &id).await?;
    Ok(HttpResponse::Ok().json(TokenView::new(token, None)))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_token(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    tokens::revoke(&state.store, &id, &auth.caller.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}
