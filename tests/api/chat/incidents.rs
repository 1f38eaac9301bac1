//! Incidents from chat (SPEC §4.4): service answers that patch an incident, and the built-in
//! incident commands of a `builtin:incidents` service.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::backend_tests;
use crate::helpers::{TestApp, expect_json, spawn_app_reaching_loopback};

async fn open_incident(app: &TestApp, title: &str) -> Value {
    let response = app
        .admin(Method::POST, "/api/v1/incidents")
        .json(&json!({"title": title, "severity": "critical"}))
        .send()
        .await
        .unwrap();
    expect_json(response, 201).await
}

async fn say(app: &TestApp, text: &str) -> String {
    let reply = reply_of(post_form(app, "/hooks/outgoing", mattermost_form(text, &[])).await).await;
    reply["text"].as_str().unwrap_or_default().to_owned()
}

backend_tests! {
    async fn a_service_answer_patches_the_incident_it_names(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let incident = open_incident(&app, "CPU high on web-1").await;
        let number = incident["number"].as_i64().unwrap();
        let resolver = json_service(json!({"text": "resolving", "incident_id": number,
            "operations": {"appendIntent": {"intent": "Resolved", "message": "fixed by deploy 812"},
                           "addAttributes": {"attributes": [{"name": "Ticket", "value": "T-9"}]}}})).await;
        create_trigger(&app, trigger("fix", &resolver.uri(), json!({"incident_updates": true}))).await;

        assert_eq!(say(&app, "#fix web-1").await, "resolving");

        let patched = app.get_json(&format!("/api/v1/incidents/{number}")).await;
        assert_eq!(patched["status"], "resolved");
        assert_eq!(patched["attributes"][0]["name"], "Ticket");
        let last = patched["timeline"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["message"], "fixed by deploy 812");
        assert_eq!(last["actor"], "trigger:fix");
    }

    async fn patches_need_incident_updates_and_invalid_ones_change_nothing(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let incident = open_incident(&app, "Disk full").await;
        let id = incident["id"].as_str().unwrap();
        let ignored = json_service(json!({"incident_id": id, "operations": {"appendIntent": {"intent": "Resolved"}}})).await;
        let invalid = json_service(json!({"text": "trying", "incident_id": id,
            "operations": {"appendIntent": {"intent": "Exploded"}, "addAttributes": {"attributes": [{"name": "a", "value": "b"}]}}})).await;
        create_trigger(&app, trigger("off", &ignored.uri(), json!({}))).await;
        create_trigger(&app, trigger("bad", &invalid.uri(), json!({"incident_updates": true}))).await;

        assert_eq!(say(&app, "#off").await, "");
        let reply = say(&app, "#bad").await;
        assert!(reply.starts_with(&format!("trying\n\nbad: incident {id} was not changed: operations.appendIntent.intent")), "{reply}");

        let unchanged = app.get_json(&format!("/api/v1/incidents/{id}")).await;
        assert_eq!(unchanged["status"], "open");
        assert_eq!(unchanged["attributes"], json!([]));
        assert_eq!(unchanged["timeline"].as_array().unwrap().len(), 1);
    }

    async fn a_team_works_an_incident_from_chat_with_the_built_in_commands(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        create_trigger(&app, trigger("inc", "builtin:incidents", json!({}))).await;
        open_incident(&app, "CPU high on web-1").await;

        assert!(say(&app, "#inc").await.starts_with("Incident commands:"));
        assert!(say(&app, "#inc help").await.contains("`resolve N [message]`"));
        assert_eq!(say(&app, "#inc list").await, "Unresolved incidents:\n- #1 CPU high on web-1 (critical, open)");
        assert_eq!(say(&app, "#inc open Checkout is slow").await, "Opened #2 Checkout is slow (warning, open)");
        assert_eq!(say(&app, "#inc ack 1").await, "Acknowledged #1 CPU high on web-1 (critical, acknowledged)");
        assert_eq!(say(&app, "#inc comment 1 looking at the load balancer").await, "Commented on #1 CPU high on web-1 (critical, acknowledged)");
        assert_eq!(say(&app, "#inc resolve 2 cache warmed").await, "Resolved #2 Checkout is slow (warning, resolved)");
        let shown = say(&app, "#inc show 1").await;
        assert!(shown.starts_with("**#1 CPU high on web-1 (critical, acknowledged)**"), "{shown}");
        assert!(shown.contains("commented by chat:somename: looking at the load balancer"), "{shown}");
        assert_eq!(say(&app, "#inc list").await, "Unresolved incidents:\n- #1 CPU high on web-1 (critical, acknowledged)");
        assert_eq!(say(&app, "#inc show 99").await, "no incident `99`");
        assert!(say(&app, "#inc ack").await.starts_with("`ack` needs an incident number."));
        assert!(say(&app, "#inc dance 1").await.starts_with("I don't know `dance`."));

        let incident = app.get_json("/api/v1/incidents/1").await;
        let actors: Vec<&str> = incident["timeline"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
        assert_eq!(actors[1..], ["chat:somename", "chat:somename"]);
    }
}
