//! `/ui/tokens`: list (masked), create (the secret shown once), revoke (after a confirmation).
//! Changes go through the same domain functions as the API, so they are audited alike, with
//! the session's token as the actor.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::error::UiError;
use super::pages::{self, Chrome, Templates};
use super::session::SignedIn;
use crate::api::AppState;
use crate::sessions::Session;
use crate::store::PageRequest;
use crate::timestamp::to_rfc3339;
use crate::tokens::{self, ApiToken, Scope, TokenError};

pub const TEMPLATES: Templates = &[
    ("tokens", include_str!("../../templates/ui/tokens/list.hbs")),
    (
        "token_created",
        include_str!("../../templates/ui/tokens/created.hbs"),
    ),
    (
        "token_revoke",
        include_str!("../../templates/ui/tokens/revoke.hbs"),
    ),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tokens")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/tokens/{id}/revoke")
            .route(web::get().to(confirm_revoke))
            .route(web::post().to(revoke)),
    );
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NewTokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Serialize)]
struct TokenRow {
    id: String,
    name: String,
    scope: Scope,
    masked: String,
    created_by: String,
    created_at: String,
    last_used_at: Option<String>,
}

impl From<ApiToken> for TokenRow {
    fn from(token: ApiToken) -> Self {
        Self {
            masked: format!("…{}", token.hint),
            id: token.id,
            name: token.name,
            scope: token.scope,
            created_by: token.created_by,
            created_at: to_rfc3339(token.created_at),
            last_used_at: token.last_used_at.map(to_rfc3339),
        }
    }
}

#[derive(Debug, Default, Serialize)]
struct ListPage {
    tokens: Vec<TokenRow>,
    next_cursor: Option<String>,
    /// What the create form was given, shown again with `error` when it was refused.
    name: String,
    scope: String,
    error: Option<String>,
}

fn chrome<'a>(title: &'a str, session: &'a Session) -> Chrome<'a> {
    Chrome::signed_in(title, "tokens", session)
}

async fn list_page(state: &AppState, cursor: Option<String>) -> Result<ListPage, UiError> {
    let page = tokens::list(&state.store, PageRequest::new(None, cursor)).await?;
    Ok(ListPage {
        tokens: page.items.into_iter().map(TokenRow::from).collect(),
        next_cursor: page.next_cursor,
        scope: Scope::Read.as_str().to_owned(),
        ..ListPage::default()
    })
}

async fn list(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let page = list_page(&state, query.into_inner().cursor).await?;
    pages::ok("tokens", &chrome("Tokens", &session), page)
}

async fn create(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    form: web::Form<NewTokenForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let NewTokenForm { name, scope, .. } = form.into_inner();
    let created = match scope.parse::<Scope>() {
        Ok(parsed) => tokens::create(&state.store, &name, parsed, &session.caller.actor()).await,
        Err(_) => Err(TokenError::InvalidName(
            "choose a scope: admin, read or ingest",
        )),
    };
    let issued = match created {
        Ok(issued) => issued,
        Err(error @ (TokenError::InvalidName(_) | TokenError::NameTaken(_))) => {
            let status = match error {
                TokenError::NameTaken(_) => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let page = ListPage {
                error: Some(error.to_string()),
                name,
                scope,
                ..list_page(&state, None).await?
            };
            let body = pages::render("tokens", &chrome("Tokens", &session), page)?;
            return Ok(pages::html(&mut HttpResponse::build(status), body));
        }
        Err(error) => return Err(error.into()),
    };
    let page = serde_json::json!({
        "token": TokenRow::from(issued.token),
        "secret": issued.secret,
    });
    pages::ok("token_created", &chrome("Token created", &session), page)
}

async fn confirm_revoke(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let token = tokens::get(&state.store, &id).await?;
    let page = serde_json::json!({ "token": TokenRow::from(token) });
    pages::ok("token_revoke", &chrome("Revoke token", &session), page)
}

async fn revoke(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<RevokeForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    tokens::revoke(&state.store, &id, &session.caller.actor()).await?;
    Ok(pages::redirect("/ui/tokens"))
}
