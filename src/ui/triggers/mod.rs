//! `/ui/triggers`: the list with each trigger's last request, a form to create or edit one,
//! delete after a confirmation, the chat exchange log and the "try it" box. Saving goes
//! through the API's domain functions (`Triggers::create` and `replace`, with the network
//! policy), so the form accepts and refuses exactly what the API does, and a masked token or
//! secret sent back keeps the stored one.

mod chat_view;
mod exchanges;
mod form;
mod services;
mod try_it;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::AppState;
use crate::chat::routing::triggers::{Trigger, TriggerError};
use crate::sessions::Session;
use crate::store::PageRequest;
use crate::timestamp::to_rfc3339;
use crate::ui::error::UiError;
use crate::ui::pages::{self, Chrome, FormTarget, Templates};
use crate::ui::session::{SignedIn, refuse_read};
use crate::ui::webhooks::form::FieldError;
use form::TriggerForm;

pub const TEMPLATES: Templates = &[
    (
        "triggers",
        include_str!("../../../templates/ui/triggers/list.hbs"),
    ),
    (
        "trigger_form",
        include_str!("../../../templates/ui/triggers/form.hbs"),
    ),
    (
        "trigger_delete",
        include_str!("../../../templates/ui/triggers/delete.hbs"),
    ),
    (
        "trigger_exchanges",
        include_str!("../../../templates/ui/triggers/exchanges.hbs"),
    ),
    (
        "trigger_try",
        include_str!("../../../templates/ui/triggers/try.hbs"),
    ),
    (
        "chat_post",
        include_str!("../../../templates/ui/triggers/post.hbs"),
    ),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/triggers")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/triggers/new").route(web::get().to(new)))
    .service(
        web::resource("/triggers/{id}/edit")
            .route(web::get().to(edit))
            .route(web::post().to(update)),
    )
    .service(
        web::resource("/triggers/{id}/delete")
            .route(web::get().to(confirm_delete))
            .route(web::post().to(delete)),
    )
    .service(web::resource("/triggers/{id}/exchanges").route(web::get().to(exchanges::list)))
    .service(
        web::resource("/triggers/{id}/try")
            .route(web::get().to(try_it::show))
            .route(web::post().to(try_it::send)),
    );
}

