//! Each sender's own documents through its preset (fixtures and where they come from:
//! `tests/fixtures/sources/README.md`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use super::*;
use crate::helpers::header;

fn signature(secret: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn by_key<'a>(incidents: &'a [Value], key: &str) -> &'a Value {
    incidents
        .iter()
        .find(|incident| incident["dedup_key"] == key)
        .unwrap_or_else(|| panic!("no incident {key}: {incidents:#?}"))
}

fn attribute<'a>(incident: &'a Value, name: &str) -> &'a Value {
    &incident["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|attribute| attribute["name"] == name)
        .unwrap_or_else(|| panic!("no attribute {name}: {incident}"))["value"]
}

backend_tests! {
    async fn alertmanager_groups_open_repeat_and_resolve_incidents_by_fingerprint(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = subscribed(&app, json!(["incident.*"])).await;
        let source = create_source(&app, json!({"name": "prometheus", "kind": "alertmanager"})).await;
        let path = path_of(&app, &source);

        let firing = post_json(&app, &path, fixture("alertmanager-firing.json")).await;
        let results: Vec<&str> = firing["alerts"].as_array().unwrap().iter().map(|a| a["result"].as_str().unwrap()).collect();
        assert_eq!(results, ["opened", "opened"]);
        let repeated = post_json(&app, &path, fixture("alertmanager-firing.json")).await;
        assert_eq!(repeated["alerts"][0]["result"], "occurrence", "repeat_interval re-sends are occurrences");
        post_json(&app, &path, fixture("alertmanager-partly-resolved.json")).await;
        post_json(&app, &path, fixture("alertmanager-resolved.json")).await;

        let stored = incidents(&app).await;
        assert_eq!(stored.len(), 2);
        let disk = by_key(&stored, "23a8453edaafa3f5");
        assert_eq!(disk["status"], "resolved");
        assert_eq!(disk["severity"], "critical");
        assert_eq!(disk["title"], "Filesystem has less than 3% space left.");
        assert_eq!(disk["source"], "prometheus");
        assert!(attribute(disk, "generatorURL").as_str().unwrap().starts_with("http"));
        let memory = by_key(&stored, "ad1ccd31aea3c3e8");
        assert_eq!((memory["status"].as_str(), memory["severity"].as_str()), (Some("resolved"), Some("warning")));
        assert_eq!(memory["occurrences"], 3);
        received(&target, 6).await;
    }

    async fn grafana_is_taken_with_and_without_its_signature(backend: Backend) {
        let app = spawn_app(backend).await;
        let signed = fixture_json("grafana-signed.json");
        let secret = signed["secret"].as_str().unwrap();
        create_source(&app, json!({"name": "grafana", "kind": "grafana",
            "auth": {"type": "hmac", "scheme": "grafana", "secret": secret}})).await;
        create_source(&app, json!({"name": "grafana-ts", "kind": "grafana",
            "auth": {"type": "hmac", "scheme": "grafana", "secret": secret, "timestamp_header": "X-Grafana-Alerting-Timestamp"}})).await;
        let plain = create_source(&app, json!({"name": "grafana-plain", "kind": "grafana"})).await;
        let body = fixture("grafana-firing.json");
        let json = [("Content-Type", "application/json")];

        // The signature Grafana computed for this body (grafana/alerting http/hmac.go).
        let expected = signed["without_timestamp"]["headers"]["X-Grafana-Alerting-Signature"].as_str().unwrap();
        let accepted = send(&app, Method::POST, "/hooks/in/grafana", &[json[0], ("X-Grafana-Alerting-Signature", expected)], body.clone()).await;
        assert_eq!(accepted.status(), 200);
        let forged = send(&app, Method::POST, "/hooks/in/grafana", &[json[0], ("X-Grafana-Alerting-Signature", &"0".repeat(64))], body.clone()).await;
        assert_eq!(forged.status(), 401);
        let unsigned = send(&app, Method::POST, "/hooks/in/grafana", &json, body.clone()).await;
        assert_eq!(unsigned.status(), 401);

        let now = chrono::Utc::now().timestamp().to_string();
        let fresh = hex::encode(signature(secret, &[now.as_bytes(), b":", &body]));
        let timed = send(&app, Method::POST, "/hooks/in/grafana-ts",
            &[json[0], ("X-Grafana-Alerting-Timestamp", &now), ("X-Grafana-Alerting-Signature", &fresh)], body.clone()).await;
        assert_eq!(timed.status(), 200);
        let stale_at = signed["with_timestamp"]["headers"]["X-Grafana-Alerting-Timestamp"].as_str().unwrap();
        let stale = signed["with_timestamp"]["headers"]["X-Grafana-Alerting-Signature"].as_str().unwrap();
        let replayed = send(&app, Method::POST, "/hooks/in/grafana-ts",
            &[json[0], ("X-Grafana-Alerting-Timestamp", stale_at), ("X-Grafana-Alerting-Signature", stale)], body.clone()).await;
        assert_eq!(replayed.status(), 401, "a signature from long ago is a replay");

        post_json(&app, &path_of(&app, &plain), fixture("grafana-resolved.json")).await;
        let stored = incidents(&app).await;
        let node = by_key(&stored, "69b894b1be7fb0b4");
        assert_eq!(node["title"], "High CPU usage on node-1.example.internal:9100");
        assert!(attribute(node, "dashboardURL").as_str().unwrap().starts_with("http"));
        assert_eq!(node["occurrences"], 2, "signed once, timed once");
    }

    async fn datagerry_objects_become_object_events_with_field_changes(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let target = subscribed(&app, json!(["object.*"])).await;
        let source = create_source(&app, json!({"name": "cmdb", "kind": "datagerry"})).await;
        let path = path_of(&app, &source);
        for name in ["datagerry-create.json", "datagerry-update.json", "datagerry-delete.json"] {
            // DATAGERRY sends `Content-Type: application/json` and nothing else of note.
            post_json(&app, &path, fixture(name)).await;
        }
        let delivered = received(&target, 3).await;
        let types: Vec<&str> = delivered.iter().map(|request| header(request, "x-switchyard-event")).collect();
        let mut sorted = types.clone();
        sorted.sort();
        assert_eq!(sorted, ["object.created", "object.deleted", "object.updated"]);

        let updated = app.get_json("/api/v1/events?type=object.updated").await["items"][0].clone();
        assert_eq!(updated["subject"], "3/42");
        assert_eq!(updated["data"]["fields"]["location"], "München");
        assert_eq!(updated["previous"]["fields"]["location"], "Berlin");
        assert!(updated["data"]["creation_time"].as_str().unwrap().ends_with('Z'), "dates as RFC 3339");
        let changed: Vec<&str> = updated["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
        assert!(changed.contains(&"fields.location") && changed.contains(&"fields.description"), "{changed:?}");
    }

    async fn tactical_rmm_bodies_it_broke_are_repaired(backend: Backend) {
        let app = spawn_app(backend).await;
        let source = create_source(&app, json!({"name": "rmm", "kind": "tactical-rmm"})).await;
        let path = path_of(&app, &source);
        // Tactical RMM sends `json.dumps` of whatever it has, with its header template's
        // `Content-Type: application/json`.
        let quote = post_json(&app, &path, fixture("tactical-rmm-failure-quote.txt")).await;
        assert_eq!(quote["unmapped"], Value::Null, "{quote}");
        assert_eq!(quote["alerts"][0]["result"], "opened");
        post_json(&app, &path, fixture("tactical-rmm-failure-none.txt")).await;
        post_json(&app, &path, fixture("tactical-rmm-failure-windows-path.txt")).await;

        let stored = incidents(&app).await;
        let incident = by_key(&stored, "trmm-alert-1873");
        assert_eq!(incident["title"], "WS-FIN-07: check alert (error)");
        assert_eq!(incident["severity"], "critical", "Tactical RMM's error");
        assert!(incident["description"].as_str().unwrap().contains("Service \"Spooler\" stopped"));
        assert_eq!(attribute(incident, "hostname"), "WS-FIN-07");
        assert_eq!(attribute(incident, "client"), "Müller Logistik GmbH");
        assert_eq!(incident["occurrences"], 3);

        let resolved = post_json(&app, &path, fixture("tactical-rmm-resolved.json")).await;
        assert_eq!(resolved["alerts"][0]["result"], "resolved");
        let query = "?action=trigger&dedup_key=rmm-get-1&title=Agent%20offline&severity=warning";
        let by_get = send(&app, Method::GET, &format!("{path}{query}"), &[], Vec::new()).await;
        assert_eq!(expect_json(by_get, 200).await["alerts"][0]["result"], "opened");
        assert_eq!(by_key(&incidents(&app).await, "rmm-get-1")["title"], "Agent offline");
    }

    async fn tactical_rmm_templates_it_could_not_parse_and_form_bodies_are_read(backend: Backend) {
        let app = spawn_app(backend).await;
        let source = create_source(&app, json!({"name": "rmm", "kind": "tactical-rmm"})).await;
        let path = path_of(&app, &source);
        // When Tactical RMM cannot parse its own template (the unquoted numbers below), it sends
        // the template, variables replaced, as one JSON string (fixtures/sources/README.md).
        let template = String::from_utf8(fixture("tactical-rmm-template-failure-unquoted.json")).unwrap();
        let filled = template
            .replace("{{alert.id}}", "2044")
            .replace("{{alert.severity}}", "warning")
            .replace("{{alert.message}}", "Disk C: below 10 %")
            .replace("{{agent.hostname}}", "WS-FIN-08")
            .replace("{{agent.needs_reboot}}", "False")
            .replace("{{alert.resolved}}", "False")
            .replace("{{alert.resolved_on}}", "None");
        let wrapped = serde_json::to_vec(&Value::String(filled)).unwrap();
        let answer = post_json(&app, &path, wrapped).await;
        assert_eq!(answer["unmapped"], Value::Null, "{answer}");
        let stored = incidents(&app).await;
        let incident = by_key(&stored, "trmm-alert-2044");
        assert_eq!(attribute(incident, "hostname"), "WS-FIN-08");
        assert!(incident["description"].as_str().unwrap().contains("Disk C: below 10 %"));

        let form = b"action=trigger&dedup_key=rmm-form-1&title=Agent%20offline&severity=error".to_vec();
        let posted = send(&app, Method::POST, &path, &[("Content-Type", "application/x-www-form-urlencoded")], form).await;
        assert_eq!(expect_json(posted, 200).await["alerts"][0]["result"], "opened");
        assert_eq!(by_key(&incidents(&app).await, "rmm-form-1")["title"], "Agent offline");
    }

    async fn what_an_event_source_cannot_map_is_kept_as_an_unmapped_event(backend: Backend) {
        let app = spawn_app(backend).await;
        let cmdb = create_source(&app, json!({"name": "cmdb", "kind": "datagerry"})).await;
        let answer = post_json(&app, &path_of(&app, &cmdb), b"not json at all".to_vec()).await;
        assert!(answer["unmapped"].is_string(), "{answer}");
        // A custom mapping that makes events keeps what it made wrong as an event too.
        let custom = create_source(&app, json!({"name": "feed", "kind": "custom", "mapping": {
            "target": "event", "type": "{{json.kind}}"}})).await;
        post_json(&app, &path_of(&app, &custom), serde_json::to_vec(&json!({"kind": "bogus"})).unwrap()).await;

        let kept = app.get_json("/api/v1/events?type=x.unmapped").await["items"].as_array().unwrap().clone();
        assert_eq!(kept.len(), 2, "{kept:#?}");
        assert!(kept.iter().any(|event| event["data"]["body"] == "not json at all"));
        assert!(kept.iter().any(|event| event["data"]["source"] == "feed"));
        assert!(incidents(&app).await.is_empty(), "event sources open no incidents");
    }

    async fn vergeos_messages_become_events_or_alerts_under_each_auth_type(backend: Backend) {
        let app = spawn_app(backend).await;
        create_source(&app, json!({"name": "verge-bearer", "kind": "vergeos", "auth": {"type": "bearer", "token": "verge-bearer-token-1234"}})).await;
        create_source(&app, json!({"name": "verge-basic", "kind": "vergeos", "auth": {"type": "basic", "username": "verge", "password": "verge-pass-5678"}})).await;
        create_source(&app, json!({"name": "verge-key", "kind": "vergeos", "auth": {"type": "api_key", "key": "verge-api-key-9012"}})).await;
        let basic = format!("Basic {}", BASE64.encode("verge:verge-pass-5678"));
        let senders: [(&str, (&str, &str)); 3] = [
            ("verge-bearer", ("Authorization", "Bearer verge-bearer-token-1234")),
            ("verge-basic", ("Authorization", &basic)),
            ("verge-key", ("X-API-Key", "verge-api-key-9012")),
        ];
        for (name, credentials) in senders {
            let path = format!("/hooks/in/{name}");
            let default = send(&app, Method::POST, &path, &[credentials, ("Content-Type", "application/json")], fixture("vergeos-default.json")).await;
            assert_eq!(expect_json(default, 200).await["events"].as_array().unwrap().len(), 1, "{name}");
            let wrong = send(&app, Method::POST, &path, &[("Authorization", "Bearer nope")], fixture("vergeos-default.json")).await;
            assert_eq!(wrong.status(), 401, "{name}");
        }
        let alert = send(&app, Method::POST, "/hooks/in/verge-key", &[senders[2].1], fixture("vergeos-alert.json")).await;
        assert_eq!(expect_json(alert, 200).await["alerts"][0]["result"], "opened");
        let events = app.get_json("/api/v1/events?type=x.vergeos").await;
        assert_eq!(events["items"].as_array().unwrap().len(), 3);
        assert_eq!(events["items"][0]["data"], json!({"text": "Webhook"}));
        assert_eq!(by_key(&incidents(&app).await, "vergeos-sync-DR-Sync-Nightly")["severity"], "critical");
    }

    async fn all_quiet_incidents_open_and_resolve_with_their_signature(backend: Backend) {
        let app = spawn_app(backend).await;
        let secret = "aq-test-signing-secret-7f3b9c2e";
        create_source(&app, json!({"name": "allquiet", "kind": "allquiet", "auth": {"type": "hmac", "scheme": "allquiet", "secret": secret}})).await;
        for (name, result) in [("allquiet-open.json", "opened"), ("allquiet-resolved.json", "resolved")] {
            let body = fixture(name);
            let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let signed = BASE64.encode(signature(secret, &[at.as_bytes(), b":", &body]));
            let response = send(&app, Method::POST, "/hooks/in/allquiet",
                &[("Content-Type", "application/json"), ("x-aq-timestamp", &at), ("x-aq-signature", &signed)], body).await;
            assert_eq!(expect_json(response, 200).await["alerts"][0]["result"], result);
        }
        let incident = by_key(&incidents(&app).await, "allquiet/5f0c7a3e-2b1d-4c8e-9a47-3d6e1f2b8c90").clone();
        assert_eq!(incident["title"], "CPU > 90% on \"db-01\" & replica", "HTML entities decoded");
        assert_eq!(attribute(&incident, "Condition"), "load1 > 8 && load5 > 6");
        assert_eq!(incident["status"], "resolved");
    }

    async fn a_group_of_five_hundred_alerts_is_one_request(backend: Backend) {
        let app = spawn_app(backend).await;
        let source = create_source(&app, json!({"name": "prometheus", "kind": "alertmanager"})).await;
        let mut group = fixture_json("alertmanager-firing.json");
        let template = group["alerts"][0].clone();
        group["alerts"] = (0..500).map(|n| {
            let mut alert = template.clone();
            alert["fingerprint"] = json!(format!("{n:016x}"));
            alert
        }).collect();
        let answer = post_json(&app, &path_of(&app, &source), serde_json::to_vec(&group).unwrap()).await;
        assert_eq!(answer["alerts"].as_array().unwrap().len(), 500);
        let listed = app.get_json("/api/v1/incidents?limit=500").await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 500);
    }

    async fn a_custom_mapping_reads_the_request_and_preview_stores_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let source = create_source(&app, json!({"name": "checks", "kind": "custom", "mapping": {
            "target": "alert", "dedup_key": "{{json.check.id}}",
            "action": "{{#if json.ok}}resolve{{else}}trigger{{/if}}",
            "title": "{{json.check.name}} failed", "severity": "{{query.level}}",
            "attributes": {"agent": "{{headers.[user-agent]}}"}}})).await;
        let id = source["id"].as_str().unwrap();
        let body = json!({"check": {"id": "c-1", "name": "HTTP"}, "ok": false});
        let preview = app.admin(Method::POST, &format!("/api/v1/sources/{id}/preview"))
            .json(&json!({"body": body, "query": "level=critical", "headers": {"User-Agent": "checker/1"}}))
            .send().await.unwrap();
        let preview = expect_json(preview, 200).await;
        assert_eq!(preview["items"][0]["alert"]["title"], "HTTP failed");
        assert_eq!(preview["items"][0]["alert"]["severity"], "critical");
        assert!(incidents(&app).await.is_empty(), "a preview stores nothing");

        let path = format!("{}?level=critical", path_of(&app, &source));
        let answer = send(&app, Method::POST, &path, &[("User-Agent", "checker/1")], serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(expect_json(answer, 200).await["alerts"][0]["result"], "opened");
        let incident = by_key(&incidents(&app).await, "c-1").clone();
        assert_eq!(attribute(&incident, "agent"), "checker/1");

        // A changed mapping applies to the next request (mappings are compiled once per version).
        let mut changed = source.clone();
        for computed in ["id", "url", "created_at", "updated_at"] {
            changed.as_object_mut().unwrap().remove(computed);
        }
        changed["mapping"]["dedup_key"] = json!("v2-{{json.check.id}}");
        expect_json(app.admin(Method::PUT, &format!("/api/v1/sources/{id}")).json(&changed).send().await.unwrap(), 200).await;
        let again = send(&app, Method::POST, &path, &[], serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(expect_json(again, 200).await["alerts"][0]["result"], "opened");
        by_key(&incidents(&app).await, "v2-c-1");
    }
}
