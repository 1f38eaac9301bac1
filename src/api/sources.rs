//! `/api/v1/sources`: the resource (with the URL to paste into the sender), rotating its URL
//! token, the latest requests it received, and previews of what a body would become. What
//! senders post to, `/hooks/in/…`, is in `hooks.rs` with the other hooks.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::auth::{Admin, Authorized, Read};
use super::body::ApiJson;
use super::paging::{PageQuery, PageView};
use super::{ApiError, AppState, ErrorBody};
use crate::sources::{Issued, LoggedRequest, Source, SourceRequest, SourceSpec};
use crate::timestamp::to_rfc3339;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/sources")
            .route(web::get().to(list_sources))
            .route(web::post().to(create_source)),
    )
    .service(
        super::resource("/sources/{id}")
            .route(web::get().to(get_source))
            .route(web::put().to(replace_source))
            .route(web::delete().to(delete_source)),
    )
    .service(super::resource("/sources/{id}/rotate").route(web::post().to(rotate_source)))
    .service(super::resource("/sources/{id}/requests").route(web::get().to(list_requests)))
    .service(super::resource("/sources/{id}/preview").route(web::post().to(preview_source)));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourceView {
    id: String,
    /// Secrets are masked (`"…mzyp"`); send a masked value back unchanged to keep it.
    #[serde(flatten)]
    spec: SourceSpec,
    /// Where the sender posts. With `url_token`, the token is in it only in the answers to
    /// creation and rotation; otherwise it ends with the token's last characters.
    url: String,
    created_at: String,
    updated_at: String,
}

fn view(state: &AppState, source: &Source, token: Option<&str>) -> SourceView {
    SourceView {
        id: source.id.clone(),
        spec: source.spec.masked(),
        url: state.sources.url(source, token),
        created_at: to_rfc3339(source.created_at),
        updated_at: to_rfc3339(source.updated_at),
    }
}

fn issued_view(state: &AppState, issued: &Issued) -> SourceView {
    view(state, &issued.source, issued.token.as_deref())
}

#[utoipa::path(get, path = "/api/v1/sources", tag = "sources", params(PageQuery),
    security(("bearer" = [])), responses((status = 200, body = PageView<SourceView>)))]
pub async fn list_sources(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.sources.list(query.page()?).await?;
    Ok(HttpResponse::Ok().json(PageView::from_page(page, |source| {
        view(&state, &source, None)
    })))
}

#[utoipa::path(post, path = "/api/v1/sources", tag = "sources", request_body = SourceSpec,
    security(("bearer" = [])),
    responses((status = 201, body = SourceView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_source(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    body: ApiJson<SourceSpec>,
) -> Result<HttpResponse, ApiError> {
    let issued = state.sources.create(body.0, &auth.caller.actor()).await?;
    Ok(HttpResponse::Created().json(issued_view(&state, &issued)))
}

#[utoipa::path(get, path = "/api/v1/sources/{id}", tag = "sources",
    security(("bearer" = [])), responses((status = 200, body = SourceView), (status = 404, body = ErrorBody)))]
pub async fn get_source(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let source = state.sources.get(&id).await?;
    Ok(HttpResponse::Ok().json(view(&state, &source, None)))
}

#[utoipa::path(put, path = "/api/v1/sources/{id}", tag = "sources", request_body = SourceSpec,
    security(("bearer" = [])),
    responses((status = 200, body = SourceView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_source(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<SourceSpec>,
) -> Result<HttpResponse, ApiError> {
    let issued = state
        .sources
        .replace(&id, body.0, &auth.caller.actor())
        .await?;
    Ok(HttpResponse::Ok().json(issued_view(&state, &issued)))
}

#[utoipa::path(delete, path = "/api/v1/sources/{id}", tag = "sources",
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_source(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.sources.delete(&id, &auth.caller.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/sources/{id}/rotate", tag = "sources",
    security(("bearer" = [])), responses((status = 200, body = SourceView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rotate_source(
    auth: Authorized<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let issued = state.sources.rotate(&id, &auth.caller.actor()).await?;
    Ok(HttpResponse::Ok().json(issued_view(&state, &issued)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    id: String,
    received_at: String,
    method: String,
    /// Credentials and signatures masked.
    #[schema(value_type = Object)]
    headers: Value,
    /// Up to 64 KiB, as text.
    body: String,
    body_truncated: bool,
    /// `alerts` (each with its `dedup_key`, `result` and `incident`), `events` (ids), and
    /// `unmapped`: why the request could not be mapped, when it could not.
    #[schema(value_type = Object)]
    outcome: Value,
}

impl From<LoggedRequest> for RequestView {
    fn from(logged: LoggedRequest) -> Self {
        Self {
            id: logged.id,
            received_at: logged.received_at,
            method: logged.method,
            headers: logged.headers,
            body: logged.body,
            body_truncated: logged.body_truncated,
            outcome: logged.outcome,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/sources/{id}/requests", tag = "sources",
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn list_requests(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let requests = state.sources.requests(&id).await?;
    let items: Vec<RequestView> = requests.into_iter().map(RequestView::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

/// A request to try: the body as text or as JSON, headers, and a query string.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// A JSON value is sent as its JSON text; a string as it is.
    #[schema(value_type = Object)]
    body: Value,
    #[serde(default)]
    #[schema(value_type = Object)]
    headers: Map<String, Value>,
    #[serde(default)]
    query: String,
    #[serde(default = "post")]
    method: String,
}

fn post() -> String {
    "POST".into()
}

#[utoipa::path(post, path = "/api/v1/sources/{id}/preview", tag = "sources", request_body = PreviewInput,
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn preview_source(
    _auth: Authorized<Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<PreviewInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let text = match input.body {
        Value::String(text) => text,
        other => other.to_string(),
    };
    let request = SourceRequest {
        method: input.method,
        headers: input
            .headers
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    crate::templates::value_text(&value),
                )
            })
            .collect(),
        query: input.query,
        body: text.into_bytes().into(),
        url_token: None,
    };
    let preview = state.sources.preview(&id, request).await?;
    Ok(HttpResponse::Ok().json(json!({"items": preview.items, "unmapped": preview.unmapped})))
}