impl From<TriggerError> for UiError {
    fn from(error: TriggerError) -> Self {
        match error {
            TriggerError::NotFound(_) => UiError::not_found(error.to_string()),
            TriggerError::Invalid(_) | TriggerError::NameTaken(_) => {
                UiError::bad_request(error.to_string())
            }
            TriggerError::Store(error) => error.into(),
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

#[derive(Debug, Serialize)]
struct TriggerRow {
    id: String,
    name: String,
    kind: &'static str,
    enabled: bool,
    words: String,
    channels: String,
    services: String,
    reply_mode: &'static str,
    last_at: Option<String>,
    last_outcome: Option<String>,
    last_badge: &'static str,
}

pub fn chrome<'a>(title: &'a str, session: &'a Session) -> Chrome<'a> {
    Chrome::signed_in(title, "triggers", session)
}

async fn list(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let triggers = state.gateway.triggers();
    let page = triggers
        .list(PageRequest::new(None, query.into_inner().cursor))
        .await?;
    let ids = page
        .items
        .iter()
        .map(|trigger| trigger.id.clone())
        .collect();
    let mut last: HashMap<String, (i64, String)> = triggers
        .last_requests(ids)
        .await?
        .into_iter()
        .map(|(id, at, outcome)| (id, (at, outcome)))
        .collect();
    let rows: Vec<TriggerRow> = page
        .items
        .iter()
        .map(|trigger| row(trigger, last.remove(&trigger.id)))
        .collect();
    let body = json!({ "triggers": rows, "next_cursor": page.next_cursor });
    pages::ok("triggers", &chrome("Triggers", &session), body)
}

fn row(trigger: &Trigger, last: Option<(i64, String)>) -> TriggerRow {
    let spec = &trigger.spec;
    let services = spec.services.iter().map(|service| {
        service
            .name
            .clone()
            .unwrap_or_else(|| service_host(&service.endpoint.url))
    });
    let last_badge = last
        .as_ref()
        .map_or("muted", |(_, outcome)| exchanges::badge(outcome));
    let (last_at, last_outcome) = last.map(|(at, outcome)| (to_rfc3339(at), outcome)).unzip();
    TriggerRow {
        id: trigger.id.clone(),
        name: spec.name.clone(),
        kind: spec.kind.as_str(),
        enabled: spec.enabled,
        words: spec.trigger_words.join(" "),
        channels: spec.channels.join(" "),
        services: services.collect::<Vec<_>>().join(", "),
        reply_mode: match spec.reply.mode {
            crate::chat::trigger::ReplyMode::Sync => "sync",
            crate::chat::trigger::ReplyMode::Async => "async",
        },
        last_at,
        last_outcome,
        last_badge,
    }
}

/// A service as the list names it: its host, or the built-in's URL.
fn service_host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

/// The form page: `id` when editing, `error` beside its field.
fn form_page(
    session: &Session,
    id: Option<&str>,
    form: &TriggerForm,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, UiError> {
    let target = FormTarget::new("triggers", "trigger", id);
    let page = json!({
        "id": id,
        "action": target.action,
        "form": form,
        "error": error.unwrap_or_default(),
    });
    let body = pages::render("trigger_form", &chrome(&target.title, session), page)?;
    Ok(pages::html(&mut HttpResponse::build(status), body))
}

async fn new(SignedIn(session): SignedIn) -> Result<HttpResponse, UiError> {
    refuse_read(&session)?;
    form_page(&session, None, &TriggerForm::blank(), None, StatusCode::OK)
}

async fn edit(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    refuse_read(&session)?;
    let trigger = state.gateway.triggers().get(&id).await?;
    let form = TriggerForm::of(&trigger);
    form_page(&session, Some(&id), &form, None, StatusCode::OK)
}

async fn create(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, UiError> {
    save(session, state, None, TriggerForm::parse(&body)?).await
}

async fn update(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, UiError> {
    let form = TriggerForm::parse(&body)?;
    save(session, state, Some(id.into_inner()), form).await
}

/// Saves the form; a refusal shows the form again with the reason beside its field.
async fn save(
    session: Session,
    state: web::Data<AppState>,
    id: Option<String>,
    mut form: TriggerForm,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let (triggers, policy, actor) = (
        state.gateway.triggers(),
        state.clients.policy(),
        session.caller.actor(),
    );
    let id = id.as_deref();
    let stored = match id {
        Some(id) => Some(triggers.get(id).await?),
        None => None,
    };
    let saved = match form.to_spec(stored.as_ref().map(|trigger| &trigger.spec)) {
        Ok(spec) => match id {
            Some(id) => triggers.replace(policy, id, spec, &actor).await,
            None => triggers.create(policy, spec, &actor).await,
        },
        Err(invalid) => Err(invalid.into()),
    };
    let (error, status) = match saved {
        Ok(_) => return Ok(pages::redirect("/ui/triggers")),
        Err(TriggerError::Invalid(invalid)) => {
            (form.refusal(&invalid), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(error @ TriggerError::NameTaken(_)) => {
            let message = error.to_string();
            let error = FieldError {
                field: "name",
                message,
            };
            (Some(error), StatusCode::CONFLICT)
        }
        Err(error) => return Err(error.into()),
    };
    form_page(&session, id, &form, error, status)
}

async fn confirm_delete(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let trigger = state.gateway.triggers().get(&id).await?;
    let page = json!({ "id": trigger.id, "name": trigger.spec.name });
    pages::ok("trigger_delete", &chrome("Delete trigger", &session), page)
}

async fn delete(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let actor = session.caller.actor();
    state.gateway.triggers().delete(&id, &actor).await?;
    Ok(pages::redirect("/ui/triggers"))
}
