//! Configuration (SPEC §1): defaults, an optional TOML file and `SWITCHYARD_*` environment
//! variables, validated once at start. Unknown keys and bad values stop the start with one line
//! naming the key and the reason.

mod errors;
mod load;
mod types;

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

use crate::secrets::Key;

pub use errors::{ConfigError, Origin};
pub use load::ConfigSource;
pub use types::{DatabaseUrl, ListenAddr, LogFormat, Secret};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: ListenAddr,
    pub database_url: DatabaseUrl,
    pub public_url: Option<Url>,
    pub admin_token: Option<Secret>,
    pub limits: LimitsConfig,
    pub outbound: OutboundConfig,
    pub chat: ChatConfig,
    pub retention: RetentionConfig,
    pub log: LogConfig,
    pub templates: TemplatesConfig,
    pub secrets: SecretsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub max_body_bytes: usize,
    /// How long a request waits for a database connection before it is answered `503`.
    pub database_wait_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    pub allow_private_networks: bool,
    #[serde(deserialize_with = "types::cidr_list")]
    pub allowed_cidrs: Vec<IpNet>,
    pub default_timeout_ms: u64,
    pub max_in_flight: usize,
    pub max_in_flight_per_host: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    pub enabled: bool,
    pub allow_username_override: bool,
    pub allow_icon_override: bool,
    pub max_post_chars: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub deliveries_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `tracing` filter directives, e.g. `info` or `info,switchyard=debug`.
    pub level: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemplatesConfig {
    /// Environment variables templates may read as `{{env.NAME}}`; no others are visible.
    #[serde(deserialize_with = "types::env_name_list")]
    pub env_allow: Vec<EnvVarName>,
}

/// The key that seals stored credentials (SPEC §6.5). With neither `key` nor `key_file`, the
/// first start generates `switchyard-secrets.key` beside the database.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Base64 of 32 random bytes (`switchyard secrets new-key` prints one).
    #[serde(deserialize_with = "types::key")]
    pub key: Option<Key>,
    /// A file holding the key, as `key` takes it.
    pub key_file: Option<PathBuf>,
    /// Keys that sealed what is stored before a rotation: still accepted for reading.
    #[serde(deserialize_with = "types::key_list")]
    pub previous_keys: Vec<Key>,
}

/// A name that can be an environment variable: letters, digits and `_`, not starting with a digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVarName(pub String);

impl FromStr for EnvVarName {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let starts_well = name.chars().next().is_some_and(|c| !c.is_ascii_digit());
        if valid_chars && starts_well {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!("`{name}` is not an environment variable name"))
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: ListenAddr::default(),
            database_url: DatabaseUrl::Sqlite("switchyard.db".into()),
            public_url: None,
            admin_token: None,
            limits: LimitsConfig::default(),
            outbound: OutboundConfig::default(),
            chat: ChatConfig::default(),
            retention: RetentionConfig::default(),
            log: LogConfig::default(),
            templates: TemplatesConfig::default(),
            secrets: SecretsConfig::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            database_wait_ms: 2000,
        }
    }
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow_private_networks: false,
            allowed_cidrs: Vec::new(),
            default_timeout_ms: 10_000,
            max_in_flight: 256,
            max_in_flight_per_host: 16,
        }
    }
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_username_override: false,
            allow_icon_override: false,
            max_post_chars: 16_383,
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            deliveries_days: 30,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// The shortest `admin_token` accepted: a bootstrap credential must not be guessable.
const MIN_ADMIN_TOKEN_CHARS: usize = 16;

impl Config {
    /// The base URL of links and `response_url`s handed out, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Checks what types alone cannot: ranges, and relations between keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_resolves(&self.listen)?;
        if self.secrets.key.is_some() && self.secrets.key_file.is_some() {
            return Err(invalid(
                "secrets.key_file",
                "set secrets.key or secrets.key_file, not both",
            ));
        }
        if let Some(url) = &self.public_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(invalid("public_url", "scheme must be http or https"));
        }
        if self
            .admin_token
            .as_ref()
            .is_some_and(|token| token.expose().chars().count() < MIN_ADMIN_TOKEN_CHARS)
        {
            return Err(invalid(
                "admin_token",
                &format!("must be at least {MIN_ADMIN_TOKEN_CHARS} characters"),
            ));
        }
        check_range(
            "limits.max_body_bytes",
            self.limits.max_body_bytes,
            1024,
            256 << 20,
        )?;
        check_range(
            "limits.database_wait_ms",
            self.limits.database_wait_ms,
            100,
            60_000,
        )?;
        check_range(
            "outbound.default_timeout_ms",
            self.outbound.default_timeout_ms,
            1,
            300_000,
        )?;
        check_range(
            "outbound.max_in_flight",
            self.outbound.max_in_flight,
            1,
            100_000,
        )?;
        check_range(
            "outbound.max_in_flight_per_host",
            self.outbound.max_in_flight_per_host,
            1,
            self.outbound.max_in_flight,
        )?;
        check_range(
            "chat.max_post_chars",
            self.chat.max_post_chars,
            100,
            1_000_000,
        )?;
        check_range(
            "retention.deliveries_days",
            self.retention.deliveries_days,
            1,
            36_500,
        )?;
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(invalid("log.level", &error.to_string()));
        }
        Ok(())
    }
}

/// Resolved at load as well as when binding, so that `check-config` catches a host name that
/// does not resolve.
fn check_resolves(listen: &ListenAddr) -> Result<(), ConfigError> {
    let resolved = listen
        .to_socket_addrs()
        .is_ok_and(|mut addresses| addresses.next().is_some());
    if resolved {
        return Ok(());
    }
    Err(invalid(
        "listen",
        &format!("`{}` does not resolve to an address", listen.host()),
    ))
}

fn invalid(key: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        origin: Origin::Unknown,
        reason: reason.to_owned(),
    }
}

fn check_range<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(invalid(
            key,
            &format!("must be between {min} and {max}, got {value}"),
        ));
    }
    Ok(())
}
