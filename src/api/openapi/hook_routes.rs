//! The `/hooks/…` routes in the OpenAPI document (SPEC §2). They are written out here, from
//! the same route list as `api::hooks`, instead of from handler annotations: one handler serves
//! several paths and methods, and the bodies are the chat servers' and senders' own documents,
//! not Switchyard's types.

use utoipa::Modify;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, Ref, Required, ResponseBuilder};

/// What is posted to a hook, and so how it is read and answered.
#[derive(Clone, Copy)]
enum Hook {
    Outgoing,
    Slash,
    Reply,
    Intake,
}

const HOOK_ROUTES: [(&str, Hook); 7] = [
    ("/hooks/outgoing", Hook::Outgoing),
    ("/hooks/outgoing/{trigger}", Hook::Outgoing),
    ("/hooks/slash", Hook::Slash),
    ("/hooks/slash/{trigger}", Hook::Slash),
    ("/hooks/reply/{id}", Hook::Reply),
    ("/hooks/in/{source}", Hook::Intake),
    ("/hooks/in/{source}/{token}", Hook::Intake),
];

/// What each path parameter of the hooks stands for.
const PATH_PARAMETERS: [(&str, &str); 4] = [
    (
        "trigger",
        "A trigger's id or name: only that trigger is considered",
    ),
    (
        "id",
        "The unguessable id of a reply URL the gateway handed out",
    ),
    ("source", "A source's id or name"),
    ("token", "The source's URL token (auth type `url_token`)"),
];

/// An answer's status, description and body.
type Answer = (&'static str, &'static str, Shape);

#[derive(Clone, Copy)]
enum Shape {
    Empty,
    Json,
    Error,
    Text,
}

const TOO_LARGE: Answer = (
    "413",
    "The body is larger than limits.max_body_bytes",
    Shape::Error,
);

const CHAT_ANSWERS: &[Answer] = &[
    (
        "200",
        "The reply post as JSON, or an empty body when there is nothing to post",
        Shape::Json,
    ),
    ("400", "The request cannot be read", Shape::Error),
    (
        "401",
        "No trigger's token or Slack signature matches (also an unknown pinned trigger); empty body",
        Shape::Empty,
    ),
    TOO_LARGE,
    ("415", "The body is neither a form nor JSON", Shape::Error),
    ("501", "Chat triggers are off (chat.enabled)", Shape::Error),
];

const REPLY_ANSWERS: &[Answer] = &[
    ("200", "The reply was taken; the body is `ok`", Shape::Text),
    (
        "400",
        "The reply URL has been used 5 times already, or its JSON cannot be read",
        Shape::Error,
    ),
    (
        "404",
        "No such reply URL, or it expired (30 minutes)",
        Shape::Error,
    ),
    TOO_LARGE,
];

const INTAKE_ANSWERS: &[Answer] = &[
    (
        "200",
        "What the request became: `{\"alerts\": […], \"events\": […], \"unmapped\": …}`",
        Shape::Json,
    ),
    (
        "401",
        "The source's authentication failed; empty body",
        Shape::Empty,
    ),
    ("404", "No such source, or it is disabled", Shape::Error),
    TOO_LARGE,
];

impl Hook {
    fn methods(self) -> Vec<HttpMethod> {
        match self {
            Hook::Outgoing | Hook::Reply => vec![HttpMethod::Post],
            Hook::Slash => vec![HttpMethod::Post, HttpMethod::Get],
            Hook::Intake => vec![
                HttpMethod::Post,
                HttpMethod::Put,
                HttpMethod::Patch,
                HttpMethod::Get,
            ],
        }
    }

    fn summary(self) -> &'static str {
        match self {
            Hook::Outgoing => "A Mattermost or Slack outgoing webhook",
            Hook::Slash => "A Mattermost or Slack slash command",
            Hook::Reply => "A service's late reply to a chat request (its `response_url`)",
            Hook::Intake => {
                "A sender's own document (Alertmanager, Grafana, Tactical RMM, DATAGERRY, VergeOS, All Quiet, custom)"
            }
        }
    }

    /// What the request carries: with `GET`, fields in the query string and no body.
    fn takes(self, method: &HttpMethod) -> &'static str {
        match (self, method) {
            (Hook::Slash, HttpMethod::Get) => {
                "Mattermost's slash command fields in the query string"
            }
            (Hook::Intake, HttpMethod::Get) => {
                "Fields in the query string (Tactical RMM's GET actions)"
            }
            (Hook::Outgoing | Hook::Slash, _) => {
                "Mattermost's or Slack's fields, with the trigger's `token` (or `Authorization: Token …` for Mattermost slash commands) or an `X-Slack-Signature`"
            }
            (Hook::Reply, _) => {
                "The service answer format when the media type is `application/json`; any other body is plain ephemeral text"
            }
            (Hook::Intake, _) => "The sender's body as it sends it",
        }
    }

    fn media_types(self, method: &HttpMethod) -> &'static [&'static str] {
        match (self, method) {
            (_, HttpMethod::Get) => &[],
            (Hook::Outgoing | Hook::Slash, _) => {
                &["application/x-www-form-urlencoded", "application/json"]
            }
            (Hook::Reply, _) => &["application/json", "text/plain"],
            (Hook::Intake, _) => &["*/*"],
        }
    }

    fn answers(self) -> &'static [Answer] {
        match self {
            Hook::Outgoing | Hook::Slash => CHAT_ANSWERS,
            Hook::Reply => REPLY_ANSWERS,
            Hook::Intake => INTAKE_ANSWERS,
        }
    }
}

/// Adds every `/hooks/…` operation, under the tag `hooks`.
pub struct HookRoutes;

impl Modify for HookRoutes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, hook) in HOOK_ROUTES {
            for method in hook.methods() {
                let operation = describe(path, hook, &method);
                openapi
                    .paths
                    .add_path_operation(path, vec![method], operation);
            }
        }
    }
}

fn describe(path: &str, hook: Hook, method: &HttpMethod) -> OperationBuilder {
    let mut operation = OperationBuilder::new()
        .tag("hooks")
        .summary(Some(hook.summary()))
        .description(Some(hook.takes(method)))
        .operation_id(Some(format!(
            "{}{}",
            method_name(method),
            path.replace(['/', '{', '}'], "_")
        )));
    for (name, description) in PATH_PARAMETERS {
        if path.contains(&format!("{{{name}}}")) {
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some(description))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
    }
    let media_types = hook.media_types(method);
    if !media_types.is_empty() {
        let body = media_types
            .iter()
            .fold(RequestBodyBuilder::new(), |body, media| {
                body.content(*media, Content::default())
            });
        operation = operation.request_body(Some(body.required(Some(Required::True)).build()));
    }
    for (status, description, shape) in hook.answers() {
        // Statuses about the body cannot happen where no body is read.
        if media_types.is_empty() && matches!(*status, "413" | "415") {
            continue;
        }
        operation = operation.response(*status, answer(description, *shape));
    }
    operation
}

fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Delete => "delete",
        HttpMethod::Options => "options",
        HttpMethod::Head => "head",
        HttpMethod::Patch => "patch",
        HttpMethod::Trace => "trace",
    }
}

fn answer(description: &str, shape: Shape) -> ResponseBuilder {
    let response = ResponseBuilder::new().description(description);
    match shape {
        Shape::Empty => response,
        Shape::Json => response.content("application/json", Content::default()),
        Shape::Text => response.content("text/plain", Content::default()),
        Shape::Error => response.content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        ),
    }
}
