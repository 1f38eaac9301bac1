//! Creating and editing a schedule: the form page, saving through `Schedules::create` and
//! `replace`, and the live answer the page's script asks for as the form changes (the next five
//! due times and the payload, from `schedules::draft`). The `Preview` button gives the same
//! answer without the script.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chrome;
use super::form::{Refusal, ScheduleForm};
use super::view::{DueTime, zone_names};
use crate::api::AppState;
use crate::schedules::{self, ScheduleError};
use crate::sessions::Session;
use crate::store::PageRequest;
use crate::timestamp::now_millis;
use crate::ui::error::UiError;
use crate::ui::pages::{self, FormTarget};
use crate::ui::session::{SignedIn, refuse_read};
use crate::webhooks;

/// Webhooks the form offers: one page, the most a page may hold.
const WEBHOOK_CHOICES: i64 = 500;

/// What the form shows of a draft: its next due times and payload, or why there are none.
#[derive(Debug, Default, Serialize)]
struct Shown {
    due: Option<Vec<DueTime>>,
    /// The rendered payload as pretty JSON; the page script reads it as `text`.
    text: Option<String>,
    error: Option<Refusal>,
}

/// The draft of `form` (editing `id`, if given) as the domain computes it.
async fn shown(state: &AppState, id: Option<&str>, form: &ScheduleForm) -> Result<Shown, UiError> {
    let spec = match form.to_spec() {
        Ok(spec) => spec,
        Err(invalid) => return Ok(refused(&invalid)),
    };
    let now = now_millis();
    let created_at = match id {
        Some(id) => state.schedules.get(id).await?.created_at,
        None => now,
    };
    let globals = state.globals.current();
    let draft = schedules::draft(&spec, id.unwrap_or_default(), created_at, now, &globals);
    Ok(match draft {
        Ok(draft) => Shown {
            due: Some(DueTime::all(&draft.due, &spec.timezone)),
            text: Some(serde_json::to_string_pretty(&draft.payload).unwrap_or_default()),
            error: None,
        },
        Err(invalid) => refused(&invalid),
    })
}

fn refused(invalid: &crate::validation::Invalid) -> Shown {
    Shown {
        error: Some(Refusal::of(invalid)),
        ..Shown::default()
    }
}

#[derive(Debug, Serialize)]
struct WebhookChoice {
    id: String,
    name: String,
    selected: bool,
}

/// The webhooks a schedule may fire to: those users made, not those the gateway keeps.
async fn webhook_choices(state: &AppState, chosen: &str) -> Result<Vec<WebhookChoice>, UiError> {
    let page = webhooks::list(&state.store, PageRequest::new(Some(WEBHOOK_CHOICES), None)).await?;
    Ok(page
        .items
        .into_iter()
        .filter(|webhook| !webhooks::is_managed(&webhook.id))
        .map(|webhook| WebhookChoice {
            selected: webhook.id == chosen,
            id: webhook.id,
            name: webhook.spec.name,
        })
        .collect())
}

/// The form page: `id` when editing, `refusal` beside its field (a save's), with the draft's
/// due times and payload.
async fn form_page(
    state: &AppState,
    session: &Session,
    id: Option<&str>,
    form: &ScheduleForm,
    refusal: Option<Refusal>,
    status: StatusCode,
) -> Result<HttpResponse, UiError> {
    let target = FormTarget::new("schedules", "schedule", id);
    let shown = shown(state, id, form).await?;
    let page = json!({
        "id": id,
        "action": target.action,
        "form": form,
        "error": refusal.or_else(|| shown.error.clone()).unwrap_or_default(),
        "shown": shown,
        "webhooks": webhook_choices(state, &form.webhook).await?,
        "zones": zone_names(),
    });
    let body = pages::render("schedule_form", &chrome(&target.title, session), page)?;
    Ok(pages::html(&mut HttpResponse::build(status), body))
}

pub async fn new(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    refuse_read(&session)?;
    let form = ScheduleForm::blank();
    form_page(&state, &session, None, &form, None, StatusCode::OK).await
}

pub async fn edit(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    refuse_read(&session)?;
    let form = ScheduleForm::of(&state.schedules.get(&id).await?);
    form_page(&state, &session, Some(&id), &form, None, StatusCode::OK).await
}

pub async fn create(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    form: web::Form<ScheduleForm>,
) -> Result<HttpResponse, UiError> {
    save(session, state, None, form.into_inner()).await
}

pub async fn update(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<ScheduleForm>,
) -> Result<HttpResponse, UiError> {
    save(session, state, Some(id.into_inner()), form.into_inner()).await
}

/// Saves the form (or, for the `Preview` button, shows it again with its draft); a refusal
/// shows the form again with the reason beside its field.
async fn save(
    session: Session,
    state: web::Data<AppState>,
    id: Option<String>,
    form: ScheduleForm,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let id = id.as_deref();
    if form.action == "preview" {
        return form_page(&state, &session, id, &form, None, StatusCode::OK).await;
    }
    let actor = session.caller.actor();
    let saved = match form.to_spec() {
        Ok(spec) => match id {
            Some(id) => state.schedules.replace(id, spec, &actor).await,
            None => state.schedules.create(spec, &actor).await,
        },
        Err(invalid) => Err(invalid.into()),
    };
    let (refusal, status) = match saved {
        Ok(schedule) => return Ok(pages::redirect(&format!("/ui/schedules/{}", schedule.id))),
        Err(ScheduleError::Invalid(invalid)) => {
            (Refusal::of(&invalid), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(error @ ScheduleError::NameTaken(_)) => {
            let refusal = Refusal {
                field: "name",
                message: error.to_string(),
            };
            (refusal, StatusCode::CONFLICT)
        }
        Err(error) => return Err(error.into()),
    };
    form_page(&state, &session, id, &form, Some(refusal), status).await
}

#[derive(Debug, Deserialize)]
pub struct IdQuery {
    id: Option<String>,
}

/// `POST /ui/schedules/preview`: the draft as JSON for the form page's script.
pub async fn live(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    form: web::Form<ScheduleForm>,
    query: web::Query<IdQuery>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let shown = shown(&state, query.id.as_deref(), &form).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(shown))
}
