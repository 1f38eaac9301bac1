//! The console's stylesheet and script, embedded in the binary and served under a name that
//! carries a hash of their content, so browsers may keep them for a year: a changed file gets
//! a new name.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

use super::error::UiError;

const CSS: &str = include_str!("../../templates/ui/app.css");
const JS: &str = include_str!("../../templates/ui/app.js");
const HASH_CHARS: usize = 12;

struct Asset {
    path: String,
    content_type: &'static str,
    body: &'static str,
}

fn asset(stem: &str, extension: &str, content_type: &'static str, body: &'static str) -> Asset {
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    Asset {
        path: format!("/ui/assets/{stem}.{}.{extension}", &hash[..HASH_CHARS]),
        content_type,
        body,
    }
}

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        asset("app", "css", "text/css; charset=utf-8", CSS),
        asset("app", "js", "text/javascript; charset=utf-8", JS),
    ]
});

pub fn css_path() -> &'static str {
    &ASSETS[0].path
}

pub fn js_path() -> &'static str {
    &ASSETS[1].path
}

/// `GET /ui/assets/{file}`: only the current names; an old hash is a `404`.
pub async fn serve(file: web::Path<String>) -> Result<HttpResponse, UiError> {
    let path = format!("/ui/assets/{file}");
    let asset = ASSETS
        .iter()
        .find(|asset| asset.path == path)
        .ok_or_else(|| UiError::not_found("no such file"))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(asset.body))
}
