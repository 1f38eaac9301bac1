use diesel::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{ConsoleClient, hidden_value, location, rows};
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, spawn_app};

backend_tests! {
    async fn the_root_leads_to_the_console_and_its_pages_to_sign_in(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::new(&app);

        let root = console.get("/").await;
        let overview = console.get("/ui").await;
        let tokens = console.get("/ui/tokens").await;

        assert_eq!((root.status(), location(&root)), (StatusCode::SEE_OTHER, "/ui"));
        assert_eq!((overview.status(), location(&overview)), (StatusCode::SEE_OTHER, "/ui/sign-in"));
        assert_eq!((tokens.status(), location(&tokens)), (StatusCode::SEE_OTHER, "/ui/sign-in"));
    }

    async fn signing_in_stores_only_a_hash_of_the_session_and_sets_a_strict_cookie(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::new(&app);

        let response = console.sign_in(ADMIN_TOKEN).await;

        let set_cookie: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        let session = set_cookie.iter().find(|c| c.starts_with("sy_session=")).expect("session cookie");
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/ui"), "{session}");
        assert!(!session.contains("Secure"), "plain HTTP: {session}");
        let secret = console.cookie("sy_session").unwrap().to_owned();
        let mut conn = app.db().connect();
        let stored: Vec<String> = diesel::sql_query("SELECT id_hash AS n FROM ui_sessions")
            .load::<IdHash>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|row| row.n)
            .collect();
        assert_eq!(stored, vec![switchyard::tokens::hash_secret(&secret)]);
        let overview = console.page("/ui").await;
        assert!(overview.contains("Open incidents") && overview.contains("admin_token"), "{overview}");
    }

    async fn cookies_are_secure_when_the_public_url_is_https(backend: Backend) {
        let app = crate::helpers::spawn_app_with(backend, |config| {
            config.public_url = Some("https://switchyard.example".parse().unwrap());
        })
        .await;
        let response = ConsoleClient::new(&app).get("/ui/sign-in").await;

        let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap();
        assert!(cookie.starts_with("sy_signin=") && cookie.ends_with("; Secure"), "{cookie}");
    }

    async fn form_posts_without_their_token_are_refused_and_change_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let (id, _) = app.create_token("keep me", "read").await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let revoke = format!("/ui/tokens/{id}/revoke");

        for csrf in [None, Some(""), Some("not-the-token")] {
            let with = |mut fields: Vec<(&'static str, &'static str)>| {
                if let Some(value) = csrf {
                    fields.push(("csrf", value));
                }
                fields
            };
            let create = console.post("/ui/tokens", &with(vec![("name", "new"), ("scope", "admin")])).await;
            let revoked = console.post(&revoke, &with(vec![])).await;
            let signed_out = console.post("/ui/sign-out", &with(vec![])).await;
            assert_eq!(create.status(), StatusCode::FORBIDDEN, "{csrf:?}");
            assert_eq!(revoked.status(), StatusCode::FORBIDDEN, "{csrf:?}");
            assert_eq!(signed_out.status(), StatusCode::FORBIDDEN, "{csrf:?}");
        }

        assert_eq!(rows(&app, "api_tokens WHERE name = 'new'"), 0);
        assert_eq!(rows(&app, "api_tokens WHERE name = 'keep me'"), 1);
        assert_eq!(rows(&app, "audit_log WHERE action = 'token.revoked'"), 0);
        assert_eq!(rows(&app, "ui_sessions"), 1);
        assert_eq!(console.get("/ui").await.status(), StatusCode::OK, "still signed in");
    }

    async fn a_sign_in_without_the_forms_token_is_refused(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::new(&app);
        console.page("/ui/sign-in").await;

        let without = console.post("/ui/sign-in", &[("token", ADMIN_TOKEN)]).await;
        let wrong = console.post("/ui/sign-in", &[("token", ADMIN_TOKEN), ("csrf", "forged")]).await;

        assert_eq!(without.status(), StatusCode::FORBIDDEN);
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        assert_eq!(rows(&app, "ui_sessions"), 0);
    }

    async fn a_read_session_sees_everything_and_changes_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, reader) = app.create_token("reader", "read").await;
        let (victim, _) = app.create_token("victim", "ingest").await;
        let mut console = ConsoleClient::signed_in(&app, &reader).await;

        let page = console.page("/ui/tokens").await;
        let confirm = console.page(&format!("/ui/tokens/{victim}/revoke")).await;
        let csrf = hidden_value(&page, "csrf").expect("the sign-out form's token");
        let create = console.post("/ui/tokens", &[("csrf", &csrf), ("name", "mine"), ("scope", "admin")]).await;
        let revoke = console.post(&format!("/ui/tokens/{victim}/revoke"), &[("csrf", &csrf)]).await;

        assert!(page.contains("victim") && page.contains("reader"), "{page}");
        assert!(!page.contains("action=\"/ui/tokens\"") && !page.contains("/revoke\""), "controls shown: {page}");
        assert!(!confirm.contains("method=\"post\" action=\"/ui/tokens/"), "{confirm}");
        assert_eq!(create.status(), StatusCode::FORBIDDEN);
        assert_eq!(revoke.status(), StatusCode::FORBIDDEN);
        assert_eq!(rows(&app, "api_tokens WHERE name IN ('victim', 'reader')"), 2);
        assert_eq!(rows(&app, "api_tokens WHERE name = 'mine'"), 0);
    }

    async fn tokens_created_and_revoked_in_the_console_are_audited_as_the_sessions_token(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, ops) = app.create_token("ops", "admin").await;
        let mut console = ConsoleClient::signed_in(&app, &ops).await;
        let csrf = console.form_token("/ui/tokens").await;

        let created = console.post("/ui/tokens", &[("csrf", &csrf), ("name", "deploy"), ("scope", "ingest")]).await;
        assert_eq!(created.status(), StatusCode::OK);
        let body = created.text().await.unwrap();
        let secret = body.split("id=\"new-secret\" class=\"code-block\">").nth(1).and_then(|rest| rest.split('<').next()).expect("the secret");
        let listed = console.page("/ui/tokens").await;
        let id = listed.split("/ui/tokens/").nth(1).and_then(|rest| rest.split('/').next()).expect("a revoke link").to_owned();
        let used = app.with_token(Method::POST, "/api/v1/events", secret).json(&serde_json::json!({"type": "x.test"})).send().await.unwrap();
        let revoked = console.post(&format!("/ui/tokens/{id}/revoke"), &[("csrf", &csrf)]).await;

        assert!(!listed.contains(secret), "the list shows the secret");
        assert!(listed.contains(&format!("…{}", &secret[secret.len() - 4..])));
        assert_eq!(used.status(), StatusCode::ACCEPTED, "the secret shown works");
        assert_eq!((revoked.status(), location(&revoked)), (StatusCode::SEE_OTHER, "/ui/tokens"));
        let audit = app.get_json("/api/v1/audit?resource_type=token").await;
        let entries: Vec<(String, String)> = audit["items"].as_array().unwrap().iter()
            .filter(|entry| entry["details"]["name"] == "deploy")
            .map(|entry| (entry["action"].as_str().unwrap().to_owned(), entry["actor"].as_str().unwrap().to_owned()))
            .collect();
        assert!(entries.contains(&("token.created".to_owned(), "token:ops".to_owned())), "{audit}");
        assert!(entries.contains(&("token.revoked".to_owned(), "token:ops".to_owned())), "{audit}");
        assert_eq!(rows(&app, "api_tokens WHERE name = 'deploy'"), 0);
    }

    async fn after_sign_out_the_cookie_leads_back_to_sign_in(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let old_cookie = console.cookie("sy_session").unwrap().to_owned();
        let csrf = console.form_token("/ui").await;

        let signed_out = console.post("/ui/sign-out", &[("csrf", &csrf)]).await;
        let mut replay = ConsoleClient::new(&app);
        replay.cookies.push(("sy_session".to_owned(), old_cookie));
        let after = replay.get("/ui/tokens").await;

        assert_eq!((signed_out.status(), location(&signed_out)), (StatusCode::SEE_OTHER, "/ui/sign-in"));
        assert_eq!(console.cookie("sy_session"), None, "the browser is told to forget it");
        assert_eq!(rows(&app, "ui_sessions"), 0);
        assert_eq!((after.status(), location(&after)), (StatusCode::SEE_OTHER, "/ui/sign-in"));
    }

    async fn revoking_a_token_ends_its_sessions(backend: Backend) {
        let app = spawn_app(backend).await;
        let (id, reader) = app.create_token("reader", "read").await;
        let mut console = ConsoleClient::signed_in(&app, &reader).await;
        assert_eq!(console.get("/ui").await.status(), StatusCode::OK);

        let revoked = app.admin(Method::DELETE, &format!("/api/v1/tokens/{id}")).send().await.unwrap();
        let after = console.get("/ui").await;

        assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
        assert_eq!(rows(&app, "ui_sessions"), 0);
        assert_eq!((after.status(), location(&after)), (StatusCode::SEE_OTHER, "/ui/sign-in"));
    }

    async fn ingest_and_unknown_tokens_cannot_sign_in(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, ingest) = app.create_token("feeder", "ingest").await;
        let mut console = ConsoleClient::new(&app);

        let refused = console.sign_in(&ingest).await;
        let refused_page = refused.text().await.unwrap();
        let unknown = console.sign_in("sy_not-a-token").await;

        assert!(refused_page.contains("cannot sign in to the console"), "{refused_page}");
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        assert!(unknown.text().await.unwrap().contains("not valid"));
        assert_eq!(rows(&app, "ui_sessions"), 0);
    }

    async fn user_supplied_values_are_shown_as_text(backend: Backend) {
        let app = spawn_app(backend).await;
        let script = "<script>alert(1)</script>";
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;
        let csrf = console.form_token("/ui/tokens").await;

        let created = console.post("/ui/tokens", &[("csrf", &csrf), ("name", script), ("scope", "read")]).await.text().await.unwrap();
        let taken = console.post("/ui/tokens", &[("csrf", &csrf), ("name", script), ("scope", "read")]).await;
        assert_eq!(taken.status(), StatusCode::CONFLICT);
        let taken = taken.text().await.unwrap();
        let listed = console.page("/ui/tokens").await;
        let quote = console.post("/ui/tokens", &[("csrf", &csrf), ("name", "\" autofocus onfocus=\"alert(1)"), ("scope", "root")]).await.text().await.unwrap();

        for page in [&created, &taken, &listed] {
            assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
            assert!(!page.contains(script), "{page}");
        }
        assert!(quote.contains("value=\"&quot; autofocus onfocus&#x3D;&quot;alert(1)\""), "{quote}");
        assert!(!quote.contains("\" autofocus onfocus"), "{quote}");
    }

    async fn sign_in_attempts_are_limited_per_address(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::new(&app);

        for _ in 0..10 {
            assert_eq!(console.sign_in("sy_wrong").await.status(), StatusCode::UNAUTHORIZED);
        }
        let limited = console.sign_in(ADMIN_TOKEN).await;

        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(limited.headers().contains_key("retry-after"));
        assert!(limited.text().await.unwrap().contains("Too many attempts"));
        assert_eq!(rows(&app, "ui_sessions"), 0);
    }

    async fn the_stylesheet_is_served_with_a_long_cache_and_others_are_not_found(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut console = ConsoleClient::new(&app);
        let page = console.page("/ui/sign-in").await;
        let css = page.split("href=\"").find_map(|rest| rest.split('"').next().filter(|href| href.ends_with(".css"))).expect("stylesheet link").to_owned();

        let served = console.get(&css).await;
        let stale = console.get("/ui/assets/app.000000000000.css").await;
        let missing = console.get("/ui/no-such-page").await;

        assert_eq!(served.status(), StatusCode::OK);
        assert!(served.headers()["cache-control"].to_str().unwrap().contains("max-age=31536000"));
        assert!(served.text().await.unwrap().contains("prefers-color-scheme: dark"));
        assert_eq!(stale.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(missing.text().await.unwrap().contains("<main"));
    }
}

