use reqwest::Method;

use crate::backend_tests;
use crate::helpers::{expect_json, spawn_app};

backend_tests! {
    async fn creating_and_revoking_a_token_is_audited_without_its_secret(backend: Backend) {
        let app = spawn_app(backend).await;
        let (id, secret) = app.create_token("ops", "read").await;
        app.admin(Method::DELETE, &format!("/api/v1/tokens/{id}")).send().await.unwrap();
        app.create_token("unrelated", "read").await;

        let response = app
            .admin(Method::GET, &format!("/api/v1/audit?resource_type=token&resource_id={id}"))
            .send()
            .await
            .unwrap();

        let raw = response.text().await.unwrap();
        assert!(!raw.contains(&secret["sy_".len()..]), "secret in the audit log: {raw}");
        let body: serde_json::Value = serde_json::from_str(&raw).unwrap();
        let entries = body["items"].as_array().unwrap();
        let actions: Vec<_> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["token.revoked", "token.created"]);
        for entry in entries {
            assert_eq!(entry["actor"], "config:admin_token");
            assert_eq!(entry["resource_id"], id.as_str());
            assert_eq!(entry["details"]["name"], "ops");
            assert_eq!(entry["details"]["scope"], "read");
            assert!(entry["at"].as_str().unwrap().ends_with('Z'));
        }
    }

    async fn the_audit_log_is_readable_with_a_read_token(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, read) = app.create_token("auditor", "read").await;

        let response = app.with_token(Method::GET, "/api/v1/audit", &read).send().await.unwrap();

        let body = expect_json(response, 200).await;
        assert_eq!(body["items"][0]["details"]["name"], "auditor");
    }
}
