//! The configuration as users meet it through the binary: each mistake reported on one line
//! naming the key as it was written, `check-config`'s exit statuses, a closed standard output.

use std::process::{Output, Stdio};

use crate::binary;

const ERROR: &str = "switchyard: configuration error: ";
const TOP_LEVEL_KEYS: &str = "listen, database_url, public_url, admin_token, [limits], \
    [outbound], [chat], [retention], [log], [templates], [secrets]";
const TOP_LEVEL_VARIABLES: &str = "SWITCHYARD_LISTEN, SWITCHYARD_DATABASE_URL, \
    SWITCHYARD_PUBLIC_URL, SWITCHYARD_ADMIN_TOKEN, SWITCHYARD_LIMITS_<KEY>, \
    SWITCHYARD_OUTBOUND_<KEY>, SWITCHYARD_CHAT_<KEY>, SWITCHYARD_RETENTION_<KEY>, \
    SWITCHYARD_LOG_<KEY>, SWITCHYARD_TEMPLATES_<KEY>, SWITCHYARD_SECRETS_<KEY>";
/// Nothing listens on port 1.
const UNREACHABLE_POSTGRES: &str = "postgres://app:hunter2@127.0.0.1:1/switchyard";

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs the binary with `args` and asserts it stopped with exit status 2 and this one line.
fn assert_configuration_error(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    line: &str,
) {
    let output = binary::run(dir, args, env);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
    assert_eq!(stderr, format!("{ERROR}{line}\n"), "{args:?} {env:?}");
}

#[test]
fn mistakes_in_the_file_name_the_file_and_the_key_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let top_level = format!("known top-level keys: {TOP_LEVEL_KEYS}");
    let cases = [
        (
            "[limits]\nmax_body_byte = 10\n",
            "switchyard.toml: limits.max_body_byte: unknown key (did you mean max_body_bytes?); known keys in [limits]: max_body_bytes, database_wait_ms".to_owned(),
        ),
        (
            "listen_addr = \"127.0.0.1:1\"\n",
            format!("switchyard.toml: listen_addr: unknown key (did you mean listen?); {top_level}"),
        ),
        (
            "[limitz]\nmax_body_bytes = 2048\n",
            format!("switchyard.toml: limitz: unknown key (did you mean [limits]?); {top_level}"),
        ),
        ("x = = 1\n", "switchyard.toml:1:5: invalid TOML: invalid string; expected `\"`, `'`".to_owned()),
        (
            "listen = \"127.0.0.1:1\"\n[limits\n",
            "switchyard.toml:2:8: invalid TOML: invalid table header; expected `.`, `]`".to_owned(),
        ),
        (
            "[outbound]\nallowed_cidrs = 1\n",
            "switchyard.toml: outbound.allowed_cidrs: expected a list of CIDR ranges or a comma-separated string, found 1".to_owned(),
        ),
        (
            "[outbound]\nallowed_cidrs = [\"10.0.0.0/33\"]\n",
            "switchyard.toml: outbound.allowed_cidrs: `10.0.0.0/33` is not a CIDR range such as 10.0.0.0/8".to_owned(),
        ),
        (
            "[limits]\nmax_body_bytes = \"lots\"\n",
            "switchyard.toml: limits.max_body_bytes: expected a whole number (0 or more), found \"lots\"".to_owned(),
        ),
        (
            "[limits]\nmax_body_bytes = 10\n",
            "switchyard.toml: limits.max_body_bytes: must be between 1024 and 268435456, got 10".to_owned(),
        ),
        (
            "[log]\nformat = \"xml\"\n",
            "switchyard.toml: log.format: expected text or json, found \"xml\"".to_owned(),
        ),
        (
            "[chat]\nenabled = \"maybe\"\n",
            "switchyard.toml: chat.enabled: expected true or false, found \"maybe\"".to_owned(),
        ),
        ("limits = 3\n", "switchyard.toml: limits: is a section: write its keys under [limits]".to_owned()),
        (
            "listen = \"::1:8080\"\n",
            "switchyard.toml: listen: expected host:port, e.g. 127.0.0.1:8080, localhost:8080 or [::1]:8080, found `::1:8080`".to_owned(),
        ),
        (
            "listen = \"no-such-host.invalid:8080\"\n",
            "switchyard.toml: listen: `no-such-host.invalid` does not resolve to an address".to_owned(),
        ),
    ];

    for (toml, line) in cases {
        std::fs::write(dir.path().join("switchyard.toml"), toml).unwrap();
        for command in ["check-config", "serve"] {
            assert_configuration_error(dir.path(), &[command], &[], &line);
        }
    }
}

