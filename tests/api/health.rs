use crate::backend_tests;
use crate::helpers::{Backend, expect_json, spawn_app};

backend_tests! {
    async fn healthz_and_readyz_answer_ok_once_migrated(backend: Backend) {
        let app = spawn_app(backend).await;

        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(expect_json(health, 200).await["status"], "ok");
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(expect_json(ready, 200).await["status"], "ready");
    }

    async fn readyz_fails_when_the_database_is_gone(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut conn = app.db().connect();
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            "DELETE FROM __diesel_schema_migrations",
        )
        .unwrap();

        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();

        let body = expect_json(ready, 503).await;
        assert_eq!(body["error"]["code"], "unavailable");
        assert!(body["error"]["message"].as_str().unwrap().contains("migrations"));
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sane_incoming_one_is_kept() {
    let app = spawn_app(Backend::Sqlite).await;

    let fresh = app.client.get(app.url("/healthz")).send().await.unwrap();
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "trace-42.a:b")
        .send()
        .await
        .unwrap();
    let replaced = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "has spaces and \"quotes\"")
        .send()
        .await
        .unwrap();

    let id_of = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id_of(&fresh).len(), 32);
    assert_eq!(id_of(&kept), "trace-42.a:b");
    assert_eq!(id_of(&replaced).len(), 32);
    assert_ne!(id_of(&fresh), id_of(&replaced));
}
