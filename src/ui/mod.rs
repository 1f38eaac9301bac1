//! The web console (SPEC §9) under `/ui`: thin handlers, like `api`, that read a session, parse
//! a form, call a domain function and render a page. Pages are server-rendered and work
//! without JavaScript; every form carries the session's anti-forgery token.

mod assets;
mod audit;
mod deliveries;
mod endpoint_form;
mod error;
mod incidents;
mod overview;
pub mod pages;
mod schedules;
mod session;
mod settings;
mod sign_in;
mod sources;
mod tokens;
mod triggers;
mod webhooks;

use actix_web::{HttpResponse, web};

pub use error::UiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(home)))
        .service(
            web::scope("/ui")
                .app_data(form_config())
                .app_data(query_config())
                .service(web::resource("").route(web::get().to(overview::show)))
                .service(web::resource("/").route(web::get().to(home)))
                .service(web::resource("/assets/{file}").route(web::get().to(assets::serve)))
                .configure(sign_in::routes)
                .configure(tokens::routes)
                .configure(deliveries::routes)
                .configure(incidents::routes)
                .configure(webhooks::routes)
                .configure(sources::routes)
                .configure(triggers::routes)
                .configure(schedules::routes)
                .configure(settings::routes)
                .configure(audit::routes)
                .default_service(web::to(not_found)),
        );
}

/// `/` and `/ui/` lead to the console's overview.
async fn home() -> HttpResponse {
    pages::redirect(pages::HOME_PATH)
}

async fn not_found() -> Result<HttpResponse, UiError> {
    Err(UiError::not_found("There is no page at this address."))
}

fn form_config() -> web::FormConfig {
    web::FormConfig::default().error_handler(|error, _| {
        UiError::bad_request(format!("the form could not be read: {error}")).into()
    })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        UiError::bad_request(format!("invalid query string: {error}")).into()
    })
}