#[test]
fn mistakes_in_the_environment_name_the_variable_as_it_was_set() {
    let dir = tempfile::tempdir().unwrap();
    let limits_keys = "known variables in [limits]: SWITCHYARD_LIMITS_MAX_BODY_BYTES, SWITCHYARD_LIMITS_DATABASE_WAIT_MS";
    let cases = [
        (
            "SWITCHYARD_LIMITS_MAX_BODY_BYTE",
            "10",
            format!("SWITCHYARD_LIMITS_MAX_BODY_BYTE: unknown key (did you mean SWITCHYARD_LIMITS_MAX_BODY_BYTES?); {limits_keys}"),
        ),
        (
            "switchyard_limits_max_body_byte",
            "10",
            format!("switchyard_limits_max_body_byte: unknown key (did you mean SWITCHYARD_LIMITS_MAX_BODY_BYTES?); {limits_keys}"),
        ),
        (
            "SWITCHYARD_LISTN",
            "127.0.0.1:1",
            format!("SWITCHYARD_LISTN: unknown key (did you mean SWITCHYARD_LISTEN?); known top-level variables: {TOP_LEVEL_VARIABLES}"),
        ),
        ("SWITCHYARD_LIMITS", "3", "SWITCHYARD_LIMITS: is a section: set its keys as SWITCHYARD_LIMITS_<KEY>".to_owned()),
        (
            "SWITCHYARD_LIMITS_MAX_BODY_BYTES",
            "lots",
            "SWITCHYARD_LIMITS_MAX_BODY_BYTES: expected a whole number (0 or more), found \"lots\"".to_owned(),
        ),
        (
            "SWITCHYARD_LIMITS_MAX_BODY_BYTES",
            "10",
            "SWITCHYARD_LIMITS_MAX_BODY_BYTES: must be between 1024 and 268435456, got 10".to_owned(),
        ),
        (
            "switchyard_limits_max_body_bytes",
            "10",
            "switchyard_limits_max_body_bytes: must be between 1024 and 268435456, got 10".to_owned(),
        ),
        ("SWITCHYARD_LOG_FORMAT", "xml", "SWITCHYARD_LOG_FORMAT: expected text or json, found \"xml\"".to_owned()),
        (
            "SWITCHYARD_DATABASE_URL",
            "mysql://db/x",
            "SWITCHYARD_DATABASE_URL: must start with sqlite:// or postgres://".to_owned(),
        ),
        (
            "SWITCHYARD_OUTBOUND_ALLOWED_CIDRS",
            "1",
            "SWITCHYARD_OUTBOUND_ALLOWED_CIDRS: expected a list of CIDR ranges or a comma-separated string, found 1".to_owned(),
        ),
        (
            "SWITCHYARD_OUTBOUND_ALLOWED_CIDRS",
            "127.0.0.1/32,10.0.0.0/33",
            "SWITCHYARD_OUTBOUND_ALLOWED_CIDRS: `10.0.0.0/33` is not a CIDR range such as 10.0.0.0/8".to_owned(),
        ),
        (
            "SWITCHYARD_OUTBOUND_DEFAULT_TIMEOUT_MS",
            "0",
            "SWITCHYARD_OUTBOUND_DEFAULT_TIMEOUT_MS: must be between 1 and 300000, got 0".to_owned(),
        ),
        ("SWITCHYARD_ADMIN_TOKEN", "short", "SWITCHYARD_ADMIN_TOKEN: must be at least 16 characters".to_owned()),
        (
            "SWITCHYARD_LISTEN",
            "8080",
            "SWITCHYARD_LISTEN: expected host:port, e.g. 127.0.0.1:8080, localhost:8080 or [::1]:8080, found 8080".to_owned(),
        ),
        ("SWITCHYARD_PUBLIC_URL", "ftp://example.com", "SWITCHYARD_PUBLIC_URL: scheme must be http or https".to_owned()),
        ("SWITCHYARD_CHAT_ENABLED", "maybe", "SWITCHYARD_CHAT_ENABLED: expected true or false, found \"maybe\"".to_owned()),
    ];

    for (name, value, line) in cases {
        assert_configuration_error(dir.path(), &["check-config"], &[(name, value)], &line);
    }
}

#[test]
fn listen_takes_host_names_and_bracketed_ipv6_addresses() {
    let dir = tempfile::tempdir().unwrap();

    for address in ["localhost:8080", "[::1]:8080", "0.0.0.0:8080"] {
        let output = binary::run(
            dir.path(),
            &["check-config"],
            &[("SWITCHYARD_LISTEN", address)],
        );

        assert!(output.status.success(), "{address}: {}", stderr_of(&output));
        assert!(stdout_of(&output).contains(&format!("  listen        {address}\n")));
        assert!(stdout_of(&output).contains(&format!("  public_url    http://{address}\n")));
    }
}

