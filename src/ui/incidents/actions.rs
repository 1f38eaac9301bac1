//! Changing an incident from its page: acknowledge, resolve, reopen, comment (one form whose
//! buttons name the intent, applied as the API's `PATCH` with `appendIntent`) and forward to a
//! webhook. Each post checks the session may change and carries its form token; a change the
//! domain refuses shows the page again with the reason and the message typed.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{Refused, detail};
use crate::api::AppState;
use crate::incidents::{self, Incident, IncidentError, Operations, PatchInput};
use crate::sessions::Session;
use crate::ui::error::UiError;
use crate::ui::pages;
use crate::ui::session::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/incidents/{id}/intent").route(web::post().to(append_intent)))
        .service(web::resource("/incidents/{id}/forward").route(web::post().to(forward)));
}

#[derive(Debug, Deserialize)]
pub struct IntentForm {
    #[serde(default)]
    csrf: String,
    /// `Acknowledged`, `Resolved`, `Unresolved` or `Commented`: the button pressed.
    #[serde(default)]
    intent: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
pub struct ForwardForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    webhook: String,
}

fn incident_path(number: i64) -> String {
    format!("/ui/incidents/{number}")
}

/// The answer to a change: back to the incident's page, or that page showing why it was
/// refused (`Invalid` and `DedupKeyTaken` are about the form; anything else is an error page).
async fn answer(
    state: &AppState,
    session: &Session,
    reference: &str,
    result: Result<Incident, IncidentError>,
    message: String,
) -> Result<HttpResponse, UiError> {
    let error = match result {
        Ok(incident) => return Ok(pages::redirect(&incident_path(incident.number))),
        Err(error) => error,
    };
    let status = match error {
        IncidentError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        IncidentError::DedupKeyTaken(_) => StatusCode::CONFLICT,
        _ => return Err(error.into()),
    };
    let refused = Refused {
        error: error.to_string(),
        message,
    };
    detail(state, session, reference, Some(refused), status).await
}

async fn append_intent(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<IntentForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let IntentForm {
        intent, message, ..
    } = form.into_inner();
    let operations: Operations = serde_json::from_value(serde_json::json!({
        "appendIntent": { "intent": intent, "message": message.clone() },
    }))
    .map_err(|error| UiError::internal(&error))?;
    let result = incidents::patch(
        &state.outbox,
        &id,
        PatchInput { operations },
        &session.caller.actor(),
    )
    .await;
    answer(&state, &session, &id, result, message).await
}

async fn forward(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<ForwardForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let result =
        incidents::forward(&state.outbox, &id, &form.webhook, &session.caller.actor()).await;
    answer(&state, &session, &id, result, String::new()).await
}
