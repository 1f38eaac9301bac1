//! `/ui/sign-in` and `/ui/sign-out`.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::error::UiError;
use super::pages::{self, Chrome};
use super::session::{self, SESSION_COOKIE, SIGN_IN_COOKIE, SignedIn};
use crate::api::AppState;
use crate::sessions::{self, SessionError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sign-in")
            .route(web::get().to(show))
            .route(web::post().to(sign_in)),
    )
    .service(web::resource("/sign-out").route(web::post().to(sign_out)));
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Serialize)]
struct SignInPage<'a> {
    form_token: &'a str,
    error: Option<String>,
}

/// Whether cookies must say `Secure`: the console is served over HTTPS.
fn secure(state: &AppState) -> bool {
    state
        .config
        .public_url
        .as_ref()
        .is_some_and(|url| url.scheme() == "https")
}

/// The sign-in form, with a fresh anti-forgery token in it and in a cookie.
fn form(
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, UiError> {
    let form_token = sessions::new_secret()?;
    let chrome = Chrome {
        title: "Sign in",
        nav: "",
        session: None,
    };
    let body = pages::render(
        "sign_in",
        &chrome,
        SignInPage {
            form_token: &form_token,
            error,
        },
    )?;
    let mut response = HttpResponse::build(status);
    response.append_header((
        header::SET_COOKIE,
        session::set_cookie(SIGN_IN_COOKIE, &form_token, secure(state)),
    ));
    Ok(pages::html(&mut response, body))
}

async fn show(state: web::Data<AppState>) -> Result<HttpResponse, UiError> {
    form(&state, StatusCode::OK, None)
}

/// Behind a reverse proxy this is the proxy's address: all clients then share one budget.
fn client_address(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |address| address.ip())
}

async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form_data: web::Form<SignInForm>,
) -> Result<HttpResponse, UiError> {
    state.sessions.admit_attempt(client_address(&req))?;
    let expected = session::cookie(&req, SIGN_IN_COOKIE).unwrap_or_default();
    sessions::form_tokens_match(&expected, &form_data.csrf)?;
    let secret = match state.sessions.sign_in(&form_data.token).await {
        Ok(secret) => secret,
        Err(error @ (SessionError::InvalidToken | SessionError::ScopeCannotSignIn(_))) => {
            return form(&state, StatusCode::UNAUTHORIZED, Some(error.to_string()));
        }
        Err(error) => return Err(error.into()),
    };
    let secure = secure(&state);
    let mut response = pages::redirect(pages::HOME_PATH);
    session::append_cookie(
        &mut response,
        session::set_cookie(SESSION_COOKIE, &secret, secure),
    )?;
    session::append_cookie(&mut response, session::clear_cookie(SIGN_IN_COOKIE, secure))?;
    Ok(response)
}

async fn sign_out(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    form_data: web::Form<SignOutForm>,
) -> Result<HttpResponse, UiError> {
    session.check_form(&form_data.csrf)?;
    state.sessions.sign_out(&session).await?;
    let mut response = pages::redirect(pages::SIGN_IN_PATH);
    session::append_cookie(
        &mut response,
        session::clear_cookie(SESSION_COOKIE, secure(&state)),
    )?;
    Ok(response)
}
