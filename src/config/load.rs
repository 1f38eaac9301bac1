//! Reading the configuration from its layers and turning failures into one readable line.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::error::Kind;
use figment::providers::{Env, Format, Toml};
use figment::{Figment, Source};

use super::Config;

const ENV_PREFIX: &str = "SWITCHYARD_";
const DEFAULT_FILE: &str = "switchyard.toml";
/// Environment variables of these sections map `SWITCHYARD_<SECTION>_<KEY>` to `section.key`.
const SECTIONS: [&str; 6] = [
    "limits",
    "outbound",
    "chat",
    "retention",
    "log",
    "templates",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("{key}{}: {reason}", origin_suffix(.origin))]
    Invalid {
        key: String,
        origin: Option<String>,
        reason: String,
    },
}

fn origin_suffix(origin: &Option<String>) -> String {
    origin
        .as_ref()
        .map(|origin| format!(" (from {origin})"))
        .unwrap_or_default()
}

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
        let mut figment = Figment::new();
        if let ConfigSource::File(path) = &source {
            figment = figment.merge(Toml::file_exact(path));
        }
        let config: Config = figment.merge(environment()).extract().map_err(describe)?;
        config.validate()?;
        Ok((config, source))
    }
}

fn environment() -> Env {
    Env::prefixed(ENV_PREFIX).filter_map(|key| {
        let key = key.as_str().to_ascii_lowercase();
        // SWITCHYARD_CONFIG names the file; SWITCHYARD_TEST_* belong to the test suite.
        if key == "config" || key.starts_with("test_") {
            return None;
        }
        let nested = SECTIONS.iter().find_map(|section| {
            key.strip_prefix(section)
                .and_then(|rest| rest.strip_prefix('_'))
                .map(|rest| format!("{section}.{rest}"))
        });
        Some(nested.unwrap_or(key).into())
    })
}

fn describe(error: figment::Error) -> ConfigError {
    let mut path = error.path.clone();
    let reason = match &error.kind {
        Kind::UnknownField(name, _) => {
            path.push(name.clone());
            "unknown key".to_owned()
        }
        Kind::InvalidType(actual, expected) => format!("expected {expected}, found {actual}"),
        Kind::Message(message) => message.clone(),
        other => other.to_string(),
    };
    let origin = error
        .metadata
        .as_ref()
        .map(|metadata| match &metadata.source {
            Some(Source::File(file)) => file.display().to_string(),
            _ => format!("{ENV_PREFIX}{}", path.join("_").to_ascii_uppercase()),
        });
    ConfigError::Invalid {
        key: path.join("."),
        origin,
        reason,
    }
}
