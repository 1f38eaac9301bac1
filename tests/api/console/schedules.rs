//! The console's schedule pages over HTTP: the form creates and edits through the domain's
//! functions, its live answer gives the next five due times in the chosen zone and the payload,
//! run now fires through the delivery engine, and refusals stand beside their field.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{ConsoleClient, location, replace, rows};
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, TestApp, received, spawn_app_reaching_loopback};

/// A complete schedule form as the page posts it.
pub fn form<'a>(csrf: &'a str, name: &'a str, webhook: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("action", "save"),
        ("name", name),
        ("description", ""),
        ("enabled", "on"),
        ("webhook", webhook),
        ("kind", "cron"),
        ("every", "1d"),
        ("cron", "0 9 * * *"),
        ("timezone", "UTC"),
        ("start_at", ""),
        ("end_at", ""),
        ("windows", ""),
        ("missed", "once"),
        ("payload", "{\"text\": \"{{schedule.name}} at {{due_at}}\"}"),
    ]
}

/// A receiver answering `200` and a webhook for `schedule.fired` to it.
pub async fn receiving_webhook(app: &TestApp) -> (MockServer, String) {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let spec = json!({"name": "reports", "endpoint": {"url": format!("{}/hook", receiver.uri())}, "events": ["schedule.fired"]});
    let id = app.create_webhook(spec).await;
    (receiver, id)
}

/// The schedule id a `303` after saving leads to.
fn saved_id(response: &reqwest::Response) -> String {
    let to = location(response);
    assert!(to.starts_with("/ui/schedules/sch_"), "{to}");
    to.trim_start_matches("/ui/schedules/").to_owned()
}

/// The schedule's page once its latest run's delivery shows `status`.
async fn page_when(console: &mut ConsoleClient<'_>, path: &str, status: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = console.page(path).await;
        if page.contains(&format!("badge-{status}\">{status}<")) {
            return page;
        }
        assert!(Instant::now() < deadline, "no {status} run: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

backend_tests! {
    async fn a_cron_schedule_is_created_previewed_run_and_shows_its_delivery(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let (receiver, webhook) = receiving_webhook(&app).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/schedules/new").await;
        let mut fields = form(&csrf, "daily report", &webhook);

        let utc: Value = console.post("/ui/schedules/preview", &fields).await.json().await.unwrap();
        replace(&mut fields, "timezone", "Asia/Tokyo");
        let tokyo: Value = console.post("/ui/schedules/preview", &fields).await.json().await.unwrap();
        let created = console.post("/ui/schedules", &fields).await;
        let id = saved_id(&created);
        let path = format!("/ui/schedules/{id}");
        let ran = console.post(&format!("{path}/run"), &[("csrf", &csrf)]).await;

        let due = |answer: &Value| answer["due"].as_array().unwrap().iter().map(|due| due["local"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(due(&utc).len(), 5, "{utc}");
        assert!(due(&utc).iter().all(|time| time.contains(" 09:00 UTC")), "{utc}");
        assert!(due(&tokyo).iter().all(|time| time.contains(" 09:00 JST (00:00 UTC)")), "{tokyo}");
        assert!(utc["text"].as_str().unwrap().contains("\"daily report at 20"), "{utc}");
        assert_eq!((ran.status(), location(&ran)), (StatusCode::SEE_OTHER, path.as_str()));
        let page = page_when(&mut console, &path, "succeeded").await;
        assert!(page.contains("by hand") && page.contains("/ui/deliveries/dlv_"), "{page}");
        assert!(page.contains("09:00 JST (00:00 UTC)"), "{page}");
        let sent: Value = serde_json::from_slice(&received(&receiver, 1).await[0].body).unwrap();
        assert_eq!(sent["data"]["payload"]["text"].as_str().unwrap().split(" at ").next(), Some("daily report"));
        let list = console.page("/ui/schedules").await;
        assert!(list.contains("cron 0 9 * * *") && list.contains("badge-succeeded"), "{list}");
        let audit = app.get_json(&format!("/api/v1/audit?resource_id={id}")).await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|entry| entry["action"].as_str().unwrap()).collect();
        assert_eq!(actions, vec!["schedule.run", "schedule.created"], "{audit}");
        assert!(audit["items"].as_array().unwrap().iter().all(|entry| entry["actor"] == "config:admin_token"), "{audit}");
    }

    async fn an_edit_is_saved_and_refusals_stand_beside_their_field(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let (_receiver, webhook) = receiving_webhook(&app).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/schedules/new").await;
        let mut fields = form(&csrf, "nightly", &webhook);
        let id = saved_id(&console.post("/ui/schedules", &fields).await);

        replace(&mut fields, "cron", "61 * * * *");
        let bad_cron = console.post(&format!("/ui/schedules/{id}/edit"), &fields).await;
        let bad_cron_status = bad_cron.status();
        let bad_cron = bad_cron.text().await.unwrap();
        replace(&mut fields, "cron", "0 9 * * *");
        replace(&mut fields, "timezone", "Mars/Olympus");
        let bad_zone: Value = console.post(&format!("/ui/schedules/preview?id={id}"), &fields).await.json().await.unwrap();
        replace(&mut fields, "timezone", "Europe/Berlin");
        replace(&mut fields, "kind", "every");
        replace(&mut fields, "every", "15m");
        replace(&mut fields, "windows", "mon,tue 08:00-18:00");
        let edited = console.post(&format!("/ui/schedules/{id}/edit"), &fields).await;
        let form_page = console.page(&format!("/ui/schedules/{id}/edit")).await;

        assert_eq!(bad_cron_status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad_cron.contains("id=\"cron-error\""), "{bad_cron}");
        assert_eq!(bad_zone["error"]["field"], "timezone", "{bad_zone}");
        assert!(bad_zone["due"].is_null(), "{bad_zone}");
        assert_eq!(location(&edited), format!("/ui/schedules/{id}"));
        let stored = app.get_json(&format!("/api/v1/schedules/{id}")).await;
        assert_eq!((stored["every"].as_str(), stored["cron"].as_str(), stored["timezone"].as_str()), (Some("15m"), None, Some("Europe/Berlin")), "{stored}");
        assert_eq!(stored["windows"], json!([{"days": ["mon", "tue"], "from": "08:00", "to": "18:00"}]));
        assert!(form_page.contains(">mon,tue 08:00-18:00</textarea>"), "{form_page}");
        assert!(form_page.contains("<option value=\"Europe/Berlin\">"), "{form_page}");
        assert_eq!(rows(&app, "schedules"), 1);
    }

    async fn a_schedule_is_deleted_after_its_confirmation(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let (_receiver, webhook) = receiving_webhook(&app).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/schedules/new").await;
        let id = saved_id(&console.post("/ui/schedules", &form(&csrf, "gone soon", &webhook)).await);

        let confirm = console.page(&format!("/ui/schedules/{id}/delete")).await;
        let deleted = console.post(&format!("/ui/schedules/{id}/delete"), &[("csrf", &csrf)]).await;
        let after = console.get(&format!("/ui/schedules/{id}")).await;

        assert!(confirm.contains("Delete <strong>gone soon</strong>"), "{confirm}");
        assert_eq!((deleted.status(), location(&deleted)), (StatusCode::SEE_OTHER, "/ui/schedules"));
        assert_eq!(after.status(), StatusCode::NOT_FOUND);
        assert_eq!(rows(&app, "schedules"), 0);
    }
}
