//! `/ui/webhooks`: the list with each webhook's last day, a form to create or edit one, pause
//! and resume, delete after a confirmation. Saving goes through the API's domain functions
//! (`webhooks::create` and `replace`, with the network policy), so the form accepts and
//! refuses exactly what the API does, and a masked secret sent back keeps the stored one.

pub(super) mod form;
pub(super) mod preview;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::AppState;
use crate::overview::{self, WebhookHealth};
use crate::sessions::Session;
use crate::store::PageRequest;
use crate::ui::error::UiError;
use crate::ui::pages::{self, Chrome, FormTarget, Templates};
use crate::ui::session::{SignedIn, refuse_read};
use crate::webhooks::{self, Webhook, WebhookError};
use form::{FieldError, WebhookForm};

pub const TEMPLATES: Templates = &[
    (
        "webhooks",
        include_str!("../../../templates/ui/webhooks/list.hbs"),
    ),
    (
        "webhook_form",
        include_str!("../../../templates/ui/webhooks/form.hbs"),
    ),
    (
        "webhook_delete",
        include_str!("../../../templates/ui/webhooks/delete.hbs"),
    ),
    (
        "webhook_test",
        include_str!("../../../templates/ui/webhooks/test.hbs"),
    ),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/webhooks/new").route(web::get().to(new)))
    .service(web::resource("/webhooks/preview").route(web::post().to(preview::live)))
    .service(
        web::resource("/webhooks/{id}/edit")
            .route(web::get().to(edit))
            .route(web::post().to(update)),
    )
    .service(web::resource("/webhooks/{id}/active").route(web::post().to(set_active)))
    .service(web::resource("/webhooks/{id}/test").route(web::post().to(preview::test)))
    .service(
        web::resource("/webhooks/{id}/delete")
            .route(web::get().to(confirm_delete))
            .route(web::post().to(delete)),
    );
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
    /// For pause and resume: `true` or `false`.
    #[serde(default)]
    active: String,
}

#[derive(Debug, Serialize)]
struct WebhookRow {
    id: String,
    name: String,
    host: String,
    events: String,
    format: String,
    active: bool,
    last_status: Option<String>,
    success: Option<String>,
    health: &'static str,
}

pub fn chrome<'a>(title: &'a str, session: &'a Session) -> Chrome<'a> {
    Chrome::signed_in(title, "webhooks", session)
}

async fn list(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let page = webhooks::list(
        &state.store,
        PageRequest::new(None, query.into_inner().cursor),
    )
    .await?;
    let keys = page
        .items
        .iter()
        .map(|webhook| {
            (
                webhook.id.clone(),
                webhook.spec.name.clone(),
                webhook.spec.active,
            )
        })
        .collect();
    let health = overview::webhooks_health(&state.store, keys).await?;
    let rows: Vec<WebhookRow> = page
        .items
        .iter()
        .zip(health)
        .map(|(webhook, (health, last_status))| row(webhook, &health, last_status))
        .collect();
    let body = json!({ "webhooks": rows, "next_cursor": page.next_cursor });
    pages::ok("webhooks", &chrome("Webhooks", &session), body)
}

fn row(webhook: &Webhook, health: &WebhookHealth, last_status: Option<String>) -> WebhookRow {
    let (success, badge) = crate::ui::overview::success_badge(health.success_percent());
    let form = WebhookForm::of(webhook);
    WebhookRow {
        id: webhook.id.clone(),
        name: webhook.spec.name.clone(),
        host: url::Url::parse(&webhook.spec.endpoint.url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default(),
        events: webhook.spec.events.join(", "),
        format: form.format,
        active: webhook.spec.active,
        last_status,
        success,
        health: badge,
    }
}

/// The form page: `id` when editing, `error` beside its field, `preview` a rendered request.
pub async fn form_page(
    state: &AppState,
    session: &Session,
    id: Option<&str>,
    form: &WebhookForm,
    error: Option<FieldError>,
    preview: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, UiError> {
    let target = FormTarget::new("webhooks", "webhook", id);
    let page = json!({
        "id": id,
        "action": target.action,
        "form": form,
        "error": error.unwrap_or_default(),
        "preview": preview,
        "preview_choices": preview::choices(state, &form.preview_with).await?,
    });
    let body = pages::render("webhook_form", &chrome(&target.title, session), page)?;
    Ok(pages::html(&mut HttpResponse::build(status), body))
}

async fn new(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    refuse_read(&session)?;
    form_page(
        &state,
        &session,
        None,
        &WebhookForm::blank(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

async fn edit(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    refuse_read(&session)?;
    let webhook = webhooks::get(&state.store, &id).await?;
    form_page(
        &state,
        &session,
        Some(&id),
        &WebhookForm::of(&webhook),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

async fn create(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    form: web::Form<WebhookForm>,
) -> Result<HttpResponse, UiError> {
    save(session, state, None, form.into_inner()).await
}

async fn update(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<WebhookForm>,
) -> Result<HttpResponse, UiError> {
    save(session, state, Some(id.into_inner()), form.into_inner()).await
}

/// Saves the form (or, for the `Preview` button, shows its request); a refusal shows the form
/// again with the reason beside its field.
async fn save(
    session: Session,
    state: web::Data<AppState>,
    id: Option<String>,
    form: WebhookForm,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let id = id.as_deref();
    if form.action == "preview" {
        let (preview, error) = match preview::render(&state, id, &form).await? {
            Ok(text) => (Some(text), None),
            Err(error) => (None, Some(error)),
        };
        return form_page(&state, &session, id, &form, error, preview, StatusCode::OK).await;
    }
    let saved = match form.to_spec() {
        Ok(spec) => {
            let (store, policy, actor) =
                (&state.store, state.clients.policy(), session.caller.actor());
            match id {
                Some(id) => webhooks::replace(store, policy, id, spec, &actor).await,
                None => webhooks::create(store, policy, spec, &actor).await,
            }
        }
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(_) => Ok(pages::redirect("/ui/webhooks")),
        Err(WebhookError::Invalid(invalid)) => {
            form_page(
                &state,
                &session,
                id,
                &form,
                Some(FieldError::of(&invalid)),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(error @ WebhookError::NameTaken(_)) => {
            let error = FieldError {
                field: "name",
                message: error.to_string(),
            };
            form_page(
                &state,
                &session,
                id,
                &form,
                Some(error),
                None,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}

async fn set_active(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let mut webhook = webhooks::get(&state.store, &id).await?;
    webhook.spec.active = form.active == "true";
    let policy = state.clients.policy();
    let actor = session.caller.actor();
    webhooks::replace(&state.store, policy, &id, webhook.spec, &actor).await?;
    Ok(pages::redirect("/ui/webhooks"))
}

async fn confirm_delete(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let webhook = webhooks::get(&state.store, &id).await?;
    let page = json!({ "id": webhook.id, "name": webhook.spec.name });
    pages::ok("webhook_delete", &chrome("Delete webhook", &session), page)
}

async fn delete(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    webhooks::delete(&state.store, &id, &session.caller.actor()).await?;
    Ok(pages::redirect("/ui/webhooks"))
}
