use serde::Deserialize;

/// What a new password must satisfy (SPEC §3.6). Defaults are the manuals' policy.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    /// Symbols allowed besides ASCII letters and digits.
    pub allowed_symbols: String,
    pub require_letter: bool,
    pub require_digit: bool,
    pub not_user_id: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 64,
            allowed_symbols: "!\"#$%&'()*=~|`{+}<>?_-^@[;:],./\\".into(),
            require_letter: true,
            require_digit: true,
            not_user_id: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordViolation {
    Empty,
    TooShort { min: usize },
    TooLong { max: usize },
    ForbiddenCharacters,
    NoLetter,
    NoDigit,
    SameAsUserId,
    SameAsCurrent,
    ConfirmationMismatch,
}

impl PasswordViolation {
    pub fn message_key(&self) -> &'static str {
        match self {
            PasswordViolation::Empty => "password_empty",
            PasswordViolation::TooShort { .. } => "password_too_short",
            PasswordViolation::TooLong { .. } => "password_too_long",
            PasswordViolation::ForbiddenCharacters => "password_forbidden_characters",
            PasswordViolation::NoLetter => "password_no_letter",
            PasswordViolation::NoDigit => "password_no_digit",
            PasswordViolation::SameAsUserId => "password_same_as_user_id",
            PasswordViolation::SameAsCurrent => "password_same_as_current",
            PasswordViolation::ConfirmationMismatch => "password_confirmation_mismatch",
        }
    }
}

impl PasswordPolicy {
    /// Every rule `candidate` breaks, in the order a member should fix them. Comparing with the
    /// current password needs its hash, so the caller checks `SameAsCurrent`.
    pub fn violations(&self, candidate: &str, user_id: &str) -> Vec<PasswordViolation> {
        let mut found = Vec::new();
        if candidate.is_empty() {
            return vec![PasswordViolation::Empty];
        }
        let length = candidate.chars().count();
        if length < self.min_length {
            found.push(PasswordViolation::TooShort {
                min: self.min_length,
            });
        }
        if length > self.max_length {
            found.push(PasswordViolation::TooLong {
                max: self.max_length,
            });
        }
        if !candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || self.allowed_symbols.contains(c))
        {
            found.push(PasswordViolation::ForbiddenCharacters);
        }
        if self.require_letter && !candidate.chars().any(|c| c.is_ascii_alphabetic()) {
            found.push(PasswordViolation::NoLetter);
        }
        if self.require_digit && !candidate.chars().any(|c| c.is_ascii_digit()) {
            found.push(PasswordViolation::NoDigit);
        }
        if self.not_user_id && candidate.eq_ignore_ascii_case(user_id) {
            found.push(PasswordViolation::SameAsUserId);
        }
        found
    }

    pub(crate) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.min_length == 0 {
            problems.push(("min_length", "must be at least 1".to_string()));
        }
        if self.max_length < self.min_length {
            problems.push(("max_length", "must be at least min_length".to_string()));
        }
        if self.max_length > 1024 {
            problems.push(("max_length", "must be at most 1024".to_string()));
        }
        if self
            .allowed_symbols
            .chars()
            .any(|c| !c.is_ascii_punctuation())
        {
            problems.push(("allowed_symbols", "may list only ASCII symbols".to_string()));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manuals_examples() {
        let policy = PasswordPolicy::default();
        assert!(policy.violations("d00000000", "daiwauser1").is_empty());
        assert_eq!(
            policy.violations("Daiwauser", "x"),
            vec![PasswordViolation::NoDigit]
        );
    }

    #[test]
    fn each_rule_on_its_own() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            policy.violations("a1", "x"),
            vec![PasswordViolation::TooShort { min: 8 }]
        );
        assert_eq!(
            policy.violations(&format!("a1{}", "b".repeat(63)), "x"),
            vec![PasswordViolation::TooLong { max: 64 }]
        );
        assert_eq!(
            policy.violations("abcd1234あ", "x"),
            vec![PasswordViolation::ForbiddenCharacters]
        );
        assert_eq!(
            policy.violations("12345678", "x"),
            vec![PasswordViolation::NoLetter]
        );
        assert_eq!(
            policy.violations("member001", "Member001"),
            vec![PasswordViolation::SameAsUserId]
        );
        assert!(policy
            .violations("a1!\"#$%&'()*=~|`{+}<>?_-^@[;:],./\\", "x")
            .is_empty());
    }
}
