use reqwest::Method;
use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, expect_json, spawn_app};

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

    let doc = openapi(&app).await;

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

#[tokio::test]
async fn the_openapi_document_describes_the_hooks_as_they_are_served() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc = openapi(&app).await;

    let expected: [(&str, &[(&str, Expected)]); 7] = [
        ("/hooks/outgoing", &[("post", CHAT_BODY)]),
        ("/hooks/outgoing/{trigger}", &[("post", CHAT_BODY)]),
        ("/hooks/slash", &[("post", CHAT_BODY), ("get", CHAT_QUERY)]),
        (
            "/hooks/slash/{trigger}",
            &[("post", CHAT_BODY), ("get", CHAT_QUERY)],
        ),
        ("/hooks/reply/{id}", &[("post", REPLY)]),
        ("/hooks/in/{source}", INTAKE),
        ("/hooks/in/{source}/{token}", INTAKE),
    ];
    let expected: Vec<(&str, &str, Expected)> = expected
        .iter()
        .flat_map(|(path, methods)| {
            methods
                .iter()
                .map(move |(method, answers)| (*path, *method, *answers))
        })
        .collect();
    let documented: Vec<(String, String)> = operations(&doc)
        .filter(|(path, _)| path.starts_with("/hooks/"))
        .collect();
    let listed: Vec<(String, String)> = expected
        .iter()
        .map(|(path, method, ..)| (path.to_string(), method.to_string()))
        .collect();
    assert_eq!(sorted(documented), sorted(listed));
    for (path, method, (media_types, statuses)) in expected {
        let operation = &doc["paths"][path][method];
        let taken: Vec<&String> = operation["requestBody"]["content"]
            .as_object()
            .map(|content| content.keys().collect())
            .unwrap_or_default();
        assert_eq!(taken, media_types, "{method} {path}");
        let answers: Vec<&String> = operation["responses"].as_object().unwrap().keys().collect();
        assert_eq!(answers, statuses, "{method} {path}");
        let parameters = operation["parameters"].as_array().map_or(0, Vec::len);
        assert_eq!(
            parameters,
            path.matches('{').count(),
            "{method} {path}: every path parameter is described"
        );
        assert!(
            operation["security"].is_null(),
            "{method} {path} takes no bearer token"
        );
    }
    let operation_ids: std::collections::BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    assert_eq!(
        operation_ids.len(),
        operations(&doc).count(),
        "operation ids are unique"
    );
}

backend_tests! {
    async fn every_documented_operation_is_served_and_no_other_method_is(backend: Backend) {
        let app = spawn_app(backend).await;
        let doc = openapi(&app).await;
        for path in doc["paths"].as_object().unwrap().keys() {
            let concrete = path.split('/').map(|segment| if segment.starts_with('{') { "x" } else { segment }).collect::<Vec<_>>().join("/");
            for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                let name = method.as_str().to_lowercase();
                let answered = app.admin(method, &concrete).send().await.unwrap().status().as_u16();
                let operation = &doc["paths"][path][&name];
                assert_eq!(answered != 405, operation.is_object(), "{name} {path} answered {answered}");
                if path.starts_with("/hooks/") && operation.is_object() {
                    let documented = &operation["responses"][answered.to_string()];
                    assert!(documented.is_object(), "{name} {path} answered {answered}, which is not documented");
                }
            }
        }
    }
}

/// The media types a hook operation takes and the statuses it documents.
type Expected = (&'static [&'static str], &'static [&'static str]);

const CHAT_BODY: Expected = (
    &["application/json", "application/x-www-form-urlencoded"],
    &["200", "400", "401", "413", "415", "501"],
);
const CHAT_QUERY: Expected = (&[], &["200", "400", "401", "501"]);
const REPLY: Expected = (
    &["application/json", "text/plain"],
    &["200", "400", "404", "413"],
);
const INTAKE_BODY: Expected = (&["*/*"], &["200", "401", "404", "413"]);
const INTAKE: &[(&str, Expected)] = &[
    ("post", INTAKE_BODY),
    ("put", INTAKE_BODY),
    ("patch", INTAKE_BODY),
    ("get", (&[], &["200", "401", "404"])),
];

async fn openapi(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    expect_json(response, 200).await
}

/// Every (path, method) the document describes.
fn operations(doc: &Value) -> impl Iterator<Item = (String, String)> + '_ {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
}

fn sorted(mut pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs.sort();
    pairs
}
