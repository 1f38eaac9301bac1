//! `GET /api/v1/openapi.json`: the OpenAPI 3 description, generated from the handlers'
//! annotations. A route joins by adding its handler to `paths(...)` below; the `/hooks/…`
//! routes are described in [`hook_routes`].

mod hook_routes;

use hook_routes::HookRoutes;

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    audit, deliveries, events, exchanges, incidents, schedules, settings, sources, tokens,
    triggers, vars, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard API",
        description = "Admin and ingest API of Switchyard, the gateway between chat platforms and services."
    ),
    paths(
        tokens::list_tokens,
        tokens::create_token,
        tokens::get_token,
        tokens::delete_token,
        audit::list_audit,
        webhooks::list_webhooks,
        webhooks::create_webhook,
        webhooks::get_webhook,
        webhooks::replace_webhook,
        webhooks::delete_webhook,
        webhooks::replay_deliveries,
        webhooks::preview_request,
        webhooks::test_request,
        events::post_event,
        events::list_events,
        events::get_event,
        deliveries::list_deliveries,
        deliveries::get_delivery,
        deliveries::retry_delivery,
        vars::list_vars,
        vars::get_var,
        vars::put_var,
        vars::delete_var,
        incidents::post_alert,
        incidents::create_incident,
        incidents::list_incidents,
        incidents::get_incident,
        incidents::patch_incident,
        incidents::forward_incident,
        triggers::list_triggers,
        triggers::create_trigger,
        triggers::get_trigger,
        triggers::replace_trigger,
        triggers::delete_trigger,
        exchanges::list_trigger_exchanges,
        exchanges::list_chat_exchanges,
        schedules::list_schedules,
        schedules::create_schedule,
        schedules::get_schedule,
        schedules::replace_schedule,
        schedules::delete_schedule,
        schedules::run_schedule,
        schedules::list_runs,
        sources::list_sources,
        sources::create_source,
        sources::get_source,
        sources::replace_source,
        sources::delete_source,
        sources::rotate_source,
        sources::list_requests,
        sources::preview_source,
        settings::get_settings,
        settings::put_settings,
    ),
    modifiers(&BearerAuth, &HookRoutes),
    tags(
        (name = "tokens", description = "API tokens and their scopes"),
        (name = "audit", description = "Who changed what"),
        (name = "webhooks", description = "Outbound webhooks: endpoints, formats, subscriptions"),
        (name = "events", description = "Object and custom events"),
        (name = "deliveries", description = "The delivery log and retries"),
        (name = "incidents", description = "Incidents, their timelines, and alert intake"),
        (name = "vars", description = "Global values for templates (`{{vars.KEY}}`)"),
        (name = "triggers", description = "Chat → services: outgoing webhooks and slash commands"),
        (name = "schedules", description = "Webhooks fired at due times: every N, or cron, in a time zone, inside windows"),
        (name = "sources", description = "Senders posting their own documents: Alertmanager, Grafana, Tactical RMM, DATAGERRY, VergeOS, All Quiet, custom"),
        (name = "settings", description = "The chat switches at runtime"),
        (name = "hooks", description = "Where chat servers, services and senders post: outgoing webhooks, slash commands, late replies, sources"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