#[derive(diesel::QueryableByName)]
struct IdHash {
    #[diesel(sql_type = diesel::sql_types::Text)]
    n: String,
}

backend_tests! {
    async fn the_overview_counts_open_incidents_and_the_last_days_deliveries(backend: Backend) {
        let app = crate::helpers::spawn_app_reaching_loopback(backend).await;
        let alerts = [
            json!({"dedup_key": "a", "action": "trigger", "title": "a", "severity": "critical"}),
            json!({"dedup_key": "b", "action": "trigger", "title": "b", "severity": "critical"}),
            json!({"dedup_key": "c", "action": "trigger", "title": "c", "severity": "warning"}),
            json!({"dedup_key": "d", "action": "trigger", "title": "d", "severity": "minor"}),
            json!({"dedup_key": "d", "action": "resolve"}),
        ];
        for alert in alerts {
            let sent = app.admin(Method::POST, "/api/v1/alerts").json(&alert).send().await.unwrap();
            assert!(sent.status().is_success(), "{alert}");
        }
        let hook = app.create_webhook(crate::helpers::webhook("<b>ops</b>", "http://127.0.0.1:9/hook", json!({}))).await;
        app.create_webhook(crate::helpers::webhook("quiet", "http://127.0.0.1:9/quiet", json!({}))).await;
        let day_ago = switchyard::timestamp::now_millis() - 25 * 60 * 60 * 1000;
        let old = switchyard::ids::id_bound_at("dlv", day_ago);
        insert_deliveries(&app, &hook, &[
            (format!("{old}0"), "failed"),
            (switchyard::ids::new_id("dlv"), "succeeded"),
            (switchyard::ids::new_id("dlv"), "succeeded"),
            (switchyard::ids::new_id("dlv"), "succeeded"),
            (switchyard::ids::new_id("dlv"), "failed"),
        ]);
        let mut console = ConsoleClient::signed_in(&app, ADMIN_TOKEN).await;

        let page = console.page("/ui").await;

        let figures: Vec<&str> = page.split("class=\"figure").skip(1).filter_map(|rest| rest.split('>').nth(1)?.split('<').next()).collect();
        assert_eq!(figures, vec!["3", "1", "0"], "open incidents, failed deliveries, silent sources: {page}");
        assert!(page.contains("badge-critical\">critical</span> <span class=\"count\">2<"), "{page}");
        assert!(page.contains("badge-warning\">warning</span> <span class=\"count\">1<"), "{page}");
        assert!(page.contains("badge-minor\">minor</span> <span class=\"count\">0<"), "{page}");
        assert!(page.contains("&lt;b&gt;ops&lt;/b&gt;") && page.contains("75 %"), "{page}");
        assert!(page.contains("quiet") && page.contains("nothing settled"), "{page}");
    }
}

/// Deliveries of `webhook` with the given ids and statuses, written directly: the overview only
/// reads them.
fn insert_deliveries(app: &crate::helpers::TestApp, webhook: &str, deliveries: &[(String, &str)]) {
    let mut conn = app.db().connect();
    diesel::sql_query("INSERT INTO events (id, event_type, occurred_at, payload) VALUES ('evt_overview', 'x.test', 0, '{}')")
        .execute(&mut conn)
        .unwrap();
    for (id, status) in deliveries {
        diesel::sql_query(format!(
            "INSERT INTO deliveries (id, event_id, webhook_id, status, attempts, max_attempts, next_attempt_at, initiated_by, created_at, updated_at) \
             VALUES ('{id}', 'evt_overview', '{webhook}', '{status}', 1, 5, 0, 'event', 0, 0)"
        ))
        .execute(&mut conn)
        .unwrap();
    }
}
