//! Configuration failures as one line: the key as the user wrote it (the file and
//! `section.key`, or the exact environment variable), and what is allowed there.

use std::io;
use std::path::{Path, PathBuf};

use figment::error::{Actual, Kind};
use figment::{Figment, Metadata, Source};

use super::load::{SECTIONS, canonical_variable, variable_for};

/// Suggestions closer than this (Jaro-Winkler, 1 is equal) are offered as "did you mean".
const SUGGESTION_SIMILARITY: f64 = 0.8;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("{path}: cannot be read: {source}")]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("{path}:{line}:{column}: invalid TOML: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {reason}", .origin.name_of(.key))]
    Invalid {
        key: String,
        origin: Origin,
        reason: String,
    },
}

/// Where a value was written, so that errors name it the way the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `section.key` in this file.
    File(PathBuf),
    /// This environment variable, spelled as it was set.
    Environment(String),
    /// Not known: a relation between values, or a default.
    Unknown,
}

impl Origin {
    fn name_of(&self, key: &str) -> String {
        match self {
            Origin::File(path) => format!("{}: {key}", path.display()),
            Origin::Environment(variable) => variable.clone(),
            Origin::Unknown => key.to_owned(),
        }
    }

    /// Where the value of `key` came from, by the provider figment records for it.
    fn of(metadata: Option<&Metadata>, key: &str, file: Option<&Path>) -> Origin {
        let Some(metadata) = metadata else {
            return Origin::Unknown;
        };
        match (&metadata.source, file) {
            (Some(Source::File(_)), Some(file)) => Origin::File(file.to_owned()),
            _ => Origin::Environment(variable_for(key)),
        }
    }
}

impl ConfigError {
    /// Names where a value refused after loading (by `Config::validate`) was written.
    pub(super) fn located(self, figment: &Figment, file: Option<&Path>) -> Self {
        match self {
            ConfigError::Invalid {
                key,
                origin: Origin::Unknown,
                reason,
            } => ConfigError::Invalid {
                origin: Origin::of(figment.find_metadata(&key), &key, file),
                key,
                reason,
            },
            other => other,
        }
    }
}

/// Turns figment's error, whose path already ends with the offending key, into one line.
pub(super) fn describe(error: &figment::Error, file: Option<&Path>) -> ConfigError {
    let key = error.path.join(".");
    let origin = Origin::of(error.metadata.as_ref(), &key, file);
    let reason = match &error.kind {
        Kind::UnknownField(_, allowed) => unknown_key(&error.path, allowed, &origin),
        Kind::InvalidType(_, expected) if expected.starts_with("struct ") => {
            a_section(&key, &origin)
        }
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => format!(
            "expected {}, found {}",
            plain_expected(expected),
            plain_actual(actual)
        ),
        Kind::Message(message) => message.clone(),
        other => other.to_string(),
    };
    ConfigError::Invalid {
        key,
        origin,
        reason,
    }
}

/// "unknown key", the closest known key if one is close, and every key allowed there.
fn unknown_key(path: &[String], allowed: &[&str], origin: &Origin) -> String {
    let Some((name, parents)) = path.split_last() else {
        return "unknown key".to_owned();
    };
    let section = parents.first().map(String::as_str);
    let closest = allowed
        .iter()
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(similarity, _)| *similarity > SUGGESTION_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!(" (did you mean {}?)", spell(origin, section, candidate)))
        .unwrap_or_default();
    let known: Vec<String> = allowed
        .iter()
        .map(|key| spell(origin, section, key))
        .collect();
    let noun = match origin {
        Origin::Environment(_) => "variables",
        _ => "keys",
    };
    let place = section.map_or_else(
        || format!("top-level {noun}"),
        |section| format!("{noun} in [{section}]"),
    );
    format!("unknown key{closest}; known {place}: {}", known.join(", "))
}

/// `key` of `section` (or of the top level) as it is written where `origin` is.
fn spell(origin: &Origin, section: Option<&str>, key: &str) -> String {
    let is_section = section.is_none() && SECTIONS.contains(&key);
    match (origin, section) {
        (Origin::Environment(_), Some(section)) => canonical_variable(&format!("{section}.{key}")),
        (Origin::Environment(_), None) if is_section => {
            format!("{}_<KEY>", canonical_variable(key))
        }
        (Origin::Environment(_), None) => canonical_variable(key),
        _ if is_section => format!("[{key}]"),
        _ => key.to_owned(),
    }
}

fn a_section(section: &str, origin: &Origin) -> String {
    match origin {
        Origin::Environment(_) => format!(
            "is a section: set its keys as {}",
            spell(origin, None, section)
        ),
        _ => format!("is a section: write its keys under [{section}]"),
    }
}

/// serde names Rust types (`usize`); users read what to write instead.
fn plain_expected(expected: &str) -> &str {
    match expected {
        "u32" => "a whole number from 0 to 4294967295",
        "u8" | "u16" | "u64" | "u128" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        other => other,
    }
}

fn plain_actual(actual: &Actual) -> String {
    match actual {
        Actual::Bool(value) => value.to_string(),
        Actual::Unsigned(number) => number.to_string(),
        Actual::Signed(number) => number.to_string(),
        Actual::Float(number) => number.to_string(),
        Actual::Str(text) => format!("{text:?}"),
        Actual::Seq => "a list".to_owned(),
        Actual::Map => "a table".to_owned(),
        other => other.to_string(),
    }
}
