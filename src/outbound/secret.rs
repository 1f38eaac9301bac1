//! Masking secrets for display, and recognising values that must be masked.

const SHOWN_CHARS: usize = 4;
const MASK_PREFIX: char = '…';

/// `"…mzyp"`: the last characters of a secret, enough to recognise it, too few to use it.
/// Short secrets show nothing.
pub fn mask(secret: &str) -> String {
    let count = secret.chars().count();
    if count < 3 * SHOWN_CHARS {
        return MASK_PREFIX.to_string();
    }
    let tail: String = secret.chars().skip(count - SHOWN_CHARS).collect();
    format!("{MASK_PREFIX}{tail}")
}

/// Puts `stored` back when `value` is exactly its mask.
pub fn restore(value: &mut String, stored: &str) {
    if *value == mask(stored) {
        *value = stored.to_owned();
    }
}

/// A header's value as it may be shown: masked when the header is a credential or signature.
pub fn shown_header_value(name: &str, value: &str) -> String {
    if is_sensitive_header(name) {
        mask(value)
    } else {
        value.to_owned()
    }
}

/// Header names whose values are credentials or signatures, by the words they contain.
pub fn is_sensitive_header(name: &str) -> bool {
    const WORDS: [&str; 8] = [
        "auth",
        "token",
        "key",
        "secret",
        "signature",
        "cookie",
        "password",
        "session",
    ];
    // Header names are short: comparing windows costs less than a lower-cased copy.
    WORDS.iter().any(|word| {
        name.as_bytes()
            .windows(word.len())
            .any(|window| window.eq_ignore_ascii_case(word.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_the_tail_of_long_secrets() {
        assert_eq!(mask("zmigewsanbbsdf59xnmduzypjc"), "…ypjc");
        assert_eq!(mask("short"), "…");
        let mut echoed = "…ypjc".to_owned();
        restore(&mut echoed, "zmigewsanbbsdf59xnmduzypjc");
        assert_eq!(echoed, "zmigewsanbbsdf59xnmduzypjc");
    }

    #[test]
    fn credential_headers_are_recognised() {
        for name in [
            "Authorization",
            "X-API-Key",
            "webhook-signature",
            "X-Auth-Token",
            "Cookie",
        ] {
            assert!(is_sensitive_header(name), "{name}");
        }
        assert!(!is_sensitive_header("Content-Type"));
    }
}
