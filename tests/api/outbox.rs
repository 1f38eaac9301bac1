//! Every producer of events writes through the outbox, which starts the deliveries of a write
//! once it has committed. Nothing here waits for the claimer: it would find these deliveries
//! only when the 90 s lease of the process that stored them ends, so a producer that left its
//! deliveries unstarted fails each test by a wide margin. A write that rolls back sends nothing.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::{MockServer, Request, ResponseTemplate};

use crate::backend_tests;
use crate::chat::{create_trigger, json_service, mattermost_form, post_form, service, trigger};
use crate::helpers::{TestApp, expect_error, expect_json, header, spawn_app_reaching_loopback};

/// How soon after the answer a delivery must arrive: far below the lease.
const STARTED_WITHIN: Duration = Duration::from_secs(1);

/// The first `count` requests `receiver` got, which must all arrive within
/// [`STARTED_WITHIN`] of `answered`.
async fn arrive_soon(receiver: &MockServer, count: usize, answered: Instant) -> Vec<Request> {
    loop {
        let requests = receiver.received_requests().await.unwrap_or_default();
        if requests.len() >= count {
            return requests;
        }
        assert!(
            answered.elapsed() < STARTED_WITHIN,
            "{} of {count} deliveries arrived within {STARTED_WITHIN:?} of the answer: \
             a producer left its deliveries for the claimer",
            requests.len(),
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn event_types(requests: &[Request]) -> Vec<&str> {
    requests
        .iter()
        .map(|request| header(request, "x-switchyard-event"))
        .collect()
}

async fn ok_receiver() -> MockServer {
    service(ResponseTemplate::new(200)).await
}

async fn subscribe(app: &TestApp, name: &str, receiver: &MockServer, events: Value) -> String {
    app.create_webhook(json!({"name": name, "endpoint": {"url": receiver.uri()}, "events": events}))
        .await
}

/// Sends `request` and returns its JSON answer (of `status`) and when it came.
async fn answered(request: reqwest::RequestBuilder, status: u16) -> (Value, Instant) {
    let body = expect_json(request.send().await.unwrap(), status).await;
    (body, Instant::now())
}

async fn alert(app: &TestApp, body: Value) -> (Value, Instant) {
    answered(app.admin(Method::POST, "/api/v1/alerts").json(&body), 202).await
}

fn patch_request(app: &TestApp, reference: &str, operations: Value) -> reqwest::RequestBuilder {
    app.admin(Method::PATCH, &format!("/api/v1/incidents/{reference}"))
        .json(&json!({ "operations": operations }))
}

fn trigger_alert(key: &str) -> Value {
    json!({"dedup_key": key, "action": "trigger", "title": format!("{key} is down")})
}

backend_tests! {
    async fn events_posted_to_the_api_go_out_as_they_commit(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        subscribe(&app, "objects", &target, json!(["object.*"])).await;

        let request = app.admin(Method::POST, "/api/v1/events")
            .json(&json!({"type": "object.created", "data": {"id": 1}}));
        let (_, at) = answered(request, 202).await;

        assert_eq!(event_types(&arrive_soon(&target, 1, at).await), ["object.created"]);
    }

    async fn alert_intake_and_patches_go_out_as_they_commit(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        subscribe(&app, "ops", &target, json!(["incident.*"])).await;

        let (_, at) = alert(&app, trigger_alert("web-1")).await;
        assert_eq!(event_types(&arrive_soon(&target, 1, at).await), ["incident.created"]);

        let commented = json!({"appendIntent": {"intent": "Commented", "message": "on it"}});
        let (_, at) = answered(patch_request(&app, "1", commented), 200).await;
        assert_eq!(event_types(&arrive_soon(&target, 2, at).await)[1], "incident.commented");
    }

    async fn incidents_opened_directly_or_from_chat_go_out_as_they_commit(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        subscribe(&app, "ops", &target, json!(["incident.*"])).await;
        create_trigger(&app, trigger("inc", "builtin:incidents", json!({}))).await;

        let request = app.admin(Method::POST, "/api/v1/incidents").json(&json!({"title": "Disk full"}));
        let (_, at) = answered(request, 201).await;
        assert_eq!(event_types(&arrive_soon(&target, 1, at).await), ["incident.created"]);

        let answer = post_form(&app, "/hooks/outgoing", mattermost_form("#inc ack 1", &[])).await;
        assert_eq!(answer.status(), 200);
        let at = Instant::now();
        assert_eq!(event_types(&arrive_soon(&target, 2, at).await)[1], "incident.acknowledged");
    }

    async fn a_forwarded_incident_goes_out_as_it_commits(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        let webhook = subscribe(&app, "tickets", &target, json!(["object.*"])).await;
        alert(&app, trigger_alert("web-1")).await;

        let request = app.admin(Method::POST, "/api/v1/incidents/1/forward")
            .json(&json!({ "webhook": webhook }));
        let (_, at) = answered(request, 200).await;

        assert_eq!(event_types(&arrive_soon(&target, 1, at).await), ["incident.forwarded"]);
    }

    async fn a_patch_from_a_webhook_answer_goes_out_as_it_commits(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let answer = json!({"operations": {"appendIntent": {"intent": "Resolved"}}});
        let automation = json_service(answer).await;
        app.create_webhook(json!({"name": "automation", "endpoint": {"url": automation.uri()},
                                  "events": ["incident.created"], "incident_updates": true})).await;
        let target = ok_receiver().await;
        subscribe(&app, "ops", &target, json!(["incident.resolved"])).await;

        let (_, at) = alert(&app, trigger_alert("web-1")).await;
        arrive_soon(&automation, 1, at).await;

        // The answer is applied as soon as it is read; its events then start at once.
        assert_eq!(event_types(&arrive_soon(&target, 1, Instant::now()).await), ["incident.resolved"]);
    }

    async fn chat_posts_and_chat_events_go_out_as_they_commit(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "build queued"})).await;
        let incoming = ok_receiver().await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({"reply": {"mode": "async", "post_url": incoming.uri()}}))).await;
        let events = ok_receiver().await;
        subscribe(&app, "chat-events", &events, json!(["chat.triggered"])).await;

        let answer = post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await;
        assert_eq!(answer.status(), 200);
        let at = Instant::now();

        let posted = arrive_soon(&incoming, 1, at).await;
        let post: Value = serde_json::from_slice(&posted[0].body).unwrap();
        assert_eq!(post["text"], "build queued");
        assert_eq!(event_types(&arrive_soon(&events, 1, at).await), ["chat.triggered"]);
    }

    async fn a_patch_that_fails_halfway_stores_and_sends_nothing(backend: Backend) {
        // The patch stores its attribute change, with that change's event and delivery, before
        // the reopening fails: the whole patch rolls back, and nothing of it is stored or sent.
        let app = spawn_app_reaching_loopback(backend).await;
        let target = ok_receiver().await;
        subscribe(&app, "ops", &target, json!(["incident.updated", "incident.commented"])).await;
        alert(&app, trigger_alert("k")).await;
        alert(&app, json!({"dedup_key": "k", "action": "resolve"})).await;
        alert(&app, trigger_alert("k")).await;

        let halfway = json!({"addAttributes": {"attributes": [{"name": "ticket", "value": "T-9"}]},
                             "appendIntent": {"intent": "Unresolved"}});
        let refused = patch_request(&app, "1", halfway).send().await.unwrap();
        expect_error(refused, 422, "validation_failed").await;
        let commented = json!({"appendIntent": {"intent": "Commented", "message": "still down"}});
        let (_, at) = answered(patch_request(&app, "2", commented), 200).await;
        arrive_soon(&target, 1, at).await;
        // Had the rolled-back delivery started, it would have been sent before this one.
        tokio::time::sleep(Duration::from_millis(200)).await;

        let requests = target.received_requests().await.unwrap();
        assert_eq!(event_types(&requests), ["incident.commented"]);
        let updates = app.get_json("/api/v1/events?type=incident.updated").await;
        assert_eq!(updates["items"], json!([]), "no event of the failed patch is stored");
        assert_eq!(app.get_json("/api/v1/incidents/1").await["attributes"], json!([]));
    }
}
