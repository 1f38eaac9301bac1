//! The console's incident pages over HTTP: listed and filtered as the API lists them, changed
//! from their page through the same domain functions, refused without the form token or from a
//! read session, and user text shown as text.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ConsoleClient, hidden_value, location};
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app};

/// Opens an incident with an alert through the API and answers its number.
pub(super) async fn alert(
    app: &TestApp,
    key: &str,
    title: &str,
    severity: &str,
    source: &str,
) -> i64 {
    let alert = json!({"dedup_key": key, "action": "trigger", "title": title, "severity": severity,
        "source": source, "attributes": {"host": "web-1", "runbook": "https://runbooks.example/cpu", "trap": "javascript:alert(1)"}});
    let sent = app
        .admin(Method::POST, "/api/v1/alerts")
        .json(&alert)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED, "{alert}");
    let body: Value = sent.json().await.unwrap();
    body["incident"]["number"].as_i64().expect("a number")
}

async fn incident(app: &TestApp, number: i64) -> Value {
    app.get_json(&format!("/api/v1/incidents/{number}")).await
}

/// The incident numbers a list page links to, in order.
fn listed(page: &str) -> Vec<i64> {
    page.split("<a href=\"/ui/incidents/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

backend_tests! {
    async fn incidents_are_listed_newest_first_and_filtered_in_the_url(backend: Backend) {
        let app = spawn_app(backend).await;
        let cpu = alert(&app, "web-1/cpu", "CPU high on web-1", "critical", "rmm").await;
        let disk = alert(&app, "db-1/disk", "Disk full on db-1", "warning", "grafana").await;
        let old = alert(&app, "old", "Old news", "minor", "rmm").await;
        let resolved = app.admin(Method::POST, "/api/v1/alerts").json(&json!({"dedup_key": "old", "action": "resolve"})).send().await.unwrap();
        assert_eq!(resolved.status(), StatusCode::ACCEPTED);
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let all = console.page("/ui/incidents").await;
        let critical = console.page("/ui/incidents?severity=critical&status=&source=&q=").await;
        let grafana = console.page("/ui/incidents?source=grafana").await;
        let text = console.page("/ui/incidents?q=DISK").await;
        let closed = console.page("/ui/incidents?status=resolved").await;
        let none = console.page("/ui/incidents?q=nothing-like-this").await;
        let invalid = console.get("/ui/incidents?status=sleeping").await;

        assert_eq!(listed(&all), vec![old, disk, cpu], "{all}");
        assert!(all.contains("badge-critical\">critical<") && all.contains("badge-bad\">open<") && all.contains("badge-ok\">resolved<"), "{all}");
        assert!(all.contains("aria-current=\"page\">Incidents<"), "{all}");
        assert_eq!(listed(&critical), vec![cpu]);
        assert!(critical.contains("<option value=\"critical\" selected>"), "the filter is shown: {critical}");
        assert_eq!(listed(&grafana), vec![disk]);
        assert!(grafana.contains("value=\"grafana\""), "{grafana}");
        assert_eq!(listed(&text), vec![disk]);
        assert_eq!(listed(&closed), vec![old]);
        assert!(listed(&none).is_empty() && none.contains("No incident matches"), "{none}");
        assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn pages_follow_the_apis_cursor_and_keep_the_filters(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut numbers = Vec::new();
        for n in 0..52 {
            numbers.push(alert(&app, &format!("bulk-{n}"), &format!("bulk {n}"), "info", "bulk").await);
        }
        alert(&app, "other", "other", "info", "elsewhere").await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let first = console.page("/ui/incidents?source=bulk").await;
        let next = first.split("rel=\"next\"").next().and_then(|head| head.rsplit("href=\"").next()).map(|href| href.split('"').next().unwrap_or("").replace("&amp;", "&").replace("&#x3D;", "=")).expect("a next link");
        let second = console.page(&next).await;

        assert!(next.starts_with("/ui/incidents?source=bulk&cursor="), "{next}");
        let mut both = listed(&first);
        assert_eq!(both.len(), 50);
        both.extend(listed(&second));
        numbers.reverse();
        assert_eq!(both, numbers, "newest first, each once, only the filtered source");
        assert!(!second.contains("rel=\"next\""), "{second}");
    }

    async fn an_incident_is_resolved_commented_and_forwarded_from_its_page(backend: Backend) {
        let app = crate::helpers::spawn_app_reaching_loopback(backend).await;
        let number = alert(&app, "web-1/cpu", "CPU high on web-1", "critical", "rmm").await;
        let hook = app.create_webhook(crate::helpers::webhook("tickets", "http://127.0.0.1:9/hook", json!({}))).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let path = format!("/ui/incidents/{number}");
        let page = console.page(&path).await;
        let csrf = hidden_value(&page, "csrf").expect("a form token");
        assert!(page.contains(&format!("action=\"{path}/intent\"")) && page.contains("value=\"Acknowledged\"") && page.contains("value=\"Resolved\""), "{page}");
        assert!(page.contains("<a href=\"https://runbooks.example/cpu\""), "{page}");
        assert!(!page.contains("href=\"javascript:"), "only http(s) values are links: {page}");

        let resolve = console.post(&format!("{path}/intent"), &[("csrf", &csrf), ("intent", "Resolved"), ("message", "fixed by deploy 812")]).await;
        let comment = console.post(&format!("{path}/intent"), &[("csrf", &csrf), ("intent", "Commented"), ("message", "watching it")]).await;
        let empty = console.post(&format!("{path}/intent"), &[("csrf", &csrf), ("intent", "Commented"), ("message", " ")]).await;
        let forward = console.post(&format!("{path}/forward"), &[("csrf", &csrf), ("webhook", &hook)]).await;

        assert_eq!((resolve.status(), location(&resolve)), (StatusCode::SEE_OTHER, path.as_str()));
        assert_eq!(comment.status(), StatusCode::SEE_OTHER);
        assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(empty.text().await.unwrap().contains("is needed for Commented"));
        assert_eq!(forward.status(), StatusCode::SEE_OTHER);
        let stored = incident(&app, number).await;
        assert_eq!(stored["status"], "resolved");
        let timeline: Vec<(&str, &str, &str)> = stored["timeline"].as_array().unwrap().iter()
            .map(|entry| (entry["intent"].as_str().unwrap(), entry["message"].as_str().unwrap(), entry["actor"].as_str().unwrap()))
            .collect();
        assert_eq!(&timeline[1..3], &[("resolved", "fixed by deploy 812", "config:admin_token"), ("commented", "watching it", "config:admin_token")], "{stored}");
        assert_eq!(timeline[3].0, "forwarded");
        assert_eq!(stored["forwarded_to"], json!([hook]));
        let page = console.page(&path).await;
        assert!(page.contains("badge-ok\" id=\"incident-status\">resolved<"), "{page}");
        assert!(page.contains("fixed by deploy 812") && page.contains("watching it") && page.contains("to tickets"), "{page}");
        assert!(page.contains("value=\"Unresolved\"") && !page.contains("value=\"Resolved\""), "resolved: reopen instead: {page}");
        let reopen = console.post(&format!("{path}/intent"), &[("csrf", &csrf), ("intent", "Unresolved"), ("message", "")]).await;
        assert_eq!(reopen.status(), StatusCode::SEE_OTHER);
        assert_eq!(incident(&app, number).await["status"], "open");
    }

    async fn an_incidents_page_lists_the_deliveries_of_its_events_only(backend: Backend) {
        let app = crate::helpers::spawn_app_reaching_loopback(backend).await;
        let hook = app.create_webhook(crate::helpers::webhook("pager", "http://127.0.0.1:9/hook", json!({"events": ["incident.*"]}))).await;
        let first = alert(&app, "web-1/cpu", "CPU high on web-1", "critical", "rmm").await;
        let second = alert(&app, "db-2/disk", "Disk full on db-2", "warning", "rmm").await;
        alert(&app, "web-1/cpu", "CPU high on web-1", "critical", "rmm").await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let of_first = app.get_json(&format!("/api/v1/deliveries?incident={first}")).await;
        let of_second = app.get_json(&format!("/api/v1/deliveries?incident={second}")).await;
        let unknown = app.admin(Method::GET, "/api/v1/deliveries?incident=999").send().await.unwrap();
        let page = console.page(&format!("/ui/incidents/{first}")).await;
        let log = console.page(&format!("/ui/deliveries?incident={}", incident(&app, first).await["id"].as_str().unwrap())).await;

        let ids = |page: &Value| -> Vec<String> { page["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect() };
        let (first_ids, second_ids) = (ids(&of_first), ids(&of_second));
        assert!(!first_ids.is_empty() && !second_ids.is_empty(), "{of_first} {of_second}");
        assert!(of_first["items"].as_array().unwrap().iter().all(|d| d["webhook_id"] == hook.as_str()));
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        let linked = |html: &str| -> Vec<String> { html.split("href=\"/ui/deliveries/").skip(1).filter_map(|rest| Some(rest.split('"').next()?.to_owned())).collect() };
        assert_eq!(linked(&page), first_ids, "the incident's page lists its deliveries, newest first: {page}");
        assert_eq!(linked(&log), first_ids, "the log filtered by incident: {log}");
        assert!(second_ids.iter().all(|id| !page.contains(id.as_str())), "{page}");
        assert!(log.contains("name=\"incident\""), "the filter keeps the incident: {log}");
    }

    async fn posts_without_the_form_token_are_refused_and_change_nothing(backend: Backend) {
        let app = crate::helpers::spawn_app_reaching_loopback(backend).await;
        let number = alert(&app, "web-1/cpu", "CPU high on web-1", "critical", "rmm").await;
        let hook = app.create_webhook(crate::helpers::webhook("tickets", "http://127.0.0.1:9/hook", json!({}))).await;
        let before = incident(&app, number).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        for csrf in [None, Some(""), Some("not-the-token")] {
            let mut intent = vec![("intent", "Resolved"), ("message", "forged")];
            let mut forward = vec![("webhook", hook.as_str())];
            if let Some(value) = csrf {
                intent.push(("csrf", value));
                forward.push(("csrf", value));
            }
            let resolved = console.post(&format!("/ui/incidents/{number}/intent"), &intent).await;
            let forwarded = console.post(&format!("/ui/incidents/{number}/forward"), &forward).await;
            assert_eq!(resolved.status(), StatusCode::FORBIDDEN, "{csrf:?}");
            assert_eq!(forwarded.status(), StatusCode::FORBIDDEN, "{csrf:?}");
        }

        assert_eq!(incident(&app, number).await, before);
    }

    async fn a_read_session_sees_incidents_without_controls_and_cannot_change_them(backend: Backend) {
        let app = crate::helpers::spawn_app_reaching_loopback(backend).await;
        let number = alert(&app, "web-1/cpu", "CPU high on web-1", "critical", "rmm").await;
        let hook = app.create_webhook(crate::helpers::webhook("tickets", "http://127.0.0.1:9/hook", json!({}))).await;
        let before = incident(&app, number).await;
        let (_, reader) = app.create_token("reader", "read").await;
        let mut console = ConsoleClient::signed_in(&app, &reader).await;

        let list = console.page("/ui/incidents").await;
        let page = console.page(&format!("/ui/incidents/{number}")).await;
        let csrf = hidden_value(&page, "csrf").expect("the sign-out form's token");
        let resolved = console.post(&format!("/ui/incidents/{number}/intent"), &[("csrf", &csrf), ("intent", "Resolved"), ("message", "")]).await;
        let forwarded = console.post(&format!("/ui/incidents/{number}/forward"), &[("csrf", &csrf), ("webhook", &hook)]).await;

        assert!(list.contains("CPU high on web-1"), "{list}");
        assert!(page.contains("CPU high on web-1") && page.contains("web-1"), "{page}");
        assert!(!page.contains("/intent\"") && !page.contains("/forward\"") && !page.contains("name=\"intent\""), "controls shown: {page}");
        assert_eq!(resolved.status(), StatusCode::FORBIDDEN);
        assert_eq!(forwarded.status(), StatusCode::FORBIDDEN);
        assert_eq!(incident(&app, number).await, before);
    }

    async fn incident_text_is_shown_as_text_and_unknown_incidents_are_not_found(backend: Backend) {
        let app = spawn_app(backend).await;
        let number = alert(&app, "xss", "<script>alert(1)</script>", "critical", "<b>rmm</b>").await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let path = format!("/ui/incidents/{number}");
        let csrf = console.form_token(&path).await;
        let comment = console.post(&format!("{path}/intent"), &[("csrf", &csrf), ("intent", "Commented"), ("message", "<img src=x onerror=alert(2)>")]).await;
        assert_eq!(comment.status(), StatusCode::SEE_OTHER);

        let list = console.page("/ui/incidents").await;
        let page = console.page(&path).await;
        let missing = console.get("/ui/incidents/999999").await;
        let by_id = console.get(&format!("/ui/incidents/{}", incident(&app, number).await["id"].as_str().unwrap())).await;

        for html in [&list, &page] {
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>alert(1)"), "{html}");
            assert!(html.contains("&lt;b&gt;rmm&lt;/b&gt;") && !html.contains("<b>rmm"), "{html}");
        }
        assert!(page.contains("&lt;img src&#x3D;x onerror&#x3D;alert(2)&gt;") || page.contains("&lt;img src=x onerror=alert(2)&gt;"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(by_id.status(), StatusCode::OK, "an id works as well as a number");
    }
}
