//! The session cookie and the extractor that turns it into a signed-in [`Session`].
//!
//! Cookies are written and read by hand: two cookies with fixed attributes do not earn
//! actix-web's `cookies` feature and the `cookie` and `time` crates it builds.

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;

use super::error::UiError;
use crate::api::AppState;
use crate::sessions::Session;

/// Names the session; its value is the session id, stored only hashed.
pub const SESSION_COOKIE: &str = "sy_session";
/// The sign-in form's own anti-forgery token, compared with the form's hidden field (there is
/// no session yet to keep it in).
pub const SIGN_IN_COOKIE: &str = "sy_signin";

/// A request from a signed-in session. Without one, the handler is not called and the
/// browser goes to the sign-in page.
pub struct SignedIn(pub Session);

impl FromRequest for SignedIn {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, UiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let secret = cookie(req, SESSION_COOKIE);
        Box::pin(async move {
            let state = state.ok_or_else(|| UiError::internal(&"application state missing"))?;
            let secret = secret.ok_or(UiError::SignedOut)?;
            Ok(SignedIn(state.sessions.resolve(&secret).await?))
        })
    }
}

/// Refuses a read session a page that is a control (a form): it is refused the form's posts.
pub fn refuse_read(session: &Session) -> Result<(), UiError> {
    if session.can_change() {
        Ok(())
    } else {
        Err(UiError::forbidden("This session may only look."))
    }
}

/// The value of the cookie `name`, if the request carries a non-empty one.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value: readable only by the server, sent only to `/ui` and only with
/// requests from this site, and only over HTTPS when the console is served over it.
pub fn set_cookie(name: &str, value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict{secure}")
}

/// Adds a `Set-Cookie` header to `response`.
pub fn append_cookie(response: &mut HttpResponse, cookie: String) -> Result<(), UiError> {
    let value = HeaderValue::try_from(cookie).map_err(|error| UiError::internal(&error))?;
    response.headers_mut().append(header::SET_COOKIE, value);
    Ok(())
}

/// A `Set-Cookie` value that makes the browser forget the cookie.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    format!("{}; Max-Age=0", set_cookie(name, "", secure))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "other=1; sy_session=abc; sy_session_x=2"))
            .to_http_request();
        assert_eq!(cookie(&req, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&req, SIGN_IN_COOKIE), None);
    }

    #[test]
    fn cookies_are_strict_and_secure_behind_tls() {
        let plain = set_cookie(SESSION_COOKIE, "v", false);
        assert_eq!(plain, "sy_session=v; Path=/ui; HttpOnly; SameSite=Strict");
        assert!(set_cookie(SESSION_COOKIE, "v", true).ends_with("; Secure"));
        assert!(clear_cookie(SESSION_COOKIE, false).ends_with("Max-Age=0"));
    }
}
