//! Event types (SPEC §4.1) and the patterns webhooks subscribe with.

/// Every type the gateway emits itself.
pub const KNOWN_TYPES: [&str; 12] = [
    "incident.created",
    "incident.updated",
    "incident.acknowledged",
    "incident.resolved",
    "incident.reopened",
    "incident.commented",
    "incident.forwarded",
    "object.created",
    "object.updated",
    "object.deleted",
    "schedule.fired",
    "chat.triggered",
];

/// Namespaces a `prefix.*` pattern may name; `x` holds custom types.
const NAMESPACES: [&str; 5] = ["incident", "object", "schedule", "chat", "x"];
const CUSTOM_PREFIX: &str = "x.";
const MAX_TYPE_CHARS: usize = 100;

/// A custom type: `x.` then letters, digits, `_`, `-` and `.`.
pub fn is_custom_type(event_type: &str) -> bool {
    event_type.len() <= MAX_TYPE_CHARS
        && event_type.strip_prefix(CUSTOM_PREFIX).is_some_and(|name| {
            !name.is_empty()
                && !name.ends_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        })
}

/// Types callers may post to the events API: object events and custom ones.
pub fn is_postable(event_type: &str) -> bool {
    event_type.starts_with("object.") && KNOWN_TYPES.contains(&event_type)
        || is_custom_type(event_type)
}

/// `*`, `<namespace>.*`, a known type, or a custom type.
pub fn validate_pattern(pattern: &str) -> Result<(), String> {
    let valid = pattern == "*"
        || pattern
            .strip_suffix(".*")
            .is_some_and(|namespace| NAMESPACES.contains(&namespace))
        || KNOWN_TYPES.contains(&pattern)
        || is_custom_type(pattern);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{pattern}` is not an event type: use a type such as `incident.resolved`, \
             a wildcard such as `incident.*` or `*`, or a custom `x.<name>`"
        ))
    }
}

pub fn matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exactly_or_by_namespace() {
        assert!(matches("*", "x.deploy"));
        assert!(matches("incident.*", "incident.resolved"));
        assert!(!matches("incident.*", "incidents.resolved"));
        assert!(matches("object.updated", "object.updated"));
        assert!(!matches("object.updated", "object.created"));
    }

    #[test]
    fn unknown_types_and_namespaces_are_refused() {
        for good in ["*", "incident.*", "x.*", "object.deleted", "x.deploy.done"] {
            assert!(validate_pattern(good).is_ok(), "{good}");
        }
        for bad in ["incident.exploded", "foo.*", "", "x.", "x.a b", "incident"] {
            assert!(validate_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_object_and_custom_types_may_be_posted() {
        assert!(is_postable("object.updated") && is_postable("x.build"));
        assert!(!is_postable("incident.created") && !is_postable("object.exploded"));
    }
}
