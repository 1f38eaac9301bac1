//! Rendering console pages: the Handlebars files of `templates/ui/`, embedded in the binary and
//! compiled once, each rendered into the shared layout. Handlebars escapes every `{{value}}`
//! for HTML, so whatever a user stored is shown as text.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};
use handlebars::Handlebars;
use serde::Serialize;
use serde_json::{Value, json};

use super::assets;
use super::error::UiError;
use crate::sessions::Session;

pub const SIGN_IN_PATH: &str = "/ui/sign-in";
pub const HOME_PATH: &str = "/ui";

const LAYOUT: &str = "layout";
const ERROR: &str = "error";
/// The frame and the pages that belong to no section; each section's module lists its own.
const CORE: Templates = &[
    (LAYOUT, include_str!("../../templates/ui/layout.hbs")),
    (ERROR, include_str!("../../templates/ui/error.hbs")),
    ("sign_in", include_str!("../../templates/ui/sign_in.hbs")),
    ("overview", include_str!("../../templates/ui/overview.hbs")),
];

/// Page templates by name, with their Handlebars source.
pub type Templates = &'static [(&'static str, &'static str)];

const SECTIONS: &[Templates] = &[
    CORE,
    super::tokens::TEMPLATES,
    super::deliveries::TEMPLATES,
    super::incidents::TEMPLATES,
    super::endpoint_form::TEMPLATES,
    super::webhooks::TEMPLATES,
    super::sources::TEMPLATES,
    super::triggers::TEMPLATES,
    super::schedules::TEMPLATES,
    super::settings::TEMPLATES,
    super::audit::TEMPLATES,
];

/// A section's create/edit form: its title (`New webhook`, `Edit webhook`) and where it posts
/// (`/ui/webhooks` to create, `/ui/webhooks/{id}/edit` to save an edit).
pub struct FormTarget {
    pub title: String,
    pub action: String,
}

impl FormTarget {
    pub fn new(section: &str, noun: &str, id: Option<&str>) -> Self {
        match id {
            Some(id) => Self {
                title: format!("Edit {noun}"),
                action: format!("/ui/{section}/{id}/edit"),
            },
            None => Self {
                title: format!("New {noun}"),
                action: format!("/ui/{section}"),
            },
        }
    }
}

/// Content Security Policy: only this origin's stylesheet and script, no inline code, no
/// framing, forms post only here; the script talks only to this origin (the live preview).
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
    connect-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

static REGISTRY: LazyLock<Result<Handlebars<'static>, String>> = LazyLock::new(|| {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    for (name, source) in SECTIONS.iter().copied().flatten() {
        registry
            .register_template_string(name, source)
            .map_err(|error| format!("templates/ui/{name}.hbs: {error}"))?;
    }
    Ok(registry)
});

/// Compiles the console's pages; called at start so a broken file stops it there.
pub fn load() -> Result<(), String> {
    REGISTRY.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// What the layout shows around a page: its title, the navigation, who is signed in.
#[derive(Debug, Serialize)]
pub struct Chrome<'a> {
    pub title: &'a str,
    /// The navigation entry to mark as current.
    pub nav: &'a str,
    pub session: Option<SessionView<'a>>,
}

#[derive(Debug, Serialize)]
pub struct SessionView<'a> {
    name: &'a str,
    scope: &'a str,
    can_change: bool,
    form_token: &'a str,
}

impl<'a> Chrome<'a> {
    /// A page of a signed-in session, with `nav` marked as the current entry.
    pub fn signed_in(title: &'a str, nav: &'a str, session: &'a Session) -> Self {
        Chrome {
            title,
            nav,
            session: Some(SessionView::of(session)),
        }
    }
}

impl<'a> SessionView<'a> {
    pub fn of(session: &'a Session) -> Self {
        Self {
            name: &session.caller.name,
            scope: session.caller.scope.as_str(),
            can_change: session.can_change(),
            form_token: &session.form_token,
        }
    }
}

/// Renders `template` with `page` inside the layout.
pub fn render(template: &str, chrome: &Chrome, page: impl Serialize) -> Result<String, UiError> {
    let registry = REGISTRY
        .as_ref()
        .map_err(|error| UiError::internal(error))?;
    let mut context = json!({
        "chrome": chrome,
        "assets": { "css": assets::css_path(), "js": assets::js_path() },
        "page": page,
    });
    let content = registry
        .render(template, &context)
        .map_err(|error| UiError::internal(&error))?;
    context["content"] = Value::String(content);
    registry
        .render(LAYOUT, &context)
        .map_err(|error| UiError::internal(&error))
}

/// A `200` page.
pub fn ok(template: &str, chrome: &Chrome, page: impl Serialize) -> Result<HttpResponse, UiError> {
    let body = render(template, chrome, page)?;
    Ok(html(&mut HttpResponse::Ok(), body))
}

/// An HTML answer with the headers every console page carries. Pages show what a session
/// may see, so no cache keeps them.
pub fn html(response: &mut HttpResponseBuilder, body: String) -> HttpResponse {
    response
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .body(body)
}

/// `303 See Other`: after a post, the browser gets `location` with a `GET`.
pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The error page; if even that cannot be rendered, the message alone, still escaped.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> String {
    let chrome = Chrome {
        title,
        nav: "",
        session: None,
    };
    let page = json!({ "status": status.as_u16(), "title": title, "message": message });
    render(ERROR, &chrome, page)
        .unwrap_or_else(|_| handlebars::html_escape(&format!("{title}: {message}")))
}
