//! A chat request's fields, in the order they came, held in one buffer: a Mattermost form's
//! dozen fields are two allocations (and one for each key or value with escapes to decode)
//! instead of two dozen strings. A field with an empty key is not kept.

/// Mattermost sends a dozen fields, Slack up to fifteen.
pub const TYPICAL_FIELDS: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// Every key and value, back to back.
    text: String,
    /// Where each field's key starts, where its value starts (the key's end) and ends.
    spans: Vec<[usize; 3]>,
}

impl Fields {
    /// Room for `fields` fields of `bytes` bytes in all, so building them allocates once.
    pub fn with_capacity(fields: usize, bytes: usize) -> Self {
        Self {
            text: String::with_capacity(bytes),
            spans: Vec::with_capacity(fields),
        }
    }

    pub fn push(&mut self, key: &str, value: &str) {
        if key.is_empty() {
            return;
        }
        let start = self.text.len();
        self.text.push_str(key);
        self.text.push_str(value);
        self.spans.push([start, start + key.len(), self.text.len()]);
    }

    /// Appends a field whose key and value `write_key` and `write_value` append to the buffer
    /// (decoded, say). A key that comes out empty is dropped before its value is written at
    /// all; after an error nothing of the field is kept.
    pub fn push_with<E>(
        &mut self,
        write_key: impl FnOnce(&mut String) -> Result<(), E>,
        write_value: impl FnOnce(&mut String) -> Result<(), E>,
    ) -> Result<(), E> {
        let key_start = self.text.len();
        let written = write_key(&mut self.text).and_then(|()| {
            let value_start = self.text.len();
            if value_start == key_start {
                return Ok(None);
            }
            write_value(&mut self.text).map(|()| Some(value_start))
        });
        match written {
            Ok(Some(value_start)) => {
                self.spans.push([key_start, value_start, self.text.len()]);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(error) => {
                self.text.truncate(key_start);
                Err(error)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Every field as `(key, value)`, in order, repeated keys included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.spans
            .iter()
            .map(|&[key, value, end]| (self.slice(key, value), self.slice(value, end)))
    }

    /// The first value of `name`. Looked up a few dozen times a request, so keys are compared
    /// by length first, then as bytes, and only the value found is made a `&str`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.span_of(name.as_bytes(), &self.spans)
            .map(|[_, value, end]| self.slice(value, end))
    }

    /// The first key given a second time where `may_repeat` does not allow it, found by
    /// comparing each key with those before it (for a dozen fields, cheaper than hashing).
    pub fn first_repeated(&self, may_repeat: impl Fn(&str) -> bool) -> Option<&str> {
        self.spans
            .iter()
            .enumerate()
            .find(|&(index, &[key, value, _])| {
                let earlier = &self.spans[..index];
                self.span_of(self.key_bytes(key, value), earlier).is_some()
                    && !may_repeat(self.slice(key, value))
            })
            .map(|(_, &[key, value, _])| self.slice(key, value))
    }

    fn span_of(&self, name: &[u8], spans: &[[usize; 3]]) -> Option<[usize; 3]> {
        spans
            .iter()
            .find(|&&[key, value, _]| {
                value - key == name.len() && self.key_bytes(key, value) == name
            })
            .copied()
    }

    fn key_bytes(&self, start: usize, end: usize) -> &[u8] {
        self.text.as_bytes().get(start..end).unwrap_or_default()
    }

    fn slice(&self, start: usize, end: usize) -> &str {
        // Spans are only ever taken at the ends of whole `&str`s pushed into `text`.
        self.text.get(start..end).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_and_repeats_and_the_first_value_is_found() {
        let mut fields = Fields::default();
        fields.push("text", "a b");
        fields.push("user_mentions", "x");
        fields.push("user_mentions", "y");
        assert_eq!(fields.len(), 3);
        assert_eq!(
            fields.iter().collect::<Vec<_>>(),
            [
                ("text", "a b"),
                ("user_mentions", "x"),
                ("user_mentions", "y")
            ]
        );
        assert_eq!(fields.get("user_mentions"), Some("x"));
        assert_eq!(fields.get("token"), None);
        assert_eq!(fields.first_repeated(|_| false), Some("user_mentions"));
        assert_eq!(fields.first_repeated(|key| key == "user_mentions"), None);
    }

    #[test]
    fn an_empty_key_or_a_failed_field_leaves_nothing_behind() {
        let mut fields = Fields::with_capacity(2, 16);
        fields.push("", "ignored");
        let skipped = fields.push_with(|_| Ok(()), |_| Err("the value of an empty key is read"));
        assert_eq!(skipped, Ok(()));
        let failed = fields.push_with(
            |text| {
                text.push_str("half");
                Ok(())
            },
            |_| Err("bad escape"),
        );
        assert_eq!(failed, Err("bad escape"));
        fields.push("a", "");
        assert_eq!(fields.iter().collect::<Vec<_>>(), [("a", "")]);
    }
}
