//! Configured request headers: a JSON object, or `Name: Value` lines as users paste them.

use std::fmt;

use hyper::header::{HeaderName, HeaderValue};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::secret::{is_sensitive_header, restore, shown_header_value};
use crate::secrets::{Sealable, SecretsError};
use crate::validation::Invalid;

/// Headers in the order given; serialised as an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList(pub Vec<(String, String)>);

impl HeaderList {
    pub fn validate(&self) -> Result<(), Invalid> {
        for (name, value) in &self.0 {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Invalid::new(name.as_str(), "is not a valid header name"))?;
            HeaderValue::from_str(value).map_err(|_| {
                Invalid::new(name.as_str(), "has a value that cannot be sent in a header")
            })?;
        }
        Ok(())
    }

    pub fn masked(&self) -> HeaderList {
        HeaderList(
            self.0
                .iter()
                .map(|(name, value)| (name.clone(), shown_header_value(name, value)))
                .collect(),
        )
    }

    pub fn keep_masked_values(&mut self, stored: &HeaderList) {
        for (name, value) in &mut self.0 {
            if let Some((_, old)) = stored
                .0
                .iter()
                .find(|(old_name, _)| old_name.eq_ignore_ascii_case(name))
            {
                restore(value, old);
            }
        }
    }

    /// Whether a header of that name (any case) is configured.
    pub fn contains(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(configured, _)| configured.eq_ignore_ascii_case(name))
    }
}

/// The values of credential headers, as [`HeaderList::masked`] hides them.
impl Sealable for HeaderList {
    fn each_secret(
        &mut self,
        visit: &mut dyn FnMut(&mut String) -> Result<(), SecretsError>,
    ) -> Result<(), SecretsError> {
        self.0
            .iter_mut()
            .filter(|(name, _)| is_sensitive_header(name))
            .try_for_each(|(_, value)| visit(value))
    }
}

impl Serialize for HeaderList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for HeaderList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeaderListVisitor)
    }
}

struct HeaderListVisitor;

impl<'de> Visitor<'de> for HeaderListVisitor {
    type Value = HeaderList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of header names to values, or `Name: Value` lines")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<HeaderList, M::Error> {
        let mut headers = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, String>()? {
            headers.push((name, value));
        }
        Ok(HeaderList(headers))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<HeaderList, E> {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| {
                line.split_once(':')
                    .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                    .ok_or_else(|| E::custom(format!("`{line}` is not a `Name: Value` line")))
            })
            .collect::<Result<_, _>>()
            .map(HeaderList)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_come_as_an_object_or_as_lines() {
        let object: HeaderList =
            serde_json::from_str(r#"{"X-One": "1", "X-Two": "a: b"}"#).unwrap();
        let lines: HeaderList = serde_json::from_str(r#""X-One: 1\r\nX-Two: a: b\n""#).unwrap();
        assert_eq!(object, lines);
        assert!(serde_json::from_str::<HeaderList>(r#""no colon here""#).is_err());
    }

    #[test]
    fn invalid_names_and_values_name_the_header() {
        let bad = HeaderList(vec![("Bad Name".into(), "x".into())]);
        assert_eq!(bad.validate().unwrap_err().field, "Bad Name");
        let newline = HeaderList(vec![("X-Ok".into(), "a\nb".into())]);
        assert_eq!(newline.validate().unwrap_err().field, "X-Ok");
    }
}
