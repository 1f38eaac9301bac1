//! `/ui/schedules`: the list with each schedule's next due time and last run, a form to create
//! or edit one (its next five due times and payload follow the typing), a schedule's page with
//! its latest runs and their deliveries, run now, delete after a confirmation. Every change goes
//! through the API's domain functions (`Schedules`), audited as the session's token.

mod edit;
mod form;
mod view;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::api::AppState;
use crate::schedules::{Schedule, ScheduleError};
use crate::sessions::Session;
use crate::store::PageRequest;
use crate::ui::error::UiError;
use crate::ui::pages::{self, Chrome, Templates};
use crate::ui::session::SignedIn;
use view::{DueTime, RunView, ScheduleRow};

pub const TEMPLATES: Templates = &[
    (
        "schedules",
        include_str!("../../../templates/ui/schedules/list.hbs"),
    ),
    (
        "schedule",
        include_str!("../../../templates/ui/schedules/detail.hbs"),
    ),
    (
        "schedule_form",
        include_str!("../../../templates/ui/schedules/form.hbs"),
    ),
    (
        "schedule_delete",
        include_str!("../../../templates/ui/schedules/delete.hbs"),
    ),
];

/// Runs a schedule's page shows: the latest, newest first.
const RUNS_SHOWN: i64 = 20;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/schedules")
            .route(web::get().to(list))
            .route(web::post().to(edit::create)),
    )
    .service(web::resource("/schedules/new").route(web::get().to(edit::new)))
    .service(web::resource("/schedules/preview").route(web::post().to(edit::live)))
    .service(web::resource("/schedules/{id}").route(web::get().to(show)))
    .service(
        web::resource("/schedules/{id}/edit")
            .route(web::get().to(edit::edit))
            .route(web::post().to(edit::update)),
    )
    .service(web::resource("/schedules/{id}/run").route(web::post().to(run)))
    .service(
        web::resource("/schedules/{id}/delete")
            .route(web::get().to(confirm_delete))
            .route(web::post().to(delete)),
    );
}

impl From<ScheduleError> for UiError {
    fn from(error: ScheduleError) -> Self {
        let message = error.to_string();
        let (status, title) = match error {
            ScheduleError::Store(error) => return error.into(),
            ScheduleError::NotFound(_) => return UiError::not_found(message),
            ScheduleError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid schedule"),
            ScheduleError::NameTaken(_) => (StatusCode::CONFLICT, "Name taken"),
        };
        UiError::Page {
            status,
            title,
            message,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn chrome<'a>(title: &'a str, session: &'a Session) -> Chrome<'a> {
    Chrome::signed_in(title, "schedules", session)
}

/// The latest run of `id`, if it ran.
async fn last_run(state: &AppState, id: &str) -> Result<Option<crate::schedules::Run>, UiError> {
    let runs = state
        .schedules
        .runs(id, PageRequest::new(Some(1), None))
        .await?;
    Ok(runs.items.into_iter().next())
}

async fn list(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let page = state
        .schedules
        .list(PageRequest::new(None, query.into_inner().cursor))
        .await?;
    let mut rows = Vec::with_capacity(page.items.len());
    for schedule in &page.items {
        rows.push(ScheduleRow::of(
            schedule,
            last_run(&state, &schedule.id).await?,
        ));
    }
    let body = json!({ "schedules": rows, "next_cursor": page.next_cursor });
    pages::ok("schedules", &chrome("Schedules", &session), body)
}

async fn show(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let schedule = state.schedules.get(&id).await?;
    let runs = state
        .schedules
        .runs(&id, PageRequest::new(Some(RUNS_SHOWN), None))
        .await?;
    let zone = schedule.spec.timezone.clone();
    let runs: Vec<RunView> = runs
        .items
        .into_iter()
        .map(|run| RunView::of(run, &zone))
        .collect();
    let page = json!({
        "row": ScheduleRow::of(&schedule, None),
        "description": schedule.spec.description,
        "webhook": webhook_name(&state, &schedule).await?,
        "due": DueTime::all(&schedule.upcoming().unwrap_or_default(), &zone),
        "payload": serde_json::to_string_pretty(&schedule.spec.payload).unwrap_or_default(),
        "runs": runs,
    });
    let title = schedule.spec.name.as_str();
    pages::ok("schedule", &chrome(title, &session), page)
}

/// The name of the schedule's webhook, with its id.
async fn webhook_name(state: &AppState, schedule: &Schedule) -> Result<serde_json::Value, UiError> {
    let id = &schedule.spec.webhook;
    let name = match crate::webhooks::get(&state.store, id).await {
        Ok(webhook) => webhook.spec.name,
        Err(crate::webhooks::WebhookError::NotFound(_)) => String::new(),
        Err(error) => return Err(error.into()),
    };
    Ok(json!({ "id": id, "name": name }))
}

/// `POST /ui/schedules/{id}/run`: fires now (outside windows too), then shows the schedule's
/// page with the new run at the top.
async fn run(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    state.schedules.run(&id, &session.caller.actor()).await?;
    Ok(pages::redirect(&format!("/ui/schedules/{id}")))
}

async fn confirm_delete(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let schedule = state.schedules.get(&id).await?;
    let page = json!({ "id": schedule.id, "name": schedule.spec.name });
    pages::ok(
        "schedule_delete",
        &chrome("Delete schedule", &session),
        page,
    )
}

async fn delete(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    state.schedules.delete(&id, &session.caller.actor()).await?;
    Ok(pages::redirect("/ui/schedules"))
}
