//! Official Python libraries check our wire formats independently: `standardwebhooks` our
//! Standard Webhooks signatures, `slack_sdk` Slack's request signing. They are installed into a
//! virtual environment under `target/` on first use, so a fresh clone's `cargo test` needs no
//! manual step (only `python3` with its `venv` module, and the package index).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// Pinned, so that every run checks against the same libraries.
const REQUIREMENTS: [&str; 2] = ["standardwebhooks==1.3.0", "slack_sdk==3.48.0"];
/// Written into the virtual environment once the packages are installed: one without it
/// (an interrupted run) or with other requirements is made again.
const INSTALLED_MARKER: &str = "installed-requirements.txt";

/// Runs a Python script with `input` as JSON on its standard input. Returns what it printed,
/// and what it wrote to stderr.
pub fn run(script: &str, input: &Value) -> (String, String) {
    let mut child = Command::new(interpreter())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the virtual environment's python");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("stdin"),
        input.to_string().as_bytes(),
    )
    .expect("write to python");
    let output = child.wait_with_output().expect("python output");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `target/python-venv` of this checkout. Under the checkout even when `CARGO_TARGET_DIR` puts
/// the build elsewhere: the environment belongs to the sources whose requirements it holds.
fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/python-venv")
}

/// The virtual environment's interpreter, made at most once: threads of this process wait on
/// the `OnceLock`, other test processes on a file lock beside the environment.
fn interpreter() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = venv_dir();
        let target = venv.parent().expect("target/");
        fs::create_dir_all(target).expect("create target/");
        let lock = File::create(target.join("python-venv.lock")).expect("create the lock file");
        lock.lock().expect("lock the virtual environment");
        let marker = venv.join(INSTALLED_MARKER);
        let wanted = REQUIREMENTS.join("\n");
        if fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
            create(&venv);
            fs::write(&marker, wanted).expect("write the marker");
        }
        venv.join("bin/python")
    })
}

fn create(venv: &Path) {
    if venv.exists() {
        fs::remove_dir_all(venv).expect("remove an unfinished virtual environment");
    }
    succeed(
        Command::new("python3").args(["-m", "venv"]).arg(venv),
        "python3 -m venv (on Debian, install python3-venv)",
    );
    succeed(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(REQUIREMENTS),
        "pip install into the virtual environment",
    );
}

fn succeed(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_checkers_run_in_a_virtual_environment_under_target() {
    let script = "import json, sys, standardwebhooks, slack_sdk\n\
        print(json.dumps({'prefix': sys.prefix, 'echo': json.load(sys.stdin)}))";

    let (printed, errors) = run(script, &serde_json::json!({"hello": "world"}));

    let printed: Value = serde_json::from_str(&printed).unwrap_or_else(|_| panic!("{errors}"));
    let prefix = PathBuf::from(printed["prefix"].as_str().unwrap());
    assert_eq!(
        prefix.canonicalize().unwrap(),
        venv_dir().canonicalize().unwrap()
    );
    assert_eq!(printed["echo"], serde_json::json!({"hello": "world"}));
    let installed = fs::read_to_string(venv_dir().join(INSTALLED_MARKER)).unwrap();
    assert_eq!(installed, REQUIREMENTS.join("\n"));
}
