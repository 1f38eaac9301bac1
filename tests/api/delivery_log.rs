//! The delivery log as a list: each delivery names its webhook and its event's type.

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use switchyard::store::schema::deliveries;

use crate::backend_tests;
use crate::helpers::{TestApp, expect_json, spawn_app_reaching_loopback, webhook};
use crate::receiver::{Script, receiver, status};

backend_tests! {
    async fn the_delivery_list_names_each_webhook_and_event_type(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = receiver(&Script::new(vec![status(200)])).await;
        let deploys = app.create_webhook(webhook("deploys", &target.uri(), json!({"events": ["x.deploy"]}))).await;
        let everything = app.create_webhook(webhook("everything", &target.uri(), json!({"events": ["*"]}))).await;
        let deploy = app.post_event(json!({"type": "x.deploy", "subject": "api", "data": {}})).await;
        let created = app.post_event(json!({"type": "object.created", "subject": "srv-1", "data": {"id": 1}})).await;

        let listed = app.get_json("/api/v1/deliveries").await;
        let mut shown: Vec<[String; 4]> = listed["items"].as_array().unwrap().iter().map(|item| {
            ["webhook_id", "webhook_name", "event_id", "event_type"].map(|field| item[field].as_str().unwrap().to_owned())
        }).collect();
        shown.sort();
        let mut expected = vec![
            [deploys.clone(), "deploys".into(), deploy.clone(), "x.deploy".into()],
            [everything.clone(), "everything".into(), deploy.clone(), "x.deploy".into()],
            [everything.clone(), "everything".into(), created.clone(), "object.created".into()],
        ];
        expected.sort();
        assert_eq!(shown, expected);
        let mut stored = stored_pairs(&app);
        stored.sort();
        let mut listed_pairs: Vec<(String, String)> = shown.iter().map(|[webhook, _, event, _]| (webhook.clone(), event.clone())).collect();
        listed_pairs.sort();
        assert_eq!(listed_pairs, stored, "the list shows every stored delivery");

        let first = app.get_json(&format!("/api/v1/deliveries?webhook={everything}&limit=1")).await;
        assert_eq!(first["items"][0]["event_type"], "object.created", "newest first: {first}");
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = app.get_json(&format!("/api/v1/deliveries?webhook={everything}&limit=1&cursor={cursor}")).await;
        assert_eq!((&second["items"][0]["event_type"], &second["items"][0]["webhook_name"]), (&json!("x.deploy"), &json!("everything")));

        rename(&app, &deploys, "deploys-renamed").await;
        let of_deploys = app.get_json(&format!("/api/v1/deliveries?webhook={deploys}")).await;
        let id = of_deploys["items"][0]["id"].as_str().unwrap();
        let one = app.get_json(&format!("/api/v1/deliveries/{id}")).await;
        assert_eq!((&one["webhook_name"], &one["event_type"]), (&json!("deploys-renamed"), &json!("x.deploy")), "the name as it is now: {one}");
    }
}

fn stored_pairs(app: &TestApp) -> Vec<(String, String)> {
    deliveries::table
        .select((deliveries::webhook_id, deliveries::event_id))
        .load(&mut app.db().connect())
        .unwrap()
}

async fn rename(app: &TestApp, id: &str, name: &str) {
    let mut spec: Value = app.get_json(&format!("/api/v1/webhooks/{id}")).await;
    for field in ["id", "created_at", "updated_at"] {
        spec.as_object_mut().unwrap().remove(field);
    }
    spec["name"] = json!(name);
    let replaced = app
        .admin(Method::PUT, &format!("/api/v1/webhooks/{id}"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    expect_json(replaced, 200).await;
}
