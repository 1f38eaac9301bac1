//! Value types of the configuration that parse and check themselves.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::{Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, de};

use super::EnvVarName;
use crate::secrets::Key;

/// The address to bind: `host:port`, where the host is an IPv4 address, an IPv6 address in
/// brackets or a name (`localhost`), resolved when binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    host: String,
    port: u16,
}

impl ListenAddr {
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl Default for ListenAddr {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
        }
    }
}

const LISTEN_EXPECTED: &str = "host:port, e.g. 127.0.0.1:8080, localhost:8080 or [::1]:8080";

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || format!("expected {LISTEN_EXPECTED}, found `{text}`");
        let (host, port) = text.rsplit_once(':').ok_or_else(expected)?;
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(ipv6) if ipv6.parse::<Ipv6Addr>().is_ok() => ipv6,
            Some(_) => return Err(expected()),
            // An IPv6 address without brackets cannot be told from its port.
            None if host.is_empty() || host.contains(':') => return Err(expected()),
            None => host,
        };
        let port = port
            .parse()
            .map_err(|_| format!("the port must be a number from 0 to 65535, found `{port}`"))?;
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl ToSocketAddrs for ListenAddr {
    type Iter = std::vec::IntoIter<SocketAddr>;

    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        (self.host.as_str(), self.port).to_socket_addrs()
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Parsed::new(LISTEN_EXPECTED))
    }
}

/// Reads a string through `T`'s `FromStr`; any other kind of value is refused with `expecting`
/// (which is what the user reads), not with the name of a Rust type.
struct Parsed<T> {
    expecting: &'static str,
    parsed: PhantomData<T>,
}

impl<T> Parsed<T> {
    fn new(expecting: &'static str) -> Self {
        Self {
            expecting,
            parsed: PhantomData,
        }
    }
}

impl<T: FromStr<Err = String>> de::Visitor<'_> for Parsed<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        text.parse().map_err(E::custom)
    }
}

/// Where the data lives: `sqlite://PATH` (relative to the working directory, or
/// `sqlite:///absolute/path`) or a `postgres://` / `postgresql://` URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// The folder beside the database, where the generated admin token is written. PostgreSQL
    /// has no local file, so that is the working directory.
    pub fn local_dir(&self) -> PathBuf {
        match self {
            DatabaseUrl::Sqlite(path) => path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".")),
            DatabaseUrl::Postgres(_) => PathBuf::from("."),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path == ":memory:" {
                return Err("a SQLite URL needs a file path, e.g. sqlite://switchyard.db".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err("must start with sqlite:// or postgres://".into())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Parsed::new("a database URL, sqlite://PATH or postgres://…"))
    }
}

/// Shows the URL without its password, so the value can appear in logs and reports.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("***"));
                    write!(f, "{parsed}")
                }
                Ok(parsed) => write!(f, "{parsed}"),
                Err(_) => f.write_str("postgres://(unparsable URL)"),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

const LOG_FORMATS: &str = "text or json";

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("expected {LOG_FORMATS}, found {name:?}")),
        }
    }
}

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Parsed::new(LOG_FORMATS))
    }
}

/// A credential from the configuration. It never appears in `Debug` output.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What a list holds, in the words of its error messages.
struct ListOf<T> {
    /// e.g. "CIDR ranges": the list is "a list of CIDR ranges or a comma-separated string".
    plural: &'static str,
    /// e.g. "a CIDR range such as 10.0.0.0/8": an item that does not parse "is not" this.
    one: &'static str,
    item: PhantomData<T>,
}

pub fn cidr_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    deserializer.deserialize_any(ListOf {
        plural: "CIDR ranges",
        one: "a CIDR range such as 10.0.0.0/8",
        item: PhantomData,
    })
}

pub fn env_name_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<EnvVarName>, D::Error> {
    deserializer.deserialize_any(ListOf {
        plural: "environment variable names",
        one: "an environment variable name (letters, digits and _, not starting with a digit)",
        item: PhantomData,
    })
}

pub fn key_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Key>, D::Error> {
    deserializer.deserialize_any(KeyList)
}

/// Keys are secrets: one that does not parse is named by its place in the list, never shown.
struct KeyList;

