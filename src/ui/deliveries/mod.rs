//! `/ui/deliveries`: the delivery log filtered by webhook, status, event type and time, a
//! delivery with each attempt, and sending again by hand (one delivery, or a webhook's failed
//! deliveries since a time) through the same domain functions as the API.

pub(super) mod view;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::api::AppState;
use crate::delivery::log::{self, LogError};
use crate::sessions::Session;
use crate::store::PageRequest;
use crate::ui::error::UiError;
use crate::ui::pages::{self, Chrome, Templates};
use crate::ui::session::SignedIn;
use crate::webhooks::{self, WebhookError};
use view::{AttemptView, DeliveryRow, Filters, STATUSES, parse_time};

pub const TEMPLATES: Templates = &[
    (
        "deliveries",
        include_str!("../../../templates/ui/deliveries/list.hbs"),
    ),
    (
        "delivery",
        include_str!("../../../templates/ui/deliveries/detail.hbs"),
    ),
    (
        "delivery_table",
        include_str!("../../../templates/ui/deliveries/table.hbs"),
    ),
];

/// Replays from the console send failed deliveries again, as the task of a replay is to
/// recover from a receiver's outage.
const REPLAYED_STATUS: &str = "failed";
/// Webhooks offered by the filter: one page, the most a page may hold.
const WEBHOOK_CHOICES: i64 = 500;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/deliveries").route(web::get().to(list)))
        .service(web::resource("/deliveries/replay").route(web::post().to(replay)))
        .service(web::resource("/deliveries/{id}").route(web::get().to(show)))
        .service(web::resource("/deliveries/{id}/retry").route(web::post().to(retry)));
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    filters: Filters,
    cursor: Option<String>,
    /// How many deliveries the replay that led here queued again.
    replayed: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub struct ReplayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    webhook: String,
    #[serde(default)]
    since: String,
}

#[derive(Debug, Serialize)]
struct WebhookOption {
    id: String,
    name: String,
    selected: bool,
}

#[derive(Debug, Serialize)]
struct ListPage {
    deliveries: Vec<DeliveryRow>,
    filters: Filters,
    webhooks: Vec<WebhookOption>,
    statuses: Vec<(&'static str, bool)>,
    next_href: Option<String>,
    /// What the replay that led here did.
    replayed: Option<String>,
    filtered: bool,
}

fn chrome<'a>(title: &'a str, session: &'a Session) -> Chrome<'a> {
    Chrome::signed_in(title, "deliveries", session)
}

/// Webhooks for the filter's choice, by name: at most one page of them, which is as many as a
/// choice list can usefully hold.
async fn webhook_options(state: &AppState, chosen: &str) -> Result<Vec<WebhookOption>, UiError> {
    let page = webhooks::list(&state.store, PageRequest::new(Some(WEBHOOK_CHOICES), None))
        .await
        .map_err(webhook_error)?;
    let mut options: Vec<WebhookOption> = page
        .items
        .into_iter()
        .map(|webhook| WebhookOption {
            selected: webhook.id == chosen,
            id: webhook.id,
            name: webhook.spec.name,
        })
        .collect();
    options.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(options)
}

async fn list(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let ListQuery {
        filters,
        cursor,
        replayed,
    } = query.into_inner();
    let filter = filters.to_store()?;
    let page = log::list(&state.store, filter, PageRequest::new(None, cursor))
        .await
        .map_err(log_error)?;
    let page = ListPage {
        deliveries: page.items.into_iter().map(DeliveryRow::from).collect(),
        next_href: page.next_cursor.as_deref().map(|c| filters.href(Some(c))),
        webhooks: webhook_options(&state, filters.webhook.trim()).await?,
        statuses: STATUSES
            .iter()
            .map(|status| (*status, filters.status.trim() == *status))
            .collect(),
        filtered: filters.href(None) != "/ui/deliveries",
        replayed: replayed.as_deref().and_then(replay_notice),
        filters,
    };
    pages::ok("deliveries", &chrome("Deliveries", &session), page)
}

/// How many of an incident's deliveries its page shows; the log has the rest.
const INCIDENT_DELIVERIES: i64 = 10;

/// An incident's latest deliveries, and the log's address for all of them when there are more.
#[derive(Debug, Serialize)]
pub struct IncidentDeliveries {
    rows: Vec<DeliveryRow>,
    more_href: Option<String>,
}

pub async fn of_incident(
    state: &AppState,
    incident_id: &str,
) -> Result<IncidentDeliveries, UiError> {
    let filters = Filters {
        incident: incident_id.to_owned(),
        ..Filters::default()
    };
    let request = PageRequest::new(Some(INCIDENT_DELIVERIES), None);
    let page = log::list(&state.store, filters.to_store()?, request)
        .await
        .map_err(log_error)?;
    Ok(IncidentDeliveries {
        rows: page.items.into_iter().map(DeliveryRow::from).collect(),
        more_href: page.next_cursor.map(|_| filters.href(None)),
    })
}

async fn show(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (delivery, attempts) = log::get(&state.store, &id).await.map_err(log_error)?;
    let page = serde_json::json!({
        "delivery": DeliveryRow::from(delivery),
        "attempts": attempts.into_iter().map(AttemptView::from).collect::<Vec<_>>(),
    });
    pages::ok("delivery", &chrome("Delivery", &session), page)
}

async fn retry(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let delivery = log::retry(&state.store, &state.engine, &id)
        .await
        .map_err(log_error)?;
    Ok(pages::redirect(&format!("/ui/deliveries/{}", delivery.id)))
}

async fn replay(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    form: web::Form<ReplayForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let since = parse_time("since", &form.since)?
        .ok_or_else(|| UiError::bad_request("since: choose the time to replay from"))?;
    let webhook = webhooks::get(&state.store, form.webhook.trim())
        .await
        .map_err(webhook_error)?;
    let queued = log::replay(
        &state.store,
        &state.engine,
        &webhook.id,
        REPLAYED_STATUS,
        since,
    )
    .await
    .map_err(log_error)?;
    let back = Filters {
        webhook: webhook.id,
        ..Filters::default()
    };
    Ok(pages::redirect(&format!(
        "{}&replayed={queued}",
        back.href(None)
    )))
}

/// The notice for `?replayed=N`. A number only: the page must not echo whatever text a link
/// puts there.
fn replay_notice(count: &str) -> Option<String> {
    Some(match count.trim().parse::<u64>().ok()? {
        0 => "No failed deliveries since then: nothing was sent again.".to_owned(),
        1 => "1 failed delivery queued to be sent again.".to_owned(),
        n => format!("{n} failed deliveries queued to be sent again."),
    })
}

fn log_error(error: LogError) -> UiError {
    match error {
        LogError::NotFound(_) => UiError::not_found(error.to_string()),
        LogError::InFlight(_) => UiError::Page {
            status: StatusCode::CONFLICT,
            title: "Being sent",
            message: error.to_string(),
        },
        LogError::Store(error) => error.into(),
    }
}

fn webhook_error(error: WebhookError) -> UiError {
    match error {
        WebhookError::NotFound(_) => UiError::not_found(error.to_string()),
        WebhookError::Store(error) => error.into(),
        // Reading a webhook fails in no other way; should it, the page reveals nothing more.
        other => UiError::internal(&other),
    }
}
