//! Receiving (SPEC §3.2): authentication, matching, and bad input.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::backend_tests;
use crate::helpers::{Backend, expect_error, spawn_app_reaching_loopback};

backend_tests! {
    async fn a_wrong_or_missing_token_is_a_bare_401_and_nothing_is_forwarded(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "built"})).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;

        let wrong = mattermost_form("#build", &[("token", Some("wrongwrongwrongwrongwrong1"))]);
        assert_refused(post_form(&app, "/hooks/outgoing", wrong).await).await;
        let missing = mattermost_form("#build", &[("token", None)]);
        assert_refused(post_form(&app, "/hooks/outgoing", missing).await).await;
        let unknown_word = mattermost_form("#nothing", &[("token", Some("wrongwrongwrongwrongwrong1"))]);
        assert_refused(post_form(&app, "/hooks/outgoing", unknown_word).await).await;

        assert!(svc.received_requests().await.unwrap().is_empty());
        let good = reply_of(post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await).await;
        assert_eq!(good["text"], "built");
    }

    async fn a_token_of_another_trigger_is_refused(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "deployed"})).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;
        create_trigger(&app, trigger("deploy", &svc.uri(), json!({"tokens": [OTHER_TOKEN]}))).await;

        let body = mattermost_form("#deploy", &[]);
        assert_refused(post_form(&app, "/hooks/outgoing", body).await).await;
        assert!(svc.received_requests().await.unwrap().is_empty());

        let own = mattermost_form("#deploy", &[("token", Some(OTHER_TOKEN))]);
        assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", own).await).await["text"], "deployed");
    }

    async fn an_unknown_trigger_word_with_a_known_token_is_answered_with_nothing(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "x"})).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;

        for text in ["#deploy now", "hello #build", "", "#build: now"] {
            let response = post_form(&app, "/hooks/outgoing", mattermost_form(text, &[])).await;
            assert_eq!(reply_of(response).await, serde_json::Value::Null, "{text:?}");
        }
        assert!(svc.received_requests().await.unwrap().is_empty());
    }

    async fn exact_prefix_and_case_insensitive_words_match_as_configured(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let exact = json_service(json!({"text": "exact"})).await;
        let prefix = json_service(json!({"text": "prefix"})).await;
        let folded = json_service(json!({"text": "folded"})).await;
        create_trigger(&app, trigger("build", &exact.uri(), json!({}))).await;
        create_trigger(&app, trigger("links", &prefix.uri(), json!({"trigger_words": ["http"], "trigger_when": "prefix"}))).await;
        create_trigger(&app, trigger("deploy", &folded.uri(), json!({"trigger_words": ["!Deploy"], "case_sensitive": false}))).await;

        let text = |text: &str| {
            let app = &app;
            let body = mattermost_form(text, &[]);
            async move { reply_of(post_form(app, "/hooks/outgoing", body).await).await["text"].clone() }
        };
        assert_eq!(text("#build\nmain").await, "exact");
        assert_eq!(text("#Build").await, serde_json::Value::Null);
        assert_eq!(text("https://example.com/x look").await, "prefix");
        assert_eq!(text("!DEPLOY prod").await, "folded");
        assert_eq!(text("!deploy").await, "folded");
        let forwarded = &folded.received_requests().await.unwrap()[0];
        let body: serde_json::Value = serde_json::from_slice(&forwarded.body).unwrap();
        assert_eq!(body["trigger_word"], "!Deploy");
        assert_eq!(body["args"], "prod");
    }

    async fn a_pinned_route_considers_only_its_trigger(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let build = json_service(json!({"text": "build"})).await;
        let deploy = json_service(json!({"text": "deploy"})).await;
        create_trigger(&app, trigger("build", &build.uri(), json!({}))).await;
        let deploy_trigger = create_trigger(&app, trigger("deploy", &deploy.uri(), json!({}))).await;

        let by_name = post_form(&app, "/hooks/outgoing/deploy", mattermost_form("#build", &[])).await;
        assert_eq!(reply_of(by_name).await, serde_json::Value::Null);
        let by_id = format!("/hooks/outgoing/{}", deploy_trigger["id"].as_str().unwrap());
        let pinned = post_form(&app, &by_id, mattermost_form("#deploy", &[])).await;
        assert_eq!(reply_of(pinned).await["text"], "deploy");
        assert!(build.received_requests().await.unwrap().is_empty());

        // A pinned trigger that does not exist authenticates nobody: strangers learn no names.
        let missing = post_form(&app, "/hooks/outgoing/nope", mattermost_form("#build", &[])).await;
        assert_refused(missing).await;
        let wrong_kind = post_form(&app, "/hooks/slash/deploy", slash_form("/deploy", "", "")).await;
        assert_refused(wrong_kind).await;
        let bad_token = mattermost_form("#deploy", &[("token", Some(OTHER_TOKEN))]);
        assert_refused(post_form(&app, "/hooks/outgoing/deploy", bad_token).await).await;
    }

    async fn channel_only_triggers_and_team_and_channel_filters(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let ops = json_service(json!({"text": "ops saw it"})).await;
        let scoped = json_service(json!({"text": "scoped"})).await;
        create_trigger(&app, trigger("ops-log", &ops.uri(), json!({"trigger_words": [], "channels": ["ops"]}))).await;
        create_trigger(&app, trigger("build", &scoped.uri(), json!({"teams": ["someteam"], "channels": ["hawos4dqtby53pd64o4a4cmeoo"]}))).await;

        let in_ops = mattermost_form("anything at all", &[("channel_name", Some("ops")), ("channel_id", Some("opsopsopsopsopsopsopsopsop"))]);
        assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", in_ops).await).await["text"], "ops saw it");
        let file_only = mattermost_form("", &[("channel_name", Some("ops"))]);
        assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", file_only).await).await["text"], "ops saw it");
        let elsewhere = mattermost_form("anything", &[]);
        assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", elsewhere).await).await, serde_json::Value::Null);

        let right_channel = mattermost_form("#build", &[]);
        assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", right_channel).await).await["text"], "scoped");
        let other_channel = mattermost_form("#build", &[("channel_id", Some("zzzzzzzzzzzzzzzzzzzzzzzzzz")), ("channel_name", Some("dev"))]);
        assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", other_channel).await).await, serde_json::Value::Null);
        let other_team = mattermost_form("#build", &[("team_id", Some("t2")), ("team_domain", Some("other"))]);
        assert_eq!(reply_of(post_form(&app, "/hooks/outgoing", other_team).await).await, serde_json::Value::Null);
    }

    async fn slack_signed_requests_verify_within_five_minutes_over_the_raw_body(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = service(wiremock::ResponseTemplate::new(200).set_body_string("plain answer")).await;
        // The body's legacy verification token is listed too: a signed trigger must ignore it.
        create_trigger(&app, json!({
            "name": "collect", "kind": "slash", "slack_signing_secret": SIGNING_SECRET,
            "tokens": ["xyzz0WbapA4vBCDEFasx0q6G"],
            "trigger_words": ["/webhook-collect"], "services": [{"endpoint": {"url": svc.uri()}}]
        })).await;
        // Slack's example body, with a timestamp of now.
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let send = |timestamp: i64, signature: String, body: String| {
            let app = &app;
            async move {
                app.client
                    .post(app.url("/hooks/slash"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("X-Slack-Request-Timestamp", timestamp.to_string())
                    .header("X-Slack-Signature", signature)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let now = now_seconds();
        let answer = reply_of(send(now, slack_signature(SIGNING_SECRET, now, body), body.into()).await).await;
        assert_eq!(answer["text"], "plain answer");

        let changed = body.replace("roadrunner", "roadrunnes");
        assert_refused(send(now, slack_signature(SIGNING_SECRET, now, body), changed).await).await;
        let old = now - 301;
        assert_refused(send(old, slack_signature(SIGNING_SECRET, old, body), body.into()).await).await;
        let other = slack_signature("another-secret-0123456789abcdef", now, body);
        assert_refused(send(now, other, body.into()).await).await;
        // The token is not consulted when the trigger is signed, nor on a GET.
        assert_refused(post_form(&app, "/hooks/slash", body.into()).await).await;
        let get = app.client.get(app.url(&format!("/hooks/slash/collect?{body}"))).send().await.unwrap();
        assert_refused(get).await;
        assert_eq!(svc.received_requests().await.unwrap().len(), 1);
    }

    async fn mattermost_slash_commands_come_as_get_or_post_with_the_token_in_a_header(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"response_type": "in_channel", "text": "started"})).await;
        create_trigger(&app, json!({
            "name": "build", "kind": "slash", "tokens": [TOKEN], "trigger_words": ["/build"],
            "services": [{"endpoint": {"url": svc.uri()}, "format": "mattermost-form"}]
        })).await;
        let query = slash_form("/build", "main", "https://chat.example/hooks/commands/abc")
            .replace(&format!("token={TOKEN}"), "token=");
        let get = app.client
            .get(app.url(&format!("/hooks/slash?{query}")))
            .header("Authorization", format!("Token {TOKEN}"))
            .send()
            .await
            .unwrap();
        let post = app.client
            .post(app.url("/hooks/slash"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Authorization", format!("Token {TOKEN}"))
            .body(query.clone())
            .send()
            .await
            .unwrap();
        for response in [get, post] {
            let answer = reply_of(response).await;
            assert_eq!(answer["text"], "started");
            assert_eq!(answer["response_type"], "in_channel");
        }
        let without = post_form(&app, "/hooks/slash", query).await;
        assert_refused(without).await;
        for forwarded in svc.received_requests().await.unwrap() {
            assert_eq!(forwarded.headers["authorization"], format!("Token {TOKEN}").as_str(), "no body token to pass on but the header");
        }
    }
}

backend_tests! {
    async fn bad_input_gets_a_clear_error_and_nothing_is_forwarded(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "x"})).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;
        let form = "application/x-www-form-urlencoded";

        let malformed = post_body(&app, "/hooks/outgoing", form, format!("{}&text=%zz", mattermost_form("#build", &[("text", None)]))).await;
        expect_error(malformed, 400, "malformed").await;
        let utf8 = post_body(&app, "/hooks/outgoing", form, format!("{}&text=%FF%FE", mattermost_form("#build", &[("text", None)]))).await;
        expect_error(utf8, 400, "malformed").await;
        let raw_utf8 = post_body(&app, "/hooks/outgoing", form, b"text=\xff\xfe".to_vec()).await;
        expect_error(raw_utf8, 400, "malformed").await;
        let duplicate = post_body(&app, "/hooks/outgoing", form, format!("{}&token={OTHER_TOKEN}", mattermost_form("#build", &[]))).await;
        let error = expect_error(duplicate, 400, "malformed").await;
        assert!(error["message"].as_str().unwrap().contains("token"), "{error}");
        let no_text = post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[("text", None)])).await;
        expect_error(no_text, 400, "malformed").await;
        let json_duplicate = post_body(&app, "/hooks/outgoing", "application/json", format!(r##"{{"token":"{TOKEN}","text":"#build","text":"#build"}}"##)).await;
        expect_error(json_duplicate, 400, "malformed").await;
        let not_json = post_body(&app, "/hooks/outgoing", "application/json", "{\"text\": ").await;
        expect_error(not_json, 400, "malformed").await;
        let wrong_type = post_body(&app, "/hooks/outgoing", "text/plain", mattermost_form("#build", &[])).await;
        expect_error(wrong_type, 415, "unsupported_media_type").await;
        let no_type = app.client.post(app.url("/hooks/outgoing")).body(mattermost_form("#build", &[])).send().await.unwrap();
        expect_error(no_type, 415, "unsupported_media_type").await;
        let oversized = format!("{}&x={}", mattermost_form("#build", &[]), "a".repeat(1024 * 1024));
        let too_big = post_form(&app, "/hooks/outgoing", oversized[..1024 * 1024 + 1].to_owned()).await;
        expect_error(too_big, 413, "payload_too_large").await;
        let get_outgoing = app.client.get(app.url("/hooks/outgoing")).send().await.unwrap();
        expect_error(get_outgoing, 405, "method_not_allowed").await;

        assert!(svc.received_requests().await.unwrap().is_empty());
    }

    async fn chat_can_be_switched_off_at_runtime(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let svc = json_service(json!({"text": "x"})).await;
        create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;
        let off = app.admin(Method::PUT, "/api/v1/settings").json(&json!({"chat": {"enabled": false}})).send().await.unwrap();
        assert_eq!(crate::helpers::expect_json(off, 200).await["chat"]["enabled"], false);

        let refused = post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await;
        expect_error(refused, 501, "not_implemented").await;
        let slash = post_form(&app, "/hooks/slash", slash_form("/build", "", "")).await;
        expect_error(slash, 501, "not_implemented").await;

        app.admin(Method::PUT, "/api/v1/settings").json(&json!({"chat": {"enabled": true}})).send().await.unwrap();
        let back = post_form(&app, "/hooks/outgoing", mattermost_form("#build", &[])).await;
        assert_eq!(reply_of(back).await["text"], "x");
    }
}

/// A flood of requests with bad tokens does not stop good ones (the log is checked in
/// `triggers::the_log_never_shows_chat_tokens`).
#[tokio::test]
async fn a_flood_of_bad_tokens_does_not_stop_good_requests() {
    let app = spawn_app_reaching_loopback(Backend::Sqlite).await;
    let svc = json_service(json!({"text": "ok"})).await;
    create_trigger(&app, trigger("build", &svc.uri(), json!({}))).await;

    let bad = (0..400).map(|n| {
        let body = mattermost_form("#build", &[("token", Some(&format!("badtoken{n:018}")))]);
        let request = app
            .client
            .post(app.url("/hooks/outgoing"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let good = (0..40).map(|_| {
        let request = app
            .client
            .post(app.url("/hooks/outgoing"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(mattermost_form("#build", &[]));
        async move {
            request
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    });
    let (bad, good) = tokio::join!(
        futures_util::future::join_all(bad),
        futures_util::future::join_all(good)
    );

    assert!(bad.iter().all(|status| *status == 401));
    assert!(good.iter().all(|reply| reply["text"] == "ok"), "{good:?}");
    assert_eq!(svc.received_requests().await.unwrap().len(), 40);
}
