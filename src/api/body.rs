//! Request bodies: the size limit (`413`), the content type (`415`) and JSON parsing that tells
//! malformed input (`400`) from well-formed but invalid input (`422`, naming the field).

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::ApiError;

/// `limits.max_body_bytes`, registered as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Whether the request's media type is `essence` (parameters such as `charset` allowed).
pub fn has_media_type(req: &HttpRequest, essence: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(essence))
}

/// Reads the whole body, refusing it as soon as it is known to exceed the limit: from
/// `Content-Length` before reading, or while streaming a chunked body.
pub async fn read_limited(req: &HttpRequest, payload: &mut Payload) -> Result<Bytes, ApiError> {
    let limit = req
        .app_data::<BodyLimit>()
        .map_or(crate::config::LimitsConfig::default().max_body_bytes, |l| {
            l.0
        });
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::malformed(format!("cannot read the request body: {error}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses JSON; a value of the wrong shape is a `422` naming the field's path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data => match missing_field(&inner) {
                Some(missing) => {
                    ApiError::validation(&child_path(&path, missing), "a required field is missing")
                }
                None if path == "." => ApiError::validation("body", without_position(&inner)),
                None => ApiError::validation(&path, without_position(&inner)),
            },
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::malformed(format!("the body is not valid JSON: {inner}"))
            }
        }
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::malformed(format!("the body is not valid JSON: {error}")))?;
    Ok(value)
}

/// The field serde found missing. serde names it only in its message (``missing field `url` ``),
/// and the path is that of the object lacking it.
fn missing_field(error: &serde_json::Error) -> Option<String> {
    let text = error.to_string();
    let name = text.strip_prefix("missing field `")?.split('`').next()?;
    Some(name.to_owned())
}

/// `parent.name`, or `name` at the top (serde_path_to_error writes the top as `.`).
fn child_path(parent: &str, name: String) -> String {
    if parent == "." {
        name
    } else {
        format!("{parent}.{name}")
    }
}

/// serde_json appends "at line L column C"; for a value of the wrong shape the field path says
/// more than the position does.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

/// A JSON request body: `application/json`, within the size limit, of the expected shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if !has_media_type(&req, "application/json") {
                return Err(ApiError::unsupported_media_type(
                    "send the body as Content-Type: application/json",
                ));
            }
            let bytes = read_limited(&req, &mut payload).await?;
            parse_json(&bytes).map(ApiJson)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn status_of(body: &[u8]) -> StatusCode {
        parse_json::<Sample>(body).unwrap_err().status()
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_422() {
        assert_eq!(status_of(b"{\"name\": "), StatusCode::BAD_REQUEST);
        assert_eq!(
            status_of(b"{\"name\": \"a\"} trailing"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status_of(b"{\"name\": \"\xff\"}"), StatusCode::BAD_REQUEST);
        assert_eq!(
            status_of(b"{\"name\": 5}"),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[test]
    fn a_missing_field_is_named_with_its_path() {
        let top = parse_json::<Sample>(br#"{"inner": {"count": 1}}"#).unwrap_err();
        assert_eq!(top.field(), Some("name"));
        assert_eq!(
            top.to_string(),
            "422 validation_failed: name: a required field is missing"
        );
        let nested = parse_json::<Sample>(br#"{"name": "a", "inner": {}}"#).unwrap_err();
        assert_eq!(nested.field(), Some("inner.count"));
        let not_an_object = parse_json::<Sample>(b"5").unwrap_err();
        assert_eq!(not_an_object.field(), Some("body"));
    }

    #[test]
    fn shape_errors_name_the_nested_field() {
        let error = parse_json::<Sample>(br#"{"name": "a", "inner": {"count": "x"}}"#).unwrap_err();
        assert_eq!(error.field(), Some("inner.count"));
        let unknown = parse_json::<Sample>(br#"{"name": "a", "colour": 1}"#).unwrap_err();
        assert!(unknown.to_string().contains("colour"), "{unknown}");
    }
}
