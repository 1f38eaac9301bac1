//! The console's source pages over HTTP: a source made in the form shows its URL once and
//! takes its sender's body; the list counts the last day; forgeries and read sessions change
//! nothing; what senders post is shown as text, never as markup.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ConsoleClient, hidden_value, location, rows};
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app};
use crate::sources::{create_source, fixture, post_json, send};

const SCRIPT: &str = "<script>alert(1)</script>";

/// The text of the element with `id` (up to its first tag), as the page has it.
pub fn text_of<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\" class=\"code-block\">");
    html.split(&marker)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no #{id} in {html}"))
}

/// Creates a source of `kind` through the console's form; returns the page that answered.
async fn create(console: &mut ConsoleClient<'_>, csrf: &str, name: &str, kind: &str) -> String {
    let fields = [
        ("csrf", csrf),
        ("name", name),
        ("kind", kind),
        ("enabled", "on"),
        ("auth_type", "url_token"),
    ];
    let response = console.post("/ui/sources", &fields).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// Posts `body` as Tactical RMM does to `url` (the whole URL the page showed).
async fn post_as_sender(app: &TestApp, url: &str, body: Vec<u8>) -> Value {
    let path = url
        .strip_prefix(&app.address)
        .expect("a URL on the test server");
    post_json(app, path, body).await
}

fn source_id(app: &TestApp, name: &str) -> String {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let mut conn = app.db().connect();
    diesel::sql_query(format!("SELECT id FROM sources WHERE name = '{name}'"))
        .get_result::<Id>(&mut conn)
        .expect("the source")
        .id
}

backend_tests! {
    async fn a_source_made_in_the_console_shows_its_url_once_and_what_it_received(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/sources/new?kind=tactical-rmm").await;

        let created = create(&mut console, &csrf, "rmm", "tactical-rmm").await;
        let url = text_of(&created, "source-url").to_owned();
        let answer = post_as_sender(&app, &url, fixture("tactical-rmm-failure-quote.txt")).await;
        post_as_sender(&app, &url, b"not json at all".to_vec()).await;
        let id = source_id(&app, "rmm");
        let list = console.page("/ui/sources").await;
        let page = console.page(&format!("/ui/sources/{id}")).await;

        assert!(created.contains("URL Actions") && created.contains("trmm-{{alert.id}}"), "the steps: {created}");
        assert!(url.starts_with(&format!("{}/hooks/in/{id}/", app.address)), "{url}");
        assert!(!list.contains(&url) && !page.contains(&url), "the URL with its token is shown once");
        let incident = answer["alerts"][0]["incident"].as_str().unwrap();
        assert!(page.contains(&format!("href=\"/ui/incidents/{incident}\"")), "{page}");
        assert!(page.contains("trmm-alert-1873") && page.contains("not mapped"), "{page}");
        let row = list.split(&format!("/ui/sources/{id}")).nth(1).expect("the source's row");
        let cells: Vec<&str> = row.split("<td class=\"num\">").skip(1).map(|cell| cell.split("</td>").next().unwrap()).collect();
        assert_eq!(cells[0], "2", "requests in the last day: {row}");
        assert!(cells[1].contains(">1<"), "one failure: {row}");
        let audit = app.get_json("/api/v1/audit?resource_type=source").await;
        assert_eq!(audit["items"][0]["actor"], "config:admin_token", "{audit}");
    }

    async fn sources_are_edited_given_a_new_url_and_deleted(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/sources/new?kind=datagerry").await;
        let first = create(&mut console, &csrf, "cmdb", "datagerry").await;
        let id = source_id(&app, "cmdb");

        let form = console.page(&format!("/ui/sources/{id}/edit")).await;
        let edit = [("csrf", csrf.as_str()), ("name", "cmdb"), ("description", "the CMDB"), ("kind", "datagerry"), ("enabled", "on"), ("auth_type", "url_token")];
        let edited = console.post(&format!("/ui/sources/{id}/edit"), &edit).await;
        let refused = console.post(&format!("/ui/sources/{id}/edit"), &[("csrf", csrf.as_str()), ("name", "bad name!"), ("kind", "datagerry")]).await;
        let rotated = console.post(&format!("/ui/sources/{id}/rotate"), &[("csrf", csrf.as_str())]).await;
        let rotated = rotated.text().await.unwrap();
        let old = text_of(&first, "source-url").to_owned();
        let new = text_of(&rotated, "source-url").to_owned();
        let old_refused = send(&app, Method::POST, old.strip_prefix(&app.address).unwrap(), &[], b"{}".to_vec()).await;
        let confirm = console.page(&format!("/ui/sources/{id}/delete")).await;
        let deleted = console.post(&format!("/ui/sources/{id}/delete"), &[("csrf", csrf.as_str())]).await;

        assert!(form.contains("value=\"cmdb\""), "{form}");
        assert_eq!((edited.status(), location(&edited)), (StatusCode::SEE_OTHER, format!("/ui/sources/{id}").as_str()));
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.text().await.unwrap().contains("id=\"name-error\""), "the refusal by its field");
        assert_ne!(old, new);
        assert_eq!(old_refused.status(), StatusCode::UNAUTHORIZED, "the old URL stops working");
        assert!(confirm.contains(&format!("action=\"/ui/sources/{id}/delete\"")), "{confirm}");
        assert_eq!((deleted.status(), location(&deleted)), (StatusCode::SEE_OTHER, "/ui/sources"));
        assert_eq!(rows(&app, "sources"), 0);
        let actions: Vec<Value> = app.get_json("/api/v1/audit?resource_type=source").await["items"].as_array().unwrap().iter().map(|entry| entry["action"].clone()).collect();
        for action in ["source.created", "source.updated", "source.rotated", "source.deleted"] {
            assert!(actions.contains(&json!(action)), "{action} in {actions:?}");
        }
    }

    async fn source_forms_without_their_token_are_refused_and_change_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let source = create_source(&app, json!({"name": "rmm", "kind": "tactical-rmm"})).await;
        let id = source["id"].as_str().unwrap();
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let before = rows(&app, "audit_log");

        for csrf in [None, Some(""), Some("forged")] {
            let with = |mut fields: Vec<(&'static str, &'static str)>| {
                fields.extend(csrf.map(|value| ("csrf", value)));
                fields
            };
            let posts = [
                ("/ui/sources".to_owned(), with(vec![("name", "new"), ("kind", "datagerry")])),
                (format!("/ui/sources/{id}/edit"), with(vec![("name", "renamed"), ("kind", "datagerry")])),
                (format!("/ui/sources/{id}/rotate"), with(vec![])),
                (format!("/ui/sources/{id}/delete"), with(vec![])),
                (format!("/ui/sources/{id}/preview"), with(vec![("body", "{}")])),
                (format!("/ui/sources/{id}/preview?live=true"), with(vec![("body", "{}")])),
            ];
            for (path, fields) in posts {
                let response = console.post(&path, &fields).await;
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} with {csrf:?}");
            }
        }

        assert_eq!(rows(&app, "sources WHERE name = 'rmm' AND kind = 'tactical-rmm'"), 1);
        assert_eq!(rows(&app, "sources"), 1);
        assert_eq!(rows(&app, "audit_log"), before);
        let path = crate::sources::path_of(&app, &source);
        let still = send(&app, Method::POST, &path, &[], b"{}".to_vec()).await;
        assert_eq!(still.status(), StatusCode::OK, "the URL token was not rotated");
    }

    async fn a_read_session_sees_sources_and_changes_none(backend: Backend) {
        let app = spawn_app(backend).await;
        let source = create_source(&app, json!({"name": "rmm", "kind": "tactical-rmm"})).await;
        let id = source["id"].as_str().unwrap();
        let (_, reader) = app.create_token("reader", "read").await;
        let mut console = ConsoleClient::signed_in(&app, &reader).await;
        let before = rows(&app, "audit_log");

        let list = console.page("/ui/sources").await;
        let page = console.page(&format!("/ui/sources/{id}")).await;
        let csrf = hidden_value(&page, "csrf").expect("a form token");
        let new_form = console.get("/ui/sources/new?kind=grafana").await;
        let edit_form = console.get(&format!("/ui/sources/{id}/edit")).await;
        let posts = [
            ("/ui/sources".to_owned(), vec![("csrf", csrf.as_str()), ("name", "new"), ("kind", "datagerry")]),
            (format!("/ui/sources/{id}/edit"), vec![("csrf", csrf.as_str()), ("name", "renamed"), ("kind", "datagerry")]),
            (format!("/ui/sources/{id}/rotate"), vec![("csrf", csrf.as_str())]),
            (format!("/ui/sources/{id}/delete"), vec![("csrf", csrf.as_str())]),
        ];
        for (path, fields) in posts {
            let response = console.post(&path, &fields).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        }
        let preview = console.post(&format!("/ui/sources/{id}/preview"), &[("csrf", csrf.as_str()), ("body", "{\"title\": \"t\"}")]).await;

        assert!(list.contains("rmm") && !list.contains("/ui/sources/new"), "{list}");
        assert!(!page.contains("/edit\"") && !page.contains("/delete\"") && !page.contains("/rotate\""), "controls shown: {page}");
        assert_eq!(new_form.status(), StatusCode::FORBIDDEN);
        assert_eq!(edit_form.status(), StatusCode::FORBIDDEN);
        assert_eq!(preview.status(), StatusCode::OK, "a preview changes nothing, as for the API's read tokens");
        assert_eq!(rows(&app, "sources WHERE name = 'rmm' AND kind = 'tactical-rmm'"), 1);
        assert_eq!(rows(&app, "sources"), 1);
        assert_eq!(rows(&app, "audit_log"), before);
    }

    async fn bodies_from_senders_are_shown_as_text(backend: Backend) {
        let app = spawn_app(backend).await;
        let source = create_source(&app, json!({"name": "rmm", "kind": "tactical-rmm"})).await;
        let id = source["id"].as_str().unwrap();
        let body = json!({"action": "trigger", "dedup_key": SCRIPT, "title": SCRIPT, "message": SCRIPT});
        let path = crate::sources::path_of(&app, &source);
        send(&app, Method::POST, &path, &[], serde_json::to_vec(&body).unwrap()).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let page = console.page(&format!("/ui/sources/{id}")).await;
        let csrf = hidden_value(&page, "csrf").unwrap();
        let fields = [("csrf", csrf.as_str()), ("body", &body.to_string()), ("query", "x=<b>")];
        let preview = console.post(&format!("/ui/sources/{id}/preview"), &fields).await.text().await.unwrap();
        let live = console.post(&format!("/ui/sources/{id}/preview?live=true"), &fields).await;
        let live: Value = live.json().await.unwrap();

        for html in [&page, &preview] {
            assert!(!html.contains(SCRIPT) && !html.contains("<b>"), "markup from outside: {html}");
            assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;") || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        }
        assert!(preview.contains("would become") || preview.contains("&quot;alert&quot;"), "{preview}");
        assert!(live["text"].as_str().unwrap().contains(SCRIPT), "the script sets it as text: {live}");
        assert_eq!(rows(&app, "source_requests"), 1, "a preview stores nothing");
    }
}
