use diesel::prelude::*;
use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, expect_error, expect_json, spawn_app};

backend_tests! {
    async fn a_created_token_is_shown_once_then_only_masked(backend: Backend) {
        let app = spawn_app(backend).await;

        let (id, secret) = app.create_token("deploy bot", "read").await;

        assert!(secret.starts_with("sy_") && secret.len() > 40, "{secret}");
        let listed = expect_json(app.admin(Method::GET, "/api/v1/tokens").send().await.unwrap(), 200).await;
        let item = &listed["items"][0];
        assert_eq!(item["id"], id.as_str());
        assert_eq!(item["name"], "deploy bot");
        assert_eq!(item["scope"], "read");
        assert_eq!(item["token"], format!("…{}", &secret[secret.len() - 4..]));
        assert_eq!(item["created_by"], "config:admin_token");
        let one = expect_json(app.admin(Method::GET, &format!("/api/v1/tokens/{id}")).send().await.unwrap(), 200).await;
        assert_eq!(one["token"], item["token"]);
    }

    async fn only_a_hash_of_the_token_is_stored(backend: Backend) {
        let app = spawn_app(backend).await;
        let (id, secret) = app.create_token("ci", "ingest").await;

        let mut conn = app.db().connect();
        let stored: Vec<(String, String, String, String, String)> = diesel::sql_query(
            "SELECT id, name, scope, token_hash, hint FROM api_tokens",
        )
        .load::<TokenColumns>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|row| (row.id, row.name, row.scope, row.token_hash, row.hint))
        .collect();

        assert_eq!(stored.len(), 1);
        let (stored_id, _, _, hash, hint) = &stored[0];
        assert_eq!(stored_id, &id);
        assert_eq!(hash, &switchyard::tokens::hash_secret(&secret));
        let body = &secret["sy_".len()..];
        for column in [&stored[0].0, &stored[0].1, &stored[0].2, hash, hint] {
            assert!(!column.contains(body), "secret stored in a column: {column}");
        }
    }

    async fn each_scope_opens_exactly_its_routes(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, read) = app.create_token("reader", "read").await;
        let (_, ingest) = app.create_token("feeder", "ingest").await;
        let create = json!({ "name": "x", "scope": "read" });

        let read_get = app.with_token(Method::GET, "/api/v1/tokens", &read).send().await.unwrap();
        let read_post = app.with_token(Method::POST, "/api/v1/tokens", &read).json(&create).send().await.unwrap();
        let ingest_get = app.with_token(Method::GET, "/api/v1/audit", &ingest).send().await.unwrap();

        assert_eq!(read_get.status(), 200);
        let error = expect_error(read_post, 403, "forbidden").await;
        assert!(error["message"].as_str().unwrap().contains("admin"));
        expect_error(ingest_get, 403, "forbidden").await;
    }

    async fn missing_wrong_and_revoked_tokens_get_401(backend: Backend) {
        let app = spawn_app(backend).await;
        let (id, secret) = app.create_token("temporary", "admin").await;
        assert_eq!(app.with_token(Method::GET, "/api/v1/tokens", &secret).send().await.unwrap().status(), 200);

        let missing = app.client.get(app.url("/api/v1/tokens")).send().await.unwrap();
        assert_eq!(missing.headers()["www-authenticate"], "Bearer");
        expect_error(missing, 401, "unauthorized").await;
        let wrong = app.with_token(Method::GET, "/api/v1/tokens", "sy_not-a-real-token").send().await.unwrap();
        expect_error(wrong, 401, "unauthorized").await;
        let basic = app.client.get(app.url("/api/v1/tokens")).basic_auth("admin", Some(ADMIN_TOKEN)).send().await.unwrap();
        expect_error(basic, 401, "unauthorized").await;

        let revoked = app.admin(Method::DELETE, &format!("/api/v1/tokens/{id}")).send().await.unwrap();
        assert_eq!(revoked.status(), 204);
        let after = app.with_token(Method::GET, "/api/v1/tokens", &secret).send().await.unwrap();
        expect_error(after, 401, "unauthorized").await;
        let again = app.admin(Method::DELETE, &format!("/api/v1/tokens/{id}")).send().await.unwrap();
        expect_error(again, 404, "not_found").await;
    }

    async fn token_input_is_validated_field_by_field(backend: Backend) {
        let app = spawn_app(backend).await;
        app.create_token("taken", "read").await;
        let post = |body: serde_json::Value| app.admin(Method::POST, "/api/v1/tokens").json(&body).send();

        let duplicate = expect_error(post(json!({"name": "taken", "scope": "read"})).await.unwrap(), 409, "conflict").await;
        let empty = expect_error(post(json!({"name": "  ", "scope": "read"})).await.unwrap(), 422, "validation_failed").await;
        let scope = expect_error(post(json!({"name": "a", "scope": "root"})).await.unwrap(), 422, "validation_failed").await;
        let unknown = expect_error(post(json!({"name": "a", "scope": "read", "expires": 1})).await.unwrap(), 422, "validation_failed").await;
        let missing = expect_error(post(json!({"scope": "read"})).await.unwrap(), 422, "validation_failed").await;

        assert_eq!(duplicate["field"], "name");
        assert_eq!(empty["field"], "name");
        assert_eq!(scope["field"], "scope");
        assert_eq!(unknown["field"], "expires");
        assert!(missing["message"].as_str().unwrap().contains("name"), "{missing}");
    }

    async fn lists_page_with_a_cursor_newest_first(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut created = Vec::new();
        for n in 0..5 {
            created.push(app.create_token(&format!("t{n}"), "read").await.0);
        }

        let mut seen = Vec::new();
        let mut path = "/api/v1/tokens?limit=2".to_owned();
        loop {
            let page = expect_json(app.admin(Method::GET, &path).send().await.unwrap(), 200).await;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            seen.extend(items.iter().map(|item| item["id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/api/v1/tokens?limit=2&cursor={cursor}"),
                None => break,
            }
        }

        created.reverse();
        assert_eq!(seen, created);
        let bad = app.admin(Method::GET, "/api/v1/tokens?limit=abc").send().await.unwrap();
        assert_eq!(expect_error(bad, 422, "validation_failed").await["field"], "limit");
    }
}

#[derive(QueryableByName)]
struct TokenColumns {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    scope: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    token_hash: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    hint: String,
}
