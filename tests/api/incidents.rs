//! Incidents and alert intake over HTTP: the lifecycle an RMM drives, deduplication under
//! concurrency, the timeline, lists and the events webhooks receive.

use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use switchyard::store::incidents::IncidentRow;
use switchyard::store::schema::incidents;

use crate::backend_tests;
use crate::helpers::{
    ADMIN_TOKEN as ADMIN, TestApp, expect_error, expect_json, received, settled, spawn_app,
    spawn_app_reaching_loopback,
};
use crate::receiver::{Script, receiver, status};

async fn alert(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.with_token(Method::POST, "/api/v1/alerts", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn alert_ok(app: &TestApp, token: &str, body: Value) -> Value {
    expect_json(alert(app, token, body).await, 202).await
}

fn trigger(key: &str, title: &str) -> Value {
    json!({"dedup_key": key, "action": "trigger", "title": title, "severity": "Critical", "source": "rmm",
           "message": "CPU above 95 %", "attributes": {"host": "web-1", "cpu": 97}})
}

backend_tests! {
    async fn an_rmm_drives_an_incident_through_its_lifecycle(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let (_, rmm) = app.create_token("rmm", "ingest").await;
        let target = receiver(&Script::new(vec![status(200)])).await;
        app.create_webhook(json!({"name": "ops", "endpoint": {"url": target.uri()}, "events": ["incident.*"]})).await;

        let opened = alert_ok(&app, &rmm, trigger("web-1/cpu", "CPU high on web-1")).await;
        let mut again = trigger("web-1/cpu", "ignored for an occurrence");
        again["attributes"] = json!([{"name": "CPU", "value": "99"}, {"name": "graph", "value": "https://g/x.png", "isImage": true}]);
        let occurrence = alert_ok(&app, &rmm, again).await;
        let acknowledged = alert_ok(&app, &rmm, json!({"dedup_key": "web-1/cpu", "action": "acknowledge", "message": "on it"})).await;
        let repeated = alert_ok(&app, &rmm, json!({"dedup_key": "web-1/cpu", "action": "acknowledge"})).await;
        let resolved = alert_ok(&app, &rmm, json!({"dedup_key": "web-1/cpu", "action": "resolve", "message": "back to normal"})).await;
        let nothing_open = alert(&app, &rmm, json!({"dedup_key": "web-1/cpu", "action": "resolve"})).await;
        let reopened = alert_ok(&app, &rmm, trigger("web-1/cpu", "CPU high again")).await;

        assert_eq!(opened["result"], "opened");
        let incident = &opened["incident"];
        assert_eq!((incident["number"].as_i64(), incident["status"].as_str()), (Some(1), Some("open")));
        assert_eq!(incident["severity"], "critical");
        assert_eq!(incident["description"], "CPU above 95 %");
        assert_eq!(incident["attributes"], json!([
            {"name": "host", "value": "web-1", "is_image": false, "hide_in_previews": false},
            {"name": "cpu", "value": "97", "is_image": false, "hide_in_previews": false}]));
        assert_eq!(incident["timeline"][0]["intent"], "created");
        assert_eq!(incident["timeline"][0]["actor"], "token:rmm");
        assert_eq!(occurrence["result"], "occurrence");
        assert_eq!(occurrence["incident"]["occurrences"], 2);
        assert_eq!(occurrence["incident"]["title"], "CPU high on web-1");
        assert_eq!(occurrence["incident"]["attributes"][1], json!({"name": "CPU", "value": "99", "is_image": false, "hide_in_previews": false}));
        assert_eq!(occurrence["incident"]["attributes"][2]["is_image"], true);
        assert_eq!(acknowledged["incident"]["status"], "acknowledged");
        assert!(acknowledged["incident"]["acknowledged_at"].is_string());
        assert_eq!(repeated["result"], "acknowledged");
        assert_eq!(repeated["incident"]["timeline"].as_array().unwrap().len(), 3, "a repeated acknowledgement changes nothing");
        assert_eq!(resolved["incident"]["status"], "resolved");
        let timeline = resolved["incident"]["timeline"].as_array().unwrap();
        let intents: Vec<&str> = timeline.iter().map(|entry| entry["intent"].as_str().unwrap()).collect();
        assert_eq!(intents, ["created", "occurrence", "acknowledged", "resolved"]);
        assert_eq!(timeline[3]["message"], "back to normal");
        assert_eq!(timeline[3]["changes"][0], json!({"field": "status", "old": "acknowledged", "new": "resolved"}));
        let error = expect_error(nothing_open, 404, "not_found").await;
        assert!(error["message"].as_str().unwrap().contains("web-1/cpu"), "{error}");
        assert_eq!(reopened["result"], "opened");
        assert_eq!(reopened["incident"]["number"], 2);

        let requests = received(&target, 5).await;
        let types: Vec<&str> = requests.iter().map(|r| r.headers.get("x-switchyard-event").unwrap().to_str().unwrap()).collect();
        assert_eq!(types.len(), 5);
        for expected in ["incident.created", "incident.updated", "incident.acknowledged", "incident.resolved"] {
            assert!(types.contains(&expected), "{types:?}");
        }
        let update: Value = requests.iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
            .find(|event| event["type"] == "incident.updated").unwrap();
        assert_eq!(update["data"]["occurrences"], 2);
        assert_eq!(update["previous"]["occurrences"], 1);
        assert!(update["changes"].as_array().unwrap().contains(&json!({"field": "occurrences", "old": 1, "new": 2})));
    }

    async fn concurrent_triggers_with_one_key_open_one_incident(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, rmm) = app.create_token("rmm", "ingest").await;

        let keys = ["db-1/disk", "db-2/disk", "db-3/disk"];

        // 50 on one key, 10 on each of two others, all at once.
        let key_of = |i: usize| keys[if i < 50 { 0 } else { 1 + i % 2 }];
        let answers = join_all((0..70).map(|i| alert(&app, &rmm, trigger(key_of(i), "Disk full")))).await;

        let mut results = Vec::new();
        for answer in answers {
            results.push(expect_json(answer, 202).await["result"].as_str().unwrap().to_owned());
        }
        assert_eq!(results.iter().filter(|r| *r == "opened").count(), 3, "{results:?}");
        let mut numbers = Vec::new();
        for (key, occurrences) in keys.into_iter().zip([50, 10, 10]) {
            let listed = app.get_json(&format!("/api/v1/incidents?dedup_key={key}")).await;
            let items = listed["items"].as_array().unwrap();
            assert_eq!(items.len(), 1, "{key}");
            assert_eq!(items[0]["occurrences"], occurrences, "{key}");
            numbers.push(items[0]["number"].as_i64().unwrap());
        }
        numbers.sort();
        assert_eq!(numbers, [1, 2, 3]);

        // The database itself refuses a second unresolved incident with a key, whatever the code.
        let listed = app.get_json("/api/v1/incidents?dedup_key=db-1/disk").await;
        let id = listed["items"][0]["id"].as_str().unwrap();
        let mut conn = app.db().connect();
        let mut row = incidents::table.find(id).select(IncidentRow::as_select()).first(&mut conn).unwrap();
        row.id = "inc_duplicate".into();
        row.number = 99;
        let error = diesel::insert_into(incidents::table).values(&row).execute(&mut conn).unwrap_err();
        assert!(matches!(error, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)), "{error}");
        row.status = "resolved".into();
        diesel::insert_into(incidents::table).values(&row).execute(&mut conn).expect("resolved incidents may share a key");
    }

    // Tactical RMM's alert template actions, as in the README, posted to a tactical-rmm source:
    // one body per transition, its variables replaced as Tactical RMM replaces them (plain text).
    async fn tactical_rmm_failure_and_resolved_actions_drive_one_incident(backend: Backend) {
        let app = spawn_app(backend).await;
        let source = crate::sources::create_source(&app, json!({"name": "rmm", "kind": "tactical-rmm"})).await;
        let path = crate::sources::path_of(&app, &source);
        let failure = include_str!("../../examples/tactical-rmm/failure.json");
        let resolved = include_str!("../../examples/tactical-rmm/resolved.json");
        let render = |template: &str, message: &str| {
            template
                .replace("{{alert.id}}", "1873")
                .replace("{{agent.hostname}}", "WS-0042")
                .replace("{{alert.alert_type}}", "check")
                .replace("{{alert.message}}", message)
                .replace("{{alert.severity}}", "error")
                .replace("{{client.name}}", "Contoso")
                .replace("{{site.name}}", "Berlin")
                .into_bytes()
        };

        let opened = crate::sources::post_json(&app, &path, render(failure, "WS-0042 Disk space C: below 10%")).await;
        let closed = crate::sources::post_json(&app, &path, render(resolved, "WS-0042 Disk space C: OK")).await;

        assert_eq!(opened["alerts"][0]["result"], "opened");
        assert_eq!(closed["alerts"][0]["result"], "resolved");
        let incident = app.get_json(&format!("/api/v1/incidents/{}", opened["alerts"][0]["incident"].as_str().unwrap())).await;
        assert_eq!(incident["title"], "WS-0042: check alert (error)");
        assert_eq!(incident["severity"], "critical");
        assert_eq!(incident["status"], "resolved");
        assert_eq!(incident["dedup_key"], "trmm-1873");
        assert_eq!(incident["attributes"][1], json!({"name": "client", "value": "Contoso", "is_image": false, "hide_in_previews": false}));
        assert_eq!(incident["timeline"][1]["message"], "WS-0042 Disk space C: OK");
    }

    async fn alerts_are_checked_and_need_an_ingest_or_admin_token(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, read) = app.create_token("viewer", "read").await;
        let (_, admin) = app.create_token("root", "admin").await;

        let no_title = alert(&app, &admin, json!({"dedup_key": "k", "action": "trigger"})).await;
        let bad_severity = alert(&app, &admin, json!({"dedup_key": "k", "action": "trigger", "title": "t", "severity": "apocalyptic"})).await;
        let bad_action = alert(&app, &admin, json!({"dedup_key": "k", "action": "explode"})).await;
        let empty_key = alert(&app, &admin, json!({"dedup_key": " ", "action": "resolve"})).await;
        let forbidden = alert(&app, &read, trigger("k", "t")).await;
        let unnamed = alert(&app, &admin, json!({"dedup_key": "k", "action": "trigger", "title": "t", "attributes": {"host": "web-1", "": "x"}})).await;
        let tactical = alert(&app, &admin, json!({"dedup_key": "k", "action": "trigger", "title": "t", "severity": "error"})).await;

        assert_eq!(expect_error(no_title, 422, "validation_failed").await["field"], "title");
        assert_eq!(expect_error(bad_severity, 422, "validation_failed").await["field"], "severity");
        assert_eq!(expect_error(bad_action, 422, "validation_failed").await["field"], "action");
        assert_eq!(expect_error(empty_key, 422, "validation_failed").await["field"], "dedup_key");
        expect_error(forbidden, 403, "forbidden").await;
        assert_eq!(expect_error(unnamed, 422, "validation_failed").await["field"], "attributes[1].name");
        assert_eq!(expect_json(tactical, 202).await["incident"]["severity"], "critical");
    }

    async fn incidents_are_listed_filtered_and_read_by_id_or_number(backend: Backend) {
        let app = spawn_app(backend).await;
        let create = |body: Value| app.admin(Method::POST, "/api/v1/incidents").json(&body).send();
        let first = expect_json(create(json!({"title": "CPU 100% on web-1", "severity": "critical", "source": "rmm"})).await.unwrap(), 201).await;
        expect_json(create(json!({"title": "Disk almost full", "severity": "warning", "source": "cmdb", "dedup_key": "disk"})).await.unwrap(), 201).await;
        expect_json(create(json!({"title": "Backup late", "severity": "info"})).await.unwrap(), 201).await;
        let taken = create(json!({"title": "again", "dedup_key": "disk"})).await.unwrap();
        let untitled = create(json!({"title": ""})).await.unwrap();

        let titles = |page: Value| -> Vec<String> {
            page["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(titles(app.get_json("/api/v1/incidents").await), ["Backup late", "Disk almost full", "CPU 100% on web-1"]);
        assert_eq!(titles(app.get_json("/api/v1/incidents?severity=Critical").await), ["CPU 100% on web-1"]);
        assert_eq!(titles(app.get_json("/api/v1/incidents?source=cmdb&status=open").await), ["Disk almost full"]);
        assert_eq!(titles(app.get_json("/api/v1/incidents?q=DISK").await), ["Disk almost full"]);
        assert_eq!(titles(app.get_json("/api/v1/incidents?q=100%25").await), ["CPU 100% on web-1"]);
        assert_eq!(titles(app.get_json("/api/v1/incidents?q=_").await), Vec::<String>::new());
        assert!(titles(app.get_json("/api/v1/incidents?status=resolved").await).is_empty());
        let page = app.get_json("/api/v1/incidents?limit=2").await;
        let cursor = page["next_cursor"].as_str().unwrap();
        assert_eq!(titles(app.get_json(&format!("/api/v1/incidents?limit=2&cursor={cursor}")).await), ["CPU 100% on web-1"]);
        let by_number = app.get_json("/api/v1/incidents/1").await;
        let by_id = app.get_json(&format!("/api/v1/incidents/{}", first["id"].as_str().unwrap())).await;
        assert_eq!(by_number, by_id);
        assert_eq!(by_id["timeline"][0]["intent"], "created");
        expect_error(app.admin(Method::GET, "/api/v1/incidents/99").send().await.unwrap(), 404, "not_found").await;
        expect_error(app.admin(Method::GET, "/api/v1/incidents?status=closed").send().await.unwrap(), 422, "validation_failed").await;
        assert_eq!(expect_error(taken, 409, "conflict").await["field"], "dedup_key");
        assert_eq!(expect_error(untitled, 422, "validation_failed").await["field"], "title");
        let next = expect_json(create(json!({"title": "Next"})).await.unwrap(), 201).await;
        assert_eq!(next["number"], 4, "the refused incident used up no number");
    }
}

backend_tests! {
    async fn webhook_filters_select_the_incident_events_delivered(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = receiver(&Script::new(vec![status(200)])).await;
        let hook = |name: &str, events: Value, filter: Value| {
            json!({"name": name, "endpoint": {"url": target.uri()}, "events": events, "filter": filter})
        };
        let critical_prod = app.create_webhook(hook("critical-prod", json!(["incident.*", "object.*"]), json!({
            "severities": ["critical"], "attributes": [{"name": "env", "op": "eq", "value": "prod"}]}))).await;
        let rmm_warnings = app.create_webhook(hook("rmm-warnings", json!(["incident.created"]), json!({
            "severities": ["warning"], "sources": ["RMM"]}))).await;
        let db_or_hot = app.create_webhook(hook("db-or-hot", json!(["incident.created"]), json!({"match": "any",
            "attributes": [{"name": "host", "op": "regex", "value": "^db-"}, {"name": "cpu", "op": "gt", "value": 90}]}))).await;
        let bad = app.admin(Method::POST, "/api/v1/webhooks")
            .json(&hook("bad", json!(["*"]), json!({"severities": ["fatal"]}))).send().await.unwrap();
        let raise = |key: &str, severity: &str, source: &str, attributes: Value| {
            json!({"dedup_key": key, "action": "trigger", "title": key, "severity": severity, "source": source, "attributes": attributes})
        };

        alert_ok(&app, ADMIN, raise("a", "critical", "rmm", json!({"env": "prod", "host": "web-1", "cpu": 97}))).await;
        alert_ok(&app, ADMIN, raise("b", "warning", "rmm", json!({"env": "prod", "host": "db-2", "cpu": 10}))).await;
        alert_ok(&app, ADMIN, raise("c", "warning", "zabbix", json!({"env": "dev", "host": "web-3", "cpu": 5}))).await;
        alert_ok(&app, ADMIN, json!({"dedup_key": "a", "action": "resolve"})).await;
        app.post_event(json!({"type": "object.created", "data": {"id": 1}})).await;

        assert_eq!(delivered_types(&app, &critical_prod).await, ["incident.created", "incident.resolved", "object.created"]);
        assert_eq!(delivered_types(&app, &rmm_warnings).await, ["incident.created"]);
        assert_eq!(delivered_types(&app, &db_or_hot).await, ["incident.created", "incident.created"]);
        assert_eq!(expect_error(bad, 422, "validation_failed").await["field"], "filter.severities[0]");
    }
}

/// The types of the events delivered to a webhook, sorted.
async fn delivered_types(app: &TestApp, webhook: &str) -> Vec<String> {
    let page = app
        .get_json(&format!("/api/v1/deliveries?webhook={webhook}"))
        .await;
    let mut types = Vec::new();
    for delivery in page["items"].as_array().unwrap() {
        let event = app
            .get_json(&format!(
                "/api/v1/events/{}",
                delivery["event_id"].as_str().unwrap()
            ))
            .await;
        types.push(event["type"].as_str().unwrap().to_owned());
    }
    types.sort();
    types
}

async fn patch(app: &TestApp, reference: &str, operations: Value) -> reqwest::Response {
    app.admin(Method::PATCH, &format!("/api/v1/incidents/{reference}"))
        .json(&json!({"operations": operations}))
        .send()
        .await
        .unwrap()
}

backend_tests! {
    async fn patches_in_all_quiets_format_apply_whole_or_not_at_all(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = receiver(&Script::new(vec![status(200)])).await;
        app.create_webhook(json!({"name": "ops", "endpoint": {"url": target.uri()}, "events": ["incident.*"]})).await;
        alert_ok(&app, ADMIN, trigger("web-1/cpu", "CPU high")).await;

        let invalid = [
            json!({"appendIntent": {"intent": "Commented"}}),
            json!({"appendIntent": {"intent": "Exploded"}}),
            json!({"changeSeverity": {"severity": "Apocalyptic"}, "appendIntent": {"intent": "Resolved"}}),
            json!({"addAttributes": {"attributes": [{"name": " ", "value": "x"}]}}),
            json!({"renameIncident": {}}),
            json!({}),
        ];
        for operations in invalid {
            let response = patch(&app, "1", operations.clone()).await;
            assert_eq!(response.status(), 422, "{operations}");
        }
        assert_eq!(app.get_json("/api/v1/incidents/1").await["timeline"].as_array().unwrap().len(), 1, "nothing applied");

        let patched = expect_json(patch(&app, "1", json!({
            "addAttributes": {"attributes": [{"name": "Ticket", "value": "https://t.example/T-9", "isImage": false, "hideInPreviews": true}]},
            "upsertAttributes": {"attributes": [{"name": "HOST", "value": "web-1.example"}]},
            "changeSeverity": {"severity": "Warning"},
            "appendIntent": {"intent": "resolved", "message": "fixed by deploy 812"}})).await, 200).await;
        let commented = expect_json(patch(&app, "1", json!({"appendIntent": {"intent": "Commented", "message": "post-mortem on Monday"}})).await, 200).await;
        let reopened = expect_json(patch(&app, "1", json!({"appendIntent": {"intent": "Unresolved"}})).await, 200).await;
        let investigated = expect_json(patch(&app, "1", json!({"appendIntent": {"intent": "Investigated"}})).await, 200).await;
        let same = expect_json(patch(&app, "1", json!({"upsertAttributes": {"attributes": [{"name": "cpu", "value": "97"}]}})).await, 200).await;
        let missing = patch(&app, "99", json!({"appendIntent": {"intent": "Resolved"}})).await;

        assert_eq!(patched["status"], "resolved");
        assert_eq!(patched["severity"], "warning");
        assert_eq!(patched["attributes"], json!([
            {"name": "HOST", "value": "web-1.example", "is_image": false, "hide_in_previews": false},
            {"name": "cpu", "value": "97", "is_image": false, "hide_in_previews": false},
            {"name": "Ticket", "value": "https://t.example/T-9", "is_image": false, "hide_in_previews": true}]));
        let intents: Vec<&str> = patched["timeline"].as_array().unwrap().iter().map(|e| e["intent"].as_str().unwrap()).collect();
        assert_eq!(intents, ["created", "attributes", "severity", "resolved"]);
        assert_eq!(patched["timeline"][3]["message"], "fixed by deploy 812");
        assert_eq!(patched["timeline"][3]["actor"], "config:admin_token");
        assert_eq!(commented["timeline"][4]["message"], "post-mortem on Monday");
        assert_eq!(reopened["status"], "open");
        assert!(reopened["resolved_at"].is_null());
        assert_eq!(investigated["status"], "acknowledged");
        assert_eq!(same["timeline"], investigated["timeline"], "an upsert that changes nothing records nothing");
        assert_eq!(investigated["timeline"].as_array().unwrap().len(), 7, "answers carry the whole timeline");
        expect_error(missing, 404, "not_found").await;

        let requests = received(&target, 7).await;
        let mut types: Vec<String> = requests.iter().map(|r| r.headers.get("x-switchyard-event").unwrap().to_str().unwrap().to_owned()).collect();
        types.sort();
        assert_eq!(types, ["incident.acknowledged", "incident.commented", "incident.created", "incident.reopened",
                           "incident.resolved", "incident.updated", "incident.updated"]);
    }

    async fn reopening_is_refused_while_another_incident_owns_the_key(backend: Backend) {
        let app = spawn_app(backend).await;
        alert_ok(&app, ADMIN, trigger("k", "first")).await;
        alert_ok(&app, ADMIN, json!({"dedup_key": "k", "action": "resolve"})).await;
        alert_ok(&app, ADMIN, trigger("k", "second")).await;

        let refused = patch(&app, "1", json!({"appendIntent": {"intent": "Unresolved"}})).await;

        let error = expect_error(refused, 422, "validation_failed").await;
        assert!(error["message"].as_str().unwrap().contains("dedup_key `k`"), "{error}");
        assert_eq!(app.get_json("/api/v1/incidents/1").await["status"], "resolved");
    }
}

backend_tests! {
    async fn forwarding_modes_decide_which_incident_events_a_webhook_gets(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = receiver(&Script::new(vec![status(200)])).await;
        let hook = |name: &str, events: Value, forwarding: &str| {
            json!({"name": name, "endpoint": {"url": target.uri()}, "events": events, "forwarding": forwarding})
        };
        let always = app.create_webhook(hook("always", json!(["incident.*"]), "always")).await;
        let after = app.create_webhook(hook("after", json!(["incident.*"]), "after_forwarding")).await;
        let only = app.create_webhook(hook("only", json!(["incident.*"]), "only_on_forwarding")).await;
        let objects = app.create_webhook(hook("objects", json!(["object.*"]), "always")).await;
        alert_ok(&app, ADMIN, trigger("web-1/cpu", "CPU high")).await;
        let forward = |webhook: &str| {
            app.admin(Method::POST, "/api/v1/incidents/1/forward").json(&json!({"webhook": webhook})).send()
        };

        expect_json(forward(&after).await.unwrap(), 200).await;
        expect_json(forward(&only).await.unwrap(), 200).await;
        let forwarded = expect_json(forward(&objects).await.unwrap(), 200).await;
        let unknown = forward("whk_nothing").await.unwrap();
        let no_incident = app.admin(Method::POST, "/api/v1/incidents/9/forward").json(&json!({"webhook": always})).send().await.unwrap();
        alert_ok(&app, ADMIN, json!({"dedup_key": "web-1/cpu", "action": "resolve"})).await;

        assert_eq!(forwarded["forwarded_to"], json!([after, only, objects]));
        let intents: Vec<&str> = forwarded["timeline"].as_array().unwrap().iter().map(|e| e["intent"].as_str().unwrap()).collect();
        assert_eq!(intents, ["created", "forwarded", "forwarded", "forwarded"]);
        assert_eq!(forwarded["timeline"][3]["message"], "to objects");
        assert_eq!(expect_error(unknown, 422, "validation_failed").await["field"], "webhook");
        expect_error(no_incident, 404, "not_found").await;
        let forwarded_event = "incident.forwarded";
        assert_eq!(delivered_types(&app, &always).await,
                   ["incident.created", forwarded_event, forwarded_event, forwarded_event, "incident.resolved"]);
        assert_eq!(delivered_types(&app, &after).await, [forwarded_event, forwarded_event, forwarded_event, "incident.resolved"]);
        assert_eq!(delivered_types(&app, &only).await, [forwarded_event]);
        assert_eq!(delivered_types(&app, &objects).await, [forwarded_event]);
        let page = app.get_json(&format!("/api/v1/deliveries?webhook={only}")).await;
        let snapshot = app.get_json(&format!("/api/v1/events/{}", page["items"][0]["event_id"].as_str().unwrap())).await;
        assert_eq!(snapshot["data"]["timeline"].as_array().unwrap().len(), 3, "the snapshot carries the timeline");
    }
}

backend_tests! {
    async fn a_webhook_answer_patches_its_incident_once(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let answer = json!({"operations": {
            "appendIntent": {"intent": "Commented", "message": "ticket T-9 opened"},
            "addAttributes": {"attributes": [{"name": "Ticket", "value": "https://t.example/T-9"}]}}});
        let ticketing = receiver(&Script::new(vec![status(200).set_body_json(answer)])).await;
        let broken = receiver(&Script::new(vec![status(200).set_body_json(json!({"operations": {"appendIntent": {"intent": "Shrugged"}}}))])).await;
        let ignored = receiver(&Script::new(vec![status(200).set_body_json(json!({"operations": {"changeSeverity": {"severity": "info"}}}))])).await;
        let hook = |name: &str, url: String, updates: bool| {
            json!({"name": name, "endpoint": {"url": url}, "events": ["incident.created"], "incident_updates": updates})
        };
        let ticketing_id = app.create_webhook(hook("ticketing", ticketing.uri(), true)).await;
        let broken_id = app.create_webhook(hook("broken", broken.uri(), true)).await;
        let ignored_id = app.create_webhook(hook("ignored", ignored.uri(), false)).await;

        let opened = alert_ok(&app, ADMIN, trigger("web-1/cpu", "CPU high")).await;
        let event_id = app.get_json(&format!("/api/v1/deliveries?webhook={ticketing_id}")).await["items"][0]["event_id"].as_str().unwrap().to_owned();
        let deliveries = app.deliveries_of(&event_id, settled).await;
        let of = |webhook: &str| deliveries.iter().find(|d| d["webhook_id"] == webhook).unwrap().clone();
        let first = of(&ticketing_id);
        let retried = app.admin(Method::POST, &format!("/api/v1/deliveries/{}/retry", first["id"].as_str().unwrap())).send().await.unwrap();
        assert!(retried.status().is_success());
        received(&ticketing, 2).await;
        let again = loop {
            let delivery = app.get_json(&format!("/api/v1/deliveries/{}", first["id"].as_str().unwrap())).await;
            if delivery["attempt_log"].as_array().unwrap().len() == 2 && delivery["status"] != "pending" {
                break delivery;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };

        let incident = app.get_json(&format!("/api/v1/incidents/{}", opened["incident"]["id"].as_str().unwrap())).await;
        let intents: Vec<&str> = incident["timeline"].as_array().unwrap().iter().map(|e| e["intent"].as_str().unwrap()).collect();
        assert_eq!(intents, ["created", "attributes", "commented"], "applied once, not per answer");
        assert_eq!(incident["timeline"][2]["actor"], "webhook:ticketing");
        assert_eq!(incident["attributes"].as_array().unwrap().iter().filter(|a| a["name"] == "Ticket").count(), 1);
        assert_eq!(incident["severity"], "critical", "a webhook without incident_updates patches nothing");
        assert_eq!(first["attempt_log"][0]["response"]["incident_update"]["applied"], true);
        let repeated = &again["attempt_log"][1]["response"]["incident_update"];
        assert_eq!(repeated, &json!({"applied": false, "reason": "already applied for this delivery"}));
        let refused = of(&broken_id);
        assert_eq!(refused["status"], "succeeded");
        let reason = refused["attempt_log"][0]["response"]["incident_update"]["reason"].as_str().unwrap();
        assert!(reason.contains("operations.appendIntent.intent"), "{reason}");
        assert!(of(&ignored_id)["attempt_log"][0]["response"].get("incident_update").is_none());
    }
}

backend_tests! {
    async fn an_answer_can_resolve_its_incident(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let answer = json!({"operations": {"appendIntent": {"intent": "Resolved"}}});
        let automation = receiver(&Script::new(vec![status(200).set_body_json(answer)])).await;
        app.create_webhook(json!({"name": "auto-fix", "endpoint": {"url": automation.uri()},
                                  "events": ["incident.created"], "incident_updates": true})).await;

        let opened = alert_ok(&app, ADMIN, trigger("web-1/cpu", "CPU high")).await;

        let path = format!("/api/v1/incidents/{}", opened["incident"]["id"].as_str().unwrap());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let resolved = loop {
            let incident = app.get_json(&path).await;
            if incident["status"] == "resolved" {
                break incident;
            }
            assert!(std::time::Instant::now() < deadline, "never resolved: {incident}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(resolved["timeline"][1]["actor"], "webhook:auto-fix");
        assert!(resolved["resolved_at"].is_string());
    }
}

backend_tests! {
    async fn a_webhook_previews_a_real_incident(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        alert_ok(&app, ADMIN, trigger("web-1/cpu", "CPU \"high\" on web-1")).await;
        let id = app.create_webhook(json!({"name": "chat", "endpoint": {"url": "http://127.0.0.1:9/x"},
            "events": ["incident.resolved"], "format": "custom",
            "body_template": "{\"text\": \"#{{incident.number}} {{incident.title}} ({{event.type}}, {{len incident.timeline}} entries)\"}"})).await;
        let preview = |body: Value| app.admin(Method::POST, &format!("/api/v1/webhooks/{id}/preview")).json(&body).send();

        let shown = expect_json(preview(json!({"incident": "1"})).await.unwrap(), 200).await;
        let missing = preview(json!({"incident": "99"})).await.unwrap();

        let body: Value = serde_json::from_str(shown["request"]["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["text"], "#1 CPU \"high\" on web-1 (incident.resolved, 1 entries)");
        expect_error(missing, 404, "not_found").await;
    }
}
