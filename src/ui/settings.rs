//! `/ui/settings`: the `chat.*` switches (SPEC §7) as a form. An admin session changes them
//! through the API's `ChatSettings::update` (stored, audited, picked up by every instance
//! within a second); a read session sees the values only.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::UiError;
use super::pages::{self, Chrome, Templates};
use super::session::SignedIn;
use crate::api::AppState;
use crate::chat::settings::{ChatSettingsDocument, SettingsDocument, SettingsError};
use crate::sessions::Session;
use crate::validation::Invalid;

pub const TEMPLATES: Templates = &[("settings", include_str!("../../templates/ui/settings.hbs"))];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/settings")
            .route(web::get().to(show))
            .route(web::post().to(save)),
    );
}

#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    saved: Option<String>,
}

/// The form as the browser sends it: an unchecked box is absent, which turns its switch off.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    csrf: String,
    enabled: Option<String>,
    allow_username_override: Option<String>,
    allow_icon_override: Option<String>,
    max_post_chars: String,
}

impl SettingsForm {
    /// Every switch, as a whole: the form shows them all.
    fn to_document(&self) -> Result<SettingsDocument, Invalid> {
        let max_post_chars = self.max_post_chars.trim().parse().map_err(|_| {
            Invalid::new(
                "chat.max_post_chars",
                "must be a whole number of characters",
            )
        })?;
        Ok(SettingsDocument {
            chat: ChatSettingsDocument {
                enabled: Some(self.enabled.is_some()),
                allow_username_override: Some(self.allow_username_override.is_some()),
                allow_icon_override: Some(self.allow_icon_override.is_some()),
                max_post_chars: Some(max_post_chars),
            },
        })
    }

    /// The form's values as the page shows them, when they are refused.
    fn values(&self) -> Value {
        json!({
            "enabled": self.enabled.is_some(),
            "allow_username_override": self.allow_username_override.is_some(),
            "allow_icon_override": self.allow_icon_override.is_some(),
            "max_post_chars": self.max_post_chars,
        })
    }
}

/// The page with `chat` (the stored values, or a refused form's), `error` under its field.
fn page(
    session: &Session,
    chat: Value,
    error: Option<&Invalid>,
    saved: bool,
    status: StatusCode,
) -> Result<HttpResponse, UiError> {
    let body = json!({
        "chat": chat,
        "error": error.map(ToString::to_string),
        "saved": saved,
    });
    let chrome = Chrome::signed_in("Settings", "settings", session);
    let html = pages::render("settings", &chrome, body)?;
    Ok(pages::html(&mut HttpResponse::build(status), html))
}

async fn show(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, UiError> {
    let chat = state.gateway.settings().document().chat;
    let values = json!({
        "enabled": chat.enabled,
        "allow_username_override": chat.allow_username_override,
        "allow_icon_override": chat.allow_icon_override,
        "max_post_chars": chat.max_post_chars,
    });
    page(
        &session,
        values,
        None,
        query.saved.is_some(),
        StatusCode::OK,
    )
}

async fn save(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let saved = match form.to_document() {
        Ok(document) => {
            let actor = session.caller.actor();
            state.gateway.settings().update(document, &actor).await
        }
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(_) => Ok(pages::redirect("/ui/settings?saved=1")),
        Err(SettingsError::Invalid(invalid)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            page(&session, form.values(), Some(&invalid), false, status)
        }
        Err(SettingsError::Store(error)) => Err(error.into()),
    }
}