#[test]
fn environment_overrides_the_file_and_lists_take_commas() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("custom.toml"),
        "database_url = \"sqlite://from-file.db\"\n[outbound]\nallowed_cidrs = [\"127.0.0.1/32\"]\n",
    )
    .unwrap();

    let from_file = binary::run(
        dir.path(),
        &["--config", "custom.toml", "check-config"],
        &[],
    );
    let overridden = binary::run(
        dir.path(),
        &["check-config", "--config", "custom.toml"],
        &[
            ("SWITCHYARD_DATABASE_URL", "sqlite://from-env.db"),
            (
                "SWITCHYARD_OUTBOUND_ALLOWED_CIDRS",
                "127.0.0.1/32, 10.0.0.0/8",
            ),
        ],
    );

    assert!(from_file.status.success(), "{}", stderr_of(&from_file));
    assert!(stdout_of(&from_file).contains("sqlite://from-file.db"));
    assert!(overridden.status.success(), "{}", stderr_of(&overridden));
    assert!(stdout_of(&overridden).contains("sqlite://from-env.db"));
    assert_configuration_error(
        dir.path(),
        &["--config", "./absent.toml", "check-config"],
        &[],
        "config file ./absent.toml does not exist",
    );
    std::fs::write(dir.path().join("custom.toml"), "[log]\nformat = 1\n").unwrap();
    assert_configuration_error(
        dir.path(),
        &["--config", "./custom.toml", "check-config"],
        &[],
        "./custom.toml: log.format: expected text or json, found 1",
    );
}

#[test]
fn a_database_that_cannot_be_opened_exits_3_from_check_config_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            UNREACHABLE_POSTGRES,
            "postgres://app:***@127.0.0.1:1/switchyard",
        ),
        (
            "sqlite:///nonexistent-folder/switchyard.db",
            "sqlite:///nonexistent-folder/switchyard.db",
        ),
        (
            "sqlite://missing/switchyard.db",
            "sqlite://missing/switchyard.db",
        ),
    ];

    for (url, shown) in cases {
        for command in ["check-config", "serve"] {
            let output = binary::run(dir.path(), &[command], &[("SWITCHYARD_DATABASE_URL", url)]);

            let stderr = stderr_of(&output);
            assert_eq!(output.status.code(), Some(3), "{command} {url}: {stderr}");
            assert!(
                stderr.starts_with(&format!("switchyard: database {shown}: ")),
                "{stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(
                !stderr.contains("hunter2") && !stdout_of(&output).contains("hunter2"),
                "password shown"
            );
        }
    }
    let missing = binary::run(
        dir.path(),
        &["check-config"],
        &[("SWITCHYARD_DATABASE_URL", "sqlite://missing/switchyard.db")],
    );
    assert!(
        stdout_of(&missing).starts_with("configuration is valid"),
        "{}",
        stdout_of(&missing)
    );
    assert_eq!(
        stderr_of(&missing),
        "switchyard: database sqlite://missing/switchyard.db: the folder missing does not exist\n"
    );
}

#[test]
fn check_config_accepts_a_sqlite_file_that_the_first_start_creates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();

    let output = binary::run(
        dir.path(),
        &["check-config"],
        &[("SWITCHYARD_DATABASE_URL", "sqlite://data/switchyard.db")],
    );

    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(stdout_of(&output).contains("does not exist yet (created at the first start)"));
    assert!(
        !dir.path().join("data/switchyard.db").exists(),
        "check-config created the database"
    );
}

/// Runs the binary with a standard output whose reader is already gone, as `| head -0` does.
fn run_with_closed_stdout(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    binary::command(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_standard_output_ends_no_command_with_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let unreachable = [("SWITCHYARD_DATABASE_URL", UNREACHABLE_POSTGRES)];
    let token_create = ["token", "create", "--scope", "read", "--name", "piped"];
    let cases: [(&[&str], &[_], i32); 6] = [
        (&["check-config"], &[], 0),
        (&["check-config"], &unreachable, 3),
        (&["migrate"], &[], 0),
        // The secret's only copy could not be shown: a failure, said on stderr.
        (&token_create, &[], 1),
        (&["--version"], &[], 0),
        (&["--help"], &[], 0),
    ];

    for (args, env, code) in cases {
        let output = run_with_closed_stdout(dir.path(), args, env);

        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(
            stderr.contains("cannot write to standard output"),
            code == 1,
            "{args:?}: {stderr}"
        );
    }
}
