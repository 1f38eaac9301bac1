//! Object events through `POST /api/v1/events`: what is stored and delivered.

use serde_json::json;

use crate::backend_tests;
use crate::helpers::spawn_app;

backend_tests! {
    async fn object_updates_get_their_changes_computed_unless_sent(backend: Backend) {
        let app = spawn_app(backend).await;
        let previous = json!({"id": "server-17", "os": "Debian 11", "hardware": {"cpu": 4, "ram_gb": 32},
                              "tags": ["web", "eu"], "retired": false, "owner": "ops"});
        let data = json!({"id": "server-17", "os": "Debian 12", "hardware": {"cpu": 8, "ram_gb": 32},
                          "tags": ["eu", "web"], "retired": false, "rack": "B4"});

        let computed = app.post_event(json!({"type": "object.updated", "subject": "server-17", "data": data, "previous": previous})).await;
        let sent = app.post_event(json!({"type": "object.updated", "data": data, "previous": previous,
                                         "changes": [{"field": "os", "old": "x", "new": "y"}]})).await;
        let created = app.post_event(json!({"type": "object.created", "data": data})).await;

        let stored = app.get_json(&format!("/api/v1/events/{computed}")).await;
        assert_eq!(stored["changes"], json!([
            {"field": "os", "old": "Debian 11", "new": "Debian 12"},
            {"field": "hardware.cpu", "old": 4, "new": 8},
            {"field": "tags", "old": ["web", "eu"], "new": ["eu", "web"]},
            {"field": "owner", "old": "ops", "new": null},
            {"field": "rack", "old": null, "new": "B4"}
        ]));
        assert_eq!(stored["previous"], previous);
        let kept = app.get_json(&format!("/api/v1/events/{sent}")).await;
        assert_eq!(kept["changes"], json!([{"field": "os", "old": "x", "new": "y"}]));
        let plain = app.get_json(&format!("/api/v1/events/{created}")).await;
        assert!(plain.get("changes").is_none(), "{plain}");
        assert_eq!(plain["data"], data);
    }
}