impl KeyList {
    fn parse<E: de::Error>(position: usize, text: &str) -> Result<Key, E> {
        text.parse()
            .map_err(|reason| E::custom(format!("key {} of the list {reason}", position + 1)))
    }
}

impl<'de> de::Visitor<'de> for KeyList {
    type Value = Vec<Key>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of keys or a comma-separated string")
    }

    fn visit_str<E: de::Error>(self, csv: &str) -> Result<Vec<Key>, E> {
        csv.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .enumerate()
            .map(|(position, item)| Self::parse(position, item))
            .collect()
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut items: A) -> Result<Vec<Key>, A::Error> {
        let mut parsed = Vec::new();
        while let Some(item) = items.next_element::<String>()? {
            parsed.push(Self::parse(parsed.len(), &item)?);
        }
        Ok(parsed)
    }
}

/// A secrets key, from its base64.
pub fn key<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Key>, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map(Some).map_err(de::Error::custom)
}

impl<T: FromStr> ListOf<T> {
    fn parse<E: de::Error>(&self, item: &str) -> Result<T, E> {
        item.parse()
            .map_err(|_| E::custom(format!("`{item}` is not {}", self.one)))
    }
}

/// Lists come as TOML arrays or, from environment variables, as comma-separated values.
impl<'de, T: FromStr> de::Visitor<'de> for ListOf<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of {} or a comma-separated string", self.plural)
    }

    fn visit_str<E: de::Error>(self, csv: &str) -> Result<Vec<T>, E> {
        csv.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| self.parse(item))
            .collect()
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut items: A) -> Result<Vec<T>, A::Error> {
        let mut parsed = Vec::new();
        while let Some(item) = items.next_element::<String>()? {
            parsed.push(self.parse(&item)?);
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_parse_by_scheme() {
        assert_eq!(
            "sqlite://data/s.db".parse::<DatabaseUrl>(),
            Ok(DatabaseUrl::Sqlite("data/s.db".into()))
        );
        assert_eq!(
            "sqlite:///var/lib/s.db".parse::<DatabaseUrl>(),
            Ok(DatabaseUrl::Sqlite("/var/lib/s.db".into()))
        );
        assert!(matches!(
            "postgresql://u@h/db".parse::<DatabaseUrl>(),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!("mysql://h/db".parse::<DatabaseUrl>().is_err());
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn database_url_display_hides_the_password() {
        let url: DatabaseUrl = "postgres://app:hunter2@db:5432/sy".parse().unwrap();
        let shown = url.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app:***@db"), "{shown}");
    }

    #[test]
    fn token_directory_is_beside_the_sqlite_file() {
        let url: DatabaseUrl = "sqlite://data/s.db".parse().unwrap();
        assert_eq!(url.local_dir(), PathBuf::from("data"));
        let bare: DatabaseUrl = "sqlite://s.db".parse().unwrap();
        assert_eq!(bare.local_dir(), PathBuf::from("."));
    }

    #[test]
    fn listen_addresses_are_host_and_port_with_ipv6_in_brackets() {
        for address in [
            "localhost:8080",
            "[::1]:8080",
            "0.0.0.0:0",
            "gateway.internal:80",
        ] {
            let parsed: ListenAddr = address.parse().unwrap();
            assert_eq!(parsed.to_string(), address);
        }
        assert_eq!("[::1]:8080".parse::<ListenAddr>().unwrap().host(), "::1");
        for refused in [
            "localhost",
            ":8080",
            "::1:8080",
            "[localhost]:80",
            "localhost:65536",
        ] {
            assert!(refused.parse::<ListenAddr>().is_err(), "{refused}");
        }
    }

    #[test]
    fn listen_addresses_resolve_names_when_bound() {
        let resolved: Vec<SocketAddr> = "localhost:8080"
            .parse::<ListenAddr>()
            .unwrap()
            .to_socket_addrs()
            .unwrap()
            .collect();
        assert!(
            resolved
                .iter()
                .all(|address| address.ip().is_loopback() && address.port() == 8080)
        );
        assert!(!resolved.is_empty());
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        assert_eq!(format!("{:?}", Secret::new("abc")), "Secret(***)");
    }
}
