use reqwest::Method;

use crate::helpers::{Backend, expect_json, spawn_app};

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app(Backend::Sqlite).await;
    app.admin(Method::GET, "/api/v1/tokens")
        .send()
        .await
        .unwrap();
    app.client
        .get(app.url("/api/v1/tokens"))
        .send()
        .await
        .unwrap();
    app.client
        .get(app.url("/api/v1/tokens/tok_x"))
        .send()
        .await
        .unwrap();

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for line in [
        r#"switchyard_http_requests_total{method="GET",route="/api/v1/tokens",status="200"} 1"#,
        r#"switchyard_http_requests_total{method="GET",route="/api/v1/tokens",status="401"} 1"#,
        r#"switchyard_http_requests_total{method="GET",route="/api/v1/tokens/{id}",status="401"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
    assert!(text.contains("switchyard_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/tokens\",le=\"0.001\"}"));
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let app = spawn_app(Backend::Sqlite).await;

    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();

    let doc = expect_json(response, 200).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{id}", "get"),
        ("/api/v1/tokens/{id}", "delete"),
        ("/api/v1/audit", "get"),
    ];
    for (path, method) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["TokenView"].is_object());
}
