//! Identifiers: prefixed, time-ordered resource ids and unguessable random strings.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A resource id such as `tok_0193…`: UUIDv7, so ids sort by creation time and serve as cursors.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// A resource id for something that happened at `nanos` (Unix nanoseconds): ids sort by that
/// time, not by when they were made; random bits keep ids of the same instant apart.
pub fn id_at(prefix: &str, nanos: i64) -> String {
    let random = uuid::Uuid::new_v4().as_u128() as u32;
    format!("{prefix}_{:016x}{random:08x}", nanos.max(0))
}

/// A bound for ids made before `millis`: such ids sort below it, later ones above (the first 48
/// bits of a UUIDv7 are its creation time in milliseconds, and they come first in the hex).
pub fn id_bound_at(prefix: &str, millis: i64) -> String {
    format!("{prefix}_{:012x}", millis.max(0))
}

/// `bytes` bytes from the operating system's CSPRNG, URL-safe base64 without padding.
pub fn random_urlsafe(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let first = new_id("tok");
        let second = new_id("tok");
        assert!(first.starts_with("tok_"));
        assert!(first < second);
    }

    #[test]
    fn ids_for_a_time_sort_by_that_time() {
        let earlier = id_at("chx", 1_795_000_000_123_000_001);
        let later = id_at("chx", 1_795_000_000_123_000_002);
        assert!(earlier < later);
        assert_ne!(id_at("chx", 7), id_at("chx", 7));
    }

    #[test]
    fn time_bounds_split_ids_by_creation_time() {
        let before = new_id("dlv");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let bound = id_bound_at("dlv", crate::timestamp::now_millis());
        let after = new_id("dlv");
        assert!(before < bound && bound < after, "{before} {bound} {after}");
    }

    #[test]
    fn random_strings_differ_and_are_url_safe() {
        let a = random_urlsafe(32).unwrap();
        let b = random_urlsafe(32).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
