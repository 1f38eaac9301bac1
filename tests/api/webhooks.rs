use reqwest::Method;
use serde_json::{Value, json};
use switchyard::outbound::Auth;
use switchyard::secrets::Secrets;
use switchyard::webhooks::WebhookSpec;

use crate::backend_tests;
use crate::helpers::{expect_error, expect_json, spawn_app, spawn_app_reaching_loopback};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn spec(url: &str) -> Value {
    json!({
        "name": "ops",
        "endpoint": {
            "url": url,
            "headers": "X-Team: platform\nX-Api-Token: header-secret-123456",
            "auth": {"type": "bearer", "token": "bearer-secret-0123456789"},
            "signing": {"scheme": "standard-webhooks", "secret": SECRET},
            "timeout_ms": 5000
        },
        "events": ["object.*", "x.deploy"]
    })
}

backend_tests! {
    async fn webhooks_are_created_read_replaced_and_deleted_with_secrets_masked(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;

        let id = app.create_webhook(spec("http://127.0.0.1:9/hook")).await;
        let read = app.get_json(&format!("/api/v1/webhooks/{id}")).await;
        let raw = read.to_string();

        for secret in ["bearer-secret-0123456789", "header-secret-123456", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
            assert!(!raw.contains(secret), "{secret} shown: {raw}");
        }
        assert_eq!(read["endpoint"]["auth"]["token"], "…6789");
        assert_eq!(read["endpoint"]["headers"]["X-Team"], "platform");
        assert_eq!(read["endpoint"]["signing"]["secrets"][0], "…LaSw");
        assert_eq!(read["format"], "generic");
        assert_eq!(read["max_attempts"], 8);

        let mut replacement = read.clone();
        for field in ["id", "created_at", "updated_at"] {
            replacement.as_object_mut().unwrap().remove(field);
        }
        replacement["description"] = json!("now described");
        let replaced = app.admin(Method::PUT, &format!("/api/v1/webhooks/{id}")).json(&replacement).send().await.unwrap();
        assert_eq!(expect_json(replaced, 200).await["description"], "now described");

        let mut conn = app.db().connect();
        let stored: Vec<ConfigColumn> = diesel::RunQueryDsl::load(diesel::sql_query("SELECT config FROM webhooks WHERE id NOT LIKE 'whk_system_%'"), &mut conn).unwrap();
        for secret in ["bearer-secret-0123456789", "header-secret-123456", SECRET] {
            assert!(!stored[0].config.contains(secret), "{secret} stored in clear: {}", stored[0].config);
        }
        let opened: WebhookSpec = Secrets::new(app.db().secrets_key.clone(), Vec::new()).open(&stored[0].config).unwrap();
        assert_eq!(opened.endpoint.auth, Auth::Bearer { token: "bearer-secret-0123456789".into() }, "a masked echo must keep the secret");

        let deleted = app.admin(Method::DELETE, &format!("/api/v1/webhooks/{id}")).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        expect_error(app.admin(Method::GET, &format!("/api/v1/webhooks/{id}")).send().await.unwrap(), 404, "not_found").await;

        let audit = app.get_json(&format!("/api/v1/audit?resource_id={id}")).await;
        let actions: Vec<_> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["webhook.deleted", "webhook.updated", "webhook.created"]);
        let audit_text = audit.to_string();
        assert!(!audit_text.contains("bearer-secret-0123456789") && !audit_text.contains("MfKQ9r8"), "{audit_text}");
        assert_eq!(audit["items"][1]["details"]["changes"][0]["field"], "description");
    }

    async fn invalid_webhooks_are_refused_naming_the_field(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let base = spec("http://127.0.0.1:9/hook");
        let cases: Vec<(&str, Value)> = vec![
            ("endpoint.url", json!({"url": "not a url"})),
            ("endpoint.url", json!({"url": "ftp://127.0.0.1/x"})),
            ("endpoint.auth.type", json!({"url": "http://127.0.0.1:9/", "auth": {"type": "digest"}})),
            ("endpoint.timeout_ms", json!({"url": "http://127.0.0.1:9/", "timeout_ms": -5})),
            ("endpoint.timeout_ms", json!({"url": "http://127.0.0.1:9/", "timeout_ms": 86_400_000})),
            ("endpoint.signing.secrets[0]", json!({"url": "http://127.0.0.1:9/", "signing": {"scheme": "standard-webhooks", "secret": "whsec_not*base64"}})),
            ("endpoint.signing.secret", json!({"url": "http://127.0.0.1:9/", "signing": {"scheme": "hmac-sha256", "secret": "short"}})),
            ("endpoint.signing.scheme", json!({"url": "http://127.0.0.1:9/", "signing": {"scheme": "rsa"}})),
            ("endpoint.headers.Bad Header", json!({"url": "http://127.0.0.1:9/", "headers": {"Bad Header": "x"}})),
            ("endpoint.method", json!({"url": "http://127.0.0.1:9/", "method": "TRACE"})),
        ];
        for (field, endpoint) in cases {
            let mut body = base.clone();
            body["endpoint"] = endpoint.clone();
            let response = app.admin(Method::POST, "/api/v1/webhooks").json(&body).send().await.unwrap();
            let error = expect_error(response, 422, "validation_failed").await;
            assert_eq!(error["field"], field, "for {endpoint}: {error}");
        }
        for (field, value) in [("events", json!(["incident.exploded"])), ("max_attempts", json!(0)), ("format", json!("fax"))] {
            let mut body = base.clone();
            body[field] = value;
            let response = app.admin(Method::POST, "/api/v1/webhooks").json(&body).send().await.unwrap();
            let error = expect_error(response, 422, "validation_failed").await;
            assert!(error["field"].as_str().unwrap().starts_with(field), "{error}");
        }
        app.create_webhook(base.clone()).await;
        let duplicate = app.admin(Method::POST, "/api/v1/webhooks").json(&base).send().await.unwrap();
        assert_eq!(expect_error(duplicate, 409, "conflict").await["field"], "name");
    }

    async fn internal_addresses_are_refused_at_save_unless_allowed(backend: Backend) {
        let strict = spawn_app(backend.clone()).await;
        let targets = [
            "http://127.0.0.1/x", "http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data",
            "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://localhost/x",
        ];
        for url in targets {
            let response = strict.admin(Method::POST, "/api/v1/webhooks").json(&spec(url)).send().await.unwrap();
            let error = expect_error(response, 422, "validation_failed").await;
            assert_eq!(error["field"], "endpoint.url", "{url}");
            let kind = if url.contains("169.254.169.254") { "cloud metadata" } else { "non-public" };
            assert!(error["message"].as_str().unwrap().contains(kind), "{url}: {error}");
        }
        drop(strict);

        let allow_list = ["127.0.0.0/8", "10.0.0.0/8", "169.254.169.254/32", "::1/128"];
        let listed = crate::helpers::spawn_app_with(backend.clone(), |config| {
            config.outbound.allowed_cidrs = allow_list.iter().map(|net| net.parse().unwrap()).collect();
        })
        .await;
        for (n, url) in targets.iter().enumerate() {
            let mut body = spec(url);
            body["name"] = json!(format!("w{n}"));
            let response = listed.admin(Method::POST, "/api/v1/webhooks").json(&body).send().await.unwrap();
            assert_eq!(response.status(), 201, "{url} should be allowed by the allow-list");
        }
        let outside = listed.admin(Method::POST, "/api/v1/webhooks").json(&spec("http://192.168.1.1/x")).send().await.unwrap();
        expect_error(outside, 422, "validation_failed").await;
        drop(listed);

        let open = crate::helpers::spawn_app_with(backend, |config| config.outbound.allow_private_networks = true).await;
        let private = open.admin(Method::POST, "/api/v1/webhooks").json(&spec("http://192.168.1.1/x")).send().await.unwrap();
        assert_eq!(private.status(), 201, "allow_private_networks opens every private range");
    }

    async fn a_missing_required_field_is_named_with_its_path(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let without = |path: &[&str]| {
            let mut body = spec("http://127.0.0.1:9/hook");
            let (last, parents) = path.split_last().unwrap();
            let parent = parents.iter().fold(&mut body, |value, key| &mut value[*key]);
            parent.as_object_mut().unwrap().remove(*last);
            body
        };
        for path in [&["name"][..], &["events"], &["endpoint"], &["endpoint", "url"], &["endpoint", "auth", "type"]] {
            let response = app.admin(Method::POST, "/api/v1/webhooks").json(&without(path)).send().await.unwrap();
            let error = expect_error(response, 422, "validation_failed").await;
            let field = path.join(".");
            assert_eq!(error["field"], field.as_str(), "{error}");
            assert_eq!(error["message"], format!("{field}: a required field is missing"));
        }
        assert!(stored_names(&app).is_empty(), "nothing is stored");
    }

    async fn cloud_metadata_addresses_stay_refused_under_allow_private_networks(backend: Backend) {
        let open = crate::helpers::spawn_app_with(backend, |config| config.outbound.allow_private_networks = true).await;
        for url in ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://100.100.100.200/latest/meta-data/"] {
            let response = open.admin(Method::POST, "/api/v1/webhooks").json(&spec(url)).send().await.unwrap();
            let error = expect_error(response, 422, "validation_failed").await;
            assert_eq!(error["field"], "endpoint.url", "{url}");
            let message = error["message"].as_str().unwrap();
            assert!(message.contains("cloud metadata address") && !message.contains("allowed_cidrs"), "{url}: {message}");
        }
        assert!(stored_names(&open).is_empty(), "a refused webhook is not stored");

        let listed = open.restart(|config| {
            config.outbound.allow_private_networks = true;
            config.outbound.allowed_cidrs = vec!["169.254.0.0/16".parse().unwrap()];
        })
        .await;
        let response = listed.admin(Method::POST, "/api/v1/webhooks").json(&spec("http://169.254.169.254/latest/meta-data/")).send().await.unwrap();
        assert_eq!(response.status(), 201, "a range that names the address opens it");
        let alibaba = listed.admin(Method::POST, "/api/v1/webhooks").json(&spec("http://100.100.100.200/")).send().await.unwrap();
        expect_error(alibaba, 422, "validation_failed").await;
        assert_eq!(stored_names(&listed), ["ops"]);
    }
}

#[derive(diesel::QueryableByName)]
struct ConfigColumn {
    #[diesel(sql_type = diesel::sql_types::Text)]
    config: String,
}

/// The names of the webhooks stored, the gateway's own system webhooks left out.
fn stored_names(app: &crate::helpers::TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use switchyard::store::schema::webhooks;
    webhooks::table
        .filter(webhooks::id.not_like("whk_system_%"))
        .select(webhooks::name)
        .load(&mut app.db().connect())
        .unwrap()
}
