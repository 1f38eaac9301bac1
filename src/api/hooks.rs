//! `/hooks/…`: where Mattermost and Slack send outgoing webhooks and slash commands, and where
//! services post late replies. Authentication failures are a bare `401` (SPEC §3.2).

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::body::{has_media_type, read_limited};
use super::error::chat_unavailable;
use super::{ApiError, AppState};
use crate::chat::inbound::auth::SlackSignature;
use crate::chat::inbound::message::Encoding;
use crate::chat::trigger::Kind;
use crate::chat::{ChatAnswer, ChatError, Inbound};
use crate::sources::{SourceError, SourceRequest};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/hooks/outgoing").route(web::post().to(outgoing)))
        .service(super::resource("/hooks/outgoing/{trigger}").route(web::post().to(outgoing)))
        .service(
            super::resource("/hooks/slash")
                .route(web::get().to(slash))
                .route(web::post().to(slash)),
        )
        .service(
            super::resource("/hooks/slash/{trigger}")
                .route(web::get().to(slash))
                .route(web::post().to(slash)),
        )
        .service(super::resource("/hooks/reply/{id}").route(web::post().to(reply)))
        .service(intake_resource("/hooks/in/{source}"))
        .service(intake_resource("/hooks/in/{source}/{token}"));
}

/// Senders post, put or patch their documents; Tactical RMM's `GET` actions send fields in
/// the query string.
fn intake_resource(path: &str) -> actix_web::Resource {
    super::resource(path)
        .route(web::post().to(intake))
        .route(web::put().to(intake))
        .route(web::patch().to(intake))
        .route(web::get().to(intake))
}

/// `/hooks/in/{source}[/{token}]`: a sender's request, unchanged (SPEC §4.5). Failed
/// authentication is a bare `401`; the body's content never makes a `4xx`.
async fn intake(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_limited(&req, &mut payload.into_inner()).await?;
    let request = SourceRequest {
        method: req.method().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        query: req.query_string().to_owned(),
        body,
        url_token: req.match_info().get("token").map(str::to_owned),
    };
    let source = req.match_info().get("source").unwrap_or_default();
    match state.sources.receive(source, request).await {
        Ok(outcome) => Ok(HttpResponse::Ok().json(outcome)),
        Err(SourceError::Unauthorized) => Ok(HttpResponse::Unauthorized().finish()),
        Err(error) => Err(error.into()),
    }
}

async fn outgoing(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receive(req, state, payload, Kind::Outgoing).await
}

async fn slash(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receive(req, state, payload, Kind::Slash).await
}

/// The body and how it is encoded: a `GET`'s query string, or a form or JSON body.
async fn read_chat_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Encoding, web::Bytes), ApiError> {
    if req.method() == Method::GET {
        let query = req.query_string().as_bytes();
        return Ok((Encoding::Query, web::Bytes::copy_from_slice(query)));
    }
    let encoding = if has_media_type(req, "application/x-www-form-urlencoded") {
        Encoding::Form
    } else if has_media_type(req, "application/json") {
        Encoding::Json
    } else {
        return Err(ApiError::unsupported_media_type(
            "send the body as application/x-www-form-urlencoded or application/json",
        ));
    };
    Ok((
        encoding,
        read_limited(req, &mut payload.into_inner()).await?,
    ))
}

fn header_text(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    kind: Kind,
) -> Result<HttpResponse, ApiError> {
    state.gateway.check_enabled(kind)?;
    let read = read_chat_body(&req, payload).await;
    let (encoding, body) = read.inspect_err(|error| {
        state.gateway.unreadable(kind, error.to_string());
    })?;
    let slack = match (
        header_text(&req, "x-slack-signature"),
        header_text(&req, "x-slack-request-timestamp"),
    ) {
        (Some(signature), Some(timestamp)) => Some(SlackSignature {
            timestamp,
            signature,
        }),
        _ => None,
    };
    let inbound = Inbound {
        kind,
        pinned: req.match_info().get("trigger").map(str::to_owned),
        encoding,
        body,
        authorization: header_text(&req, header::AUTHORIZATION.as_str()),
        slack,
    };
    match state.gateway.receive(inbound).await {
        Ok(ChatAnswer::Empty) => Ok(HttpResponse::Ok().finish()),
        Ok(ChatAnswer::Post(post)) => Ok(HttpResponse::Ok().json(post)),
        Err(ChatError::Unauthorized) => Ok(HttpResponse::Unauthorized().finish()),
        Err(error) if error.is_unavailable() => Ok(chat_unavailable(kind, &error)),
        Err(error) => Err(error.into()),
    }
}

async fn reply(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_limited(&req, &mut payload.into_inner()).await?;
    let content_type = header_text(&req, header::CONTENT_TYPE.as_str());
    state
        .gateway
        .reply_to_link(&id, content_type.as_deref(), &body)
        .await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ok"))
}
