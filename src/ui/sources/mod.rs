//! `/ui/sources`: the list with each source's last day, a form per kind to create one (then
//! the URL to paste into the sender, shown once, with that sender's setup steps), edit, rotate
//! the URL token and delete after a confirmation, and each source's page (`show`). Changes go
//! through the API's domain functions (`Sources::create`, `replace`, `rotate`, `delete`), so
//! the form accepts and refuses what the API does and the audit log names the session's token.

mod form;
mod show;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::AppState;
use crate::ids::id_bound_at;
use crate::sessions::Session;
use crate::sources::{Issued, Source, SourceAuth, SourceError};
use crate::store::sources::KEPT_REQUESTS;
use crate::store::{self, PageRequest};
use crate::timestamp::{now_millis, to_rfc3339};
use crate::ui::error::UiError;
use crate::ui::pages::{self, Chrome, FormTarget, Templates};
use crate::ui::session::{SignedIn, refuse_read};
use form::{FieldError, KINDS, SourceForm, kind_label};

pub const TEMPLATES: Templates = &[
    (
        "sources",
        include_str!("../../../templates/ui/sources/list.hbs"),
    ),
    (
        "source_kinds",
        include_str!("../../../templates/ui/sources/kinds.hbs"),
    ),
    (
        "source_form",
        include_str!("../../../templates/ui/sources/form.hbs"),
    ),
    (
        "source_created",
        include_str!("../../../templates/ui/sources/created.hbs"),
    ),
    (
        "source_steps",
        include_str!("../../../templates/ui/sources/steps.hbs"),
    ),
    (
        "source",
        include_str!("../../../templates/ui/sources/show.hbs"),
    ),
    (
        "source_confirm",
        include_str!("../../../templates/ui/sources/confirm.hbs"),
    ),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sources")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/sources/new").route(web::get().to(new)))
    .service(web::resource("/sources/{id}").route(web::get().to(show::page)))
    .service(web::resource("/sources/{id}/preview").route(web::post().to(show::preview)))
    .service(
        web::resource("/sources/{id}/edit")
            .route(web::get().to(edit))
            .route(web::post().to(update)),
    )
    .service(
        web::resource("/sources/{id}/{action:rotate|delete}")
            .route(web::get().to(confirm))
            .route(web::post().to(act)),
    );
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl From<SourceError> for UiError {
    fn from(error: SourceError) -> Self {
        match error {
            SourceError::NotFound(_) => UiError::not_found(error.to_string()),
            SourceError::Invalid(_) | SourceError::NameTaken(_) | SourceError::Unauthorized => {
                UiError::bad_request(error.to_string())
            }
            SourceError::Store(error) => error.into(),
            SourceError::Random(error) => UiError::internal(&error),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct KindQuery {
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Serialize)]
struct SourceRow {
    id: String,
    name: String,
    kind: &'static str,
    enabled: bool,
    last_received: Option<String>,
    /// `100+` when the whole kept log is from the last day.
    requests: String,
    failures: i64,
}

pub fn chrome<'a>(title: &'a str, session: &'a Session) -> Chrome<'a> {
    Chrome::signed_in(title, "sources", session)
}

async fn list(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let page = state
        .sources
        .list(PageRequest::new(None, query.into_inner().cursor))
        .await?;
    let rows = with_activity(&state, &page.items).await?;
    let body = json!({ "sources": rows, "next_cursor": page.next_cursor });
    pages::ok("sources", &chrome("Sources", &session), body)
}

/// Each source with its last request and its last day's requests and failures, counted from
/// its log (which keeps [`KEPT_REQUESTS`]) by two grouped index ranges and one grouped scan.
async fn with_activity(state: &AppState, sources: &[Source]) -> Result<Vec<SourceRow>, UiError> {
    let ids: Vec<String> = sources.iter().map(|source| source.id.clone()).collect();
    let since = id_bound_at("srq", now_millis() - DAY_MS);
    let (counts, last) = state
        .store
        .read(move |conn| {
            let counts = store::sources::count_since_by_source(conn, &ids, &since)?;
            let last = store::sources::last_received_by_source(conn, &ids)?;
            Ok::<_, store::StoreError>((counts, last))
        })
        .await?;
    Ok(sources
        .iter()
        .map(|source| {
            let (requests, failures) = counts
                .iter()
                .find(|(id, _, _)| *id == source.id)
                .map_or((0, 0), |(_, requests, failures)| (*requests, *failures));
            SourceRow {
                id: source.id.clone(),
                name: source.spec.name.clone(),
                kind: kind_label(source.spec.kind.as_str()).unwrap_or_default(),
                enabled: source.spec.enabled,
                last_received: last
                    .iter()
                    .find(|(id, _)| *id == source.id)
                    .and_then(|(_, at)| at.map(to_rfc3339)),
                requests: if requests >= KEPT_REQUESTS {
                    format!("{KEPT_REQUESTS}+")
                } else {
                    requests.to_string()
                },
                failures,
            }
        })
        .collect())
}

/// The kinds to choose from, or the form for the chosen one with its sender's steps.
async fn new(
    SignedIn(session): SignedIn,
    query: web::Query<KindQuery>,
) -> Result<HttpResponse, UiError> {
    refuse_read(&session)?;
    match query
        .into_inner()
        .kind
        .filter(|kind| kind_label(kind).is_some())
    {
        Some(kind) => form_page(
            &session,
            None,
            &SourceForm::blank(&kind),
            None,
            StatusCode::OK,
        ),
        None => {
            let kinds: Vec<_> = KINDS
                .iter()
                .map(|(kind, label)| json!({ "kind": kind, "label": label }))
                .collect();
            pages::ok(
                "source_kinds",
                &chrome("New source", &session),
                json!({ "kinds": kinds }),
            )
        }
    }
}

/// The form page: `id` when editing, `error` beside its field.
fn form_page(
    session: &Session,
    id: Option<&str>,
    form: &SourceForm,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, UiError> {
    let label = kind_label(&form.kind).unwrap_or_default();
    let title = match id {
        Some(_) => "Edit source".to_owned(),
        None => format!("New {label} source"),
    };
    let action = FormTarget::new("sources", "source", id).action;
    let kinds: Vec<_> = KINDS
        .iter()
        .map(|(kind, label)| json!({ "kind": kind, "label": label }))
        .collect();
    let page = json!({
        "id": id,
        "action": action,
        "form": form,
        "kinds": kinds,
        "error": error.unwrap_or_default(),
        "steps": { "kind": form.kind, "label": label, "url": null },
    });
    let body = pages::render("source_form", &chrome(&title, session), page)?;
    Ok(pages::html(&mut HttpResponse::build(status), body))
}

async fn edit(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    refuse_read(&session)?;
    let source = state.sources.get(&id).await?;
    form_page(
        &session,
        Some(&id),
        &SourceForm::of(&source.spec),
        None,
        StatusCode::OK,
    )
}

async fn create(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    form: web::Form<SourceForm>,
) -> Result<HttpResponse, UiError> {
    save(session, state, None, form.into_inner()).await
}

async fn update(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<SourceForm>,
) -> Result<HttpResponse, UiError> {
    save(session, state, Some(id.into_inner()), form.into_inner()).await
}

/// Saves the form; a new URL token (at creation, or on turning to `url_token`) is shown once,
/// else the source's page follows. A refusal shows the form again with the reason by its field.
async fn save(
    session: Session,
    state: web::Data<AppState>,
    id: Option<String>,
    form: SourceForm,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let id = id.as_deref();
    let saved = match form.to_spec() {
        Ok(spec) => {
            let actor = session.caller.actor();
            match id {
                Some(id) => state.sources.replace(id, spec, &actor).await,
                None => state.sources.create(spec, &actor).await,
            }
        }
        Err(invalid) => Err(invalid.into()),
    };
    let (error, status) = match saved {
        Ok(issued) if id.is_none() || issued.token.is_some() => {
            return created(&session, &state, &issued);
        }
        Ok(issued) => {
            return Ok(pages::redirect(&format!(
                "/ui/sources/{}",
                issued.source.id
            )));
        }
        Err(SourceError::Invalid(invalid)) => {
            (FieldError::of(&invalid), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(error @ SourceError::NameTaken(_)) => {
            let message = error.to_string();
            (
                FieldError {
                    field: "name",
                    message,
                },
                StatusCode::CONFLICT,
            )
        }
        Err(error) => return Err(error.into()),
    };
    form_page(&session, id, &form, Some(error), status)
}

/// The URL to paste into the sender, with its credential, shown this once; and the steps.
fn created(session: &Session, state: &AppState, issued: &Issued) -> Result<HttpResponse, UiError> {
    let source = &issued.source;
    let url = state.sources.url(source, issued.token.as_deref());
    let kind = source.spec.kind.as_str();
    let page = json!({
        "id": source.id,
        "name": source.spec.name,
        "url": url,
        "token_shown": issued.token.is_some(),
        "with_userinfo": with_userinfo(&url, &source.spec.auth),
        "steps": { "kind": kind, "label": kind_label(kind), "url": url },
    });
    pages::ok("source_created", &chrome("Source ready", session), page)
}

/// With Basic auth, the URL carrying the credentials (`https://user:pass@…`), for senders such
/// as DATAGERRY that have nowhere else to put them.
fn with_userinfo(url: &str, auth: &SourceAuth) -> Option<String> {
    let SourceAuth::Basic { username, password } = auth else {
        return None;
    };
    let mut url = url::Url::parse(url).ok()?;
    url.set_username(username).ok()?;
    url.set_password(Some(password)).ok()?;
    Some(url.to_string())
}

async fn confirm(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (id, action) = path.into_inner();
    let source = state.sources.get(&id).await?;
    let page = json!({ "id": source.id, "name": source.spec.name, "action": action });
    let title = if action == "rotate" {
        "New URL for source"
    } else {
        "Delete source"
    };
    pages::ok("source_confirm", &chrome(title, &session), page)
}

/// Rotates the URL token (the new URL shown once) or deletes the source.
async fn act(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let (id, action) = path.into_inner();
    let actor = session.caller.actor();
    if action == "rotate" {
        let issued = state.sources.rotate(&id, &actor).await?;
        return created(&session, &state, &issued);
    }
    state.sources.delete(&id, &actor).await?;
    Ok(pages::redirect("/ui/sources"))
}
