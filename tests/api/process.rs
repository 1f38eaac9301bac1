//! The binary as users run it: command line, first start, signals, logs.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::binary::{self, Server};
use crate::helpers::Backend;

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn version_and_help_describe_the_commands() {
    let dir = tempfile::tempdir().unwrap();

    let version = binary::run(dir.path(), &["--version"], &[]);
    let help = binary::run(dir.path(), &["--help"], &[]);

    assert!(String::from_utf8_lossy(&version.stdout).starts_with("switchyard 0."));
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    for word in [
        "serve",
        "migrate",
        "check-config",
        "token",
        "--config",
        "SWITCHYARD_",
    ] {
        assert!(
            help.contains(word),
            "--help does not mention {word}:\n{help}"
        );
    }
}

#[tokio::test]
async fn the_first_start_writes_an_admin_token_only_its_owner_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();

    let server = Server::start(
        dir.path(),
        &[("SWITCHYARD_DATABASE_URL", "sqlite://data/switchyard.db")],
    );

    let file = data.join("switchyard-admin.token");
    let token = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let log = server.log();
    assert!(log.contains("switchyard-admin.token"), "{log}");
    assert!(!log.contains(&token), "the token was logged");
    let client = crate::helpers::http_client();
    let created = client
        .post(server.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "second", "scope": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    drop(server);

    let _again = Server::start(
        dir.path(),
        &[("SWITCHYARD_DATABASE_URL", "sqlite://data/switchyard.db")],
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        token,
        "an admin existed: no new token"
    );
}

#[tokio::test]
async fn token_create_prints_a_token_with_the_asked_scope() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "an-admin-token-for-this-test";

    let output = binary::run(
        dir.path(),
        &["token", "create", "--scope", "read", "--name", "dashboard"],
        &[],
    );
    let bad_scope = binary::run(
        dir.path(),
        &["token", "create", "--scope", "root", "--name", "x"],
        &[],
    );

    assert!(output.status.success(), "{}", stderr_of(&output));
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        token.starts_with("sy_"),
        "stdout should hold only the token: {token}"
    );
    assert!(!stderr_of(&output).contains(&token));
    assert_eq!(bad_scope.status.code(), Some(2));
    let server = Server::start(dir.path(), &[("SWITCHYARD_ADMIN_TOKEN", admin)]);
    let client = crate::helpers::http_client();
    let read = client
        .get(server.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let write = client
        .post(server.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "nope", "scope": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(write.status(), 403);
}

#[tokio::test]
async fn migrate_is_idempotent_on_both_backends() {
    let backends = [Some(Backend::Sqlite), Backend::postgres()];
    for backend in backends.into_iter().flatten() {
        let db = crate::helpers::TestDatabase::create(&backend);
        let url = db.url_string();
        let env = [("SWITCHYARD_DATABASE_URL", url.as_str())];

        let first = binary::run(db.dir.path(), &["migrate"], &env);
        let second = binary::run(db.dir.path(), &["migrate"], &env);

        assert!(first.status.success(), "{}", stderr_of(&first));
        assert!(second.status.success(), "{}", stderr_of(&second));
        assert!(stderr_of(&first).contains("applied database migrations"));
        assert!(!stderr_of(&second).contains("applied database migrations"));
    }
}

#[tokio::test]
async fn sigterm_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let health = crate::helpers::http_client()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let status = server.terminate();

    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        server.log()
    );
    assert!(server.log().contains("stopped"));
    assert!(
        crate::helpers::http_client()
            .get(server.url("/healthz"))
            .send()
            .await
            .is_err(),
        "still answering after SIGTERM"
    );
}

#[tokio::test]
async fn json_logs_carry_request_ids_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "admin-secret-that-must-not-be-logged";
    let mut server = Server::start(
        dir.path(),
        &[
            ("SWITCHYARD_ADMIN_TOKEN", admin),
            ("SWITCHYARD_LOG_FORMAT", "json"),
        ],
    );
    let client = crate::helpers::http_client();
    let created: serde_json::Value = client
        .post(server.url("/api/v1/tokens"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"name": "logged?", "scope": "ingest"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issued = created["token"].as_str().unwrap().to_owned();
    client
        .get(server.url("/api/v1/tokens"))
        .bearer_auth(&issued)
        .send()
        .await
        .unwrap();
    client
        .get(server.url("/api/v1/tokens"))
        .bearer_auth("sy_guessed-secret-value")
        .send()
        .await
        .unwrap();
    client
        .get(server.url("/healthz?token=query-secret-value"))
        .send()
        .await
        .unwrap();
    client
        .get(server.url("/no/such/path?token=query-secret-value"))
        .send()
        .await
        .unwrap();

    server.terminate();
    std::thread::sleep(Duration::from_millis(100));

    let log = server.log();
    for secret in [
        admin,
        issued.as_str(),
        &issued["sy_".len()..],
        "guessed-secret-value",
        "query-secret-value",
    ] {
        assert!(
            !log.contains(secret),
            "`{secret}` appears in the log:\n{log}"
        );
    }
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let completed: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "request completed")
        .collect();
    assert_eq!(completed.len(), 5, "{log}");
    for line in completed {
        assert_eq!(
            line["span"]["request_id"].as_str().map(str::len),
            Some(32),
            "{line}"
        );
    }
}
