//! Reading the configuration from its layers: defaults, the TOML file, the environment.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::{Figment, value::Dict};

use super::Config;
use super::errors::{ConfigError, describe};

const ENV_PREFIX: &str = "SWITCHYARD_";
const DEFAULT_FILE: &str = "switchyard.toml";
/// Environment variables of these sections map `SWITCHYARD_<SECTION>_<KEY>` to `section.key`.
pub(super) const SECTIONS: [&str; 7] = [
    "limits",
    "secrets",
    "outbound",
    "chat",
    "retention",
    "log",
    "templates",
];

/// Where the configuration came from, for `check-config`'s report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    Defaults,
    File(PathBuf),
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Defaults => f.write_str("defaults and environment"),
            ConfigSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl Config {
    /// Loads defaults, then the TOML file (`explicit`, or `switchyard.toml` if present), then
    /// `SWITCHYARD_*` variables, and validates the result.
    pub fn load(explicit: Option<&Path>) -> Result<(Config, ConfigSource), ConfigError> {
        let source = match explicit {
            Some(path) if !path.is_file() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => ConfigSource::File(path.into()),
            None if Path::new(DEFAULT_FILE).is_file() => ConfigSource::File(DEFAULT_FILE.into()),
            None => ConfigSource::Defaults,
        };
        let file = match &source {
            ConfigSource::File(path) => Some(path.as_path()),
            ConfigSource::Defaults => None,
        };
        let mut figment = Figment::new();
        if let Some(path) = file {
            check_syntax(path)?;
            figment = figment.merge(Toml::file_exact(path));
        }
        let figment = figment.merge(environment());
        let config: Config = figment.extract().map_err(|error| describe(&error, file))?;
        config
            .validate()
            .map_err(|error| error.located(&figment, file))?;
        Ok((config, source))
    }
}

/// Parses the file as TOML alone first: figment reports a syntax error as several lines
/// without a key, where the user needs the line and column.
fn check_syntax(path: &Path) -> Result<(), ConfigError> {
    let text = fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        path: path.into(),
        source,
    })?;
    let Err(error) = Toml::from_str::<Dict>(&text) else {
        return Ok(());
    };
    let offset = error.span().map_or(0, |span| span.start);
    let before = text.get(..offset).unwrap_or(&text);
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |line| line.chars().count());
    Err(ConfigError::Syntax {
        path: path.into(),
        line: before.matches('\n').count() + 1,
        column: column + 1,
        message: error.message().lines().collect::<Vec<_>>().join("; "),
    })
}

fn environment() -> Env {
    Env::prefixed(ENV_PREFIX).filter_map(|unprefixed| key_of(unprefixed.as_str()).map(Into::into))
}

/// The key a variable sets, from its name without the prefix: `LIMITS_MAX_BODY_BYTES` is
/// `limits.max_body_bytes`.
fn key_of(unprefixed: &str) -> Option<String> {
    let key = unprefixed.to_ascii_lowercase();
    // SWITCHYARD_CONFIG names the file; SWITCHYARD_TEST_* belong to the test suite.
    if key == "config" || key.starts_with("test_") {
        return None;
    }
    let nested = SECTIONS.iter().find_map(|section| {
        key.strip_prefix(section)
            .and_then(|rest| rest.strip_prefix('_'))
            .map(|rest| format!("{section}.{rest}"))
    });
    Some(nested.unwrap_or(key))
}

/// The environment variable that set `key`, spelled as it was set (figment matches the prefix
/// in any case and records only the key).
pub(super) fn variable_for(key: &str) -> String {
    std::env::vars_os()
        .find_map(|(name, _)| {
            let name = name.to_str()?.trim();
            let prefix = name.get(..ENV_PREFIX.len())?;
            let unprefixed = name.get(ENV_PREFIX.len()..)?;
            let sets_key = prefix.eq_ignore_ascii_case(ENV_PREFIX) && key_of(unprefixed)? == key;
            sets_key.then(|| name.to_owned())
        })
        .unwrap_or_else(|| canonical_variable(key))
}

/// The variable that sets `key`, as the documentation spells it.
pub(super) fn canonical_variable(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}
