//! `Authorization: Bearer <token>` on `/api/v1`: `401` without a valid token, `403` when its
//! scope is too small for the route.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::{ApiError, AppState};
use crate::tokens::{Caller, Scope};

/// What a route needs of the caller's token.
pub trait Access: 'static {
    /// The scope named in a `403`.
    const NEEDS: Scope;
    fn permits(scope: Scope) -> bool;
}

/// Changes: only `admin` tokens.
pub struct Admin;
/// Every `GET`: `admin` or `read` tokens.
pub struct Read;
/// Alert and event intake: `admin` or `ingest` tokens.
pub struct Ingest;

impl Access for Admin {
    const NEEDS: Scope = Scope::Admin;
    fn permits(scope: Scope) -> bool {
        scope == Scope::Admin
    }
}

impl Access for Read {
    const NEEDS: Scope = Scope::Read;
    fn permits(scope: Scope) -> bool {
        matches!(scope, Scope::Admin | Scope::Read)
    }
}

impl Access for Ingest {
    const NEEDS: Scope = Scope::Ingest;
    fn permits(scope: Scope) -> bool {
        matches!(scope, Scope::Admin | Scope::Ingest)
    }
}

/// A caller whose token permits `A`. Put it first among a handler's arguments so that
/// credentials are checked before the body is read.
pub struct Authorized<A: Access> {
    pub caller: Caller,
    access: PhantomData<A>,
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

impl<A: Access> FromRequest for Authorized<A> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&"application state missing"))?;
            let token = token.ok_or_else(|| {
                ApiError::unauthorized("send an API token as `Authorization: Bearer <token>`")
            })?;
            let caller = state.authenticator.authenticate(&token).await?;
            if !A::permits(caller.scope) {
                return Err(ApiError::forbidden(format!(
                    "this route needs a token with scope `{}`; this token has scope `{}`",
                    A::NEEDS,
                    caller.scope
                )));
            }
            Ok(Self {
                caller,
                access: PhantomData,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_token_required() {
        let with = |value: &str| {
            bearer_token(
                &TestRequest::default()
                    .insert_header((header::AUTHORIZATION, value))
                    .to_http_request(),
            )
        };
        assert_eq!(with("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearer "), None);
    }

    #[test]
    fn scopes_permit_what_spec_section_7_says() {
        assert!(Read::permits(Scope::Admin) && Read::permits(Scope::Read));
        assert!(!Read::permits(Scope::Ingest));
        assert!(Ingest::permits(Scope::Ingest) && !Ingest::permits(Scope::Read));
        assert!(Admin::permits(Scope::Admin) && !Admin::permits(Scope::Read));
    }
}
