//! What a member may enter as their mail address (SPEC §3.3). The rules follow what mail
//! servers accept in practice (a dot-atom local part, a dotted host name), which is also what
//! Keycloak's email validator enforces: the manuals' example of a forbidden symbol (`?`) and of
//! a dot right before `@` are both refused.

/// The longest address a member may set (the manuals' message 4).
pub const MAX_EMAIL_LENGTH: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailViolation {
    /// Message 1: nothing entered.
    Empty,
    /// Message 3: not a usable address.
    Invalid,
    /// Message 4: 256 characters or more (always shown together with message 3).
    TooLong,
}

impl EmailViolation {
    pub fn message_key(self) -> &'static str {
        match self {
            EmailViolation::Empty => "email_empty",
            EmailViolation::Invalid => "email_invalid",
            EmailViolation::TooLong => "email_too_long",
        }
    }
}

/// The address as stored: trimmed and lowercased (addresses are matched case-insensitively,
/// as Keycloak does, so one person cannot hold two accounts by changing case).
pub fn normalize_email(text: &str) -> String {
    text.trim().to_ascii_lowercase()
}

/// Every rule `address` (already normalized) breaks, in the order the manuals list them.
pub fn email_violations(address: &str) -> Vec<EmailViolation> {
    if address.is_empty() {
        return vec![EmailViolation::Empty];
    }
    if address.chars().count() > MAX_EMAIL_LENGTH {
        return vec![EmailViolation::Invalid, EmailViolation::TooLong];
    }
    if well_formed(address) {
        Vec::new()
    } else {
        vec![EmailViolation::Invalid]
    }
}

/// Characters of an unquoted local part besides letters and digits (RFC 5322 `atext`), less
/// the ones the manuals name as forbidden (`?`) and those mail systems commonly refuse.
const LOCAL_SYMBOLS: &str = "!#$%&'*+-/=^_`{|}~.";

fn well_formed(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || (LOCAL_SYMBOLS.contains(c) && c != '?'));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()) && tld.len() >= 2);
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_pass() {
        for good in [
            "taro@example.jp",
            "taro.kenpo+portal@mail.example.co.jp",
            "a_b-c@sub-domain.example.com",
        ] {
            assert!(email_violations(good).is_empty(), "{good}");
        }
    }

    #[test]
    fn the_manuals_examples_of_invalid_addresses() {
        for bad in [
            "taro?@example.jp",
            "taro.@example.jp",
            "taro",
            "@example.jp",
            "taro@",
            "taro@example",
            "ta ro@example.jp",
            "taro@@example.jp",
            ".taro@example.jp",
            "ta..ro@example.jp",
            "taro@-example.jp",
            "太郎@example.jp",
        ] {
            assert_eq!(
                email_violations(bad),
                vec![EmailViolation::Invalid],
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_and_too_long() {
        assert_eq!(email_violations(""), vec![EmailViolation::Empty]);
        let long_domain = format!(
            "{}@{}.{}.{}.jp",
            "a".repeat(60),
            "b".repeat(62),
            "c".repeat(62),
            "d".repeat(62)
        );
        assert!(long_domain.len() < 256);
        assert!(email_violations(&long_domain).is_empty());
        let too_long = format!("{}@{}.jp", "a".repeat(64), "b".repeat(188));
        assert_eq!(too_long.len(), 256);
        assert_eq!(
            email_violations(&too_long),
            vec![EmailViolation::Invalid, EmailViolation::TooLong]
        );
    }

    #[test]
    fn normalized_lowercase_and_trimmed() {
        assert_eq!(normalize_email("  Taro@Example.JP "), "taro@example.jp");
    }
}
