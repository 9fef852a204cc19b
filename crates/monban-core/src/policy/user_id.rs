use serde::Deserialize;

/// What a member's user ID must look like (SPEC §3.5). Defaults are the manuals' policy.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct UserIdPolicy {
    pub min_length: usize,
    pub max_length: usize,
    /// Symbols allowed besides ASCII letters and digits.
    pub allowed_symbols: String,
}

impl Default for UserIdPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 13,
            allowed_symbols: "-_.@".into(),
        }
    }
}

/// The characters listed to members behind "利用不可文字一覧を見る".
pub const LISTED_FORBIDDEN_CHARACTERS: &[&str] = &[
    "<",
    ">",
    "&",
    "\"",
    "'",
    "space",
    "tab",
    "newline",
    "vertical tab",
    "$",
    "%",
    "!",
    "#",
    "?",
    "§",
    ",",
    ";",
    ":",
    "*",
    "~",
    "/",
    "\\",
    "|",
    "^",
    "=",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    "`",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserIdViolation {
    Empty,
    TooShort { min: usize },
    TooLong { max: usize },
    ForbiddenCharacters,
}

impl UserIdViolation {
    pub fn message_key(&self) -> &'static str {
        match self {
            UserIdViolation::Empty => "user_id_empty",
            UserIdViolation::TooShort { .. } => "user_id_too_short",
            UserIdViolation::TooLong { .. } => "user_id_too_long",
            UserIdViolation::ForbiddenCharacters => "user_id_forbidden_characters",
        }
    }
}

impl UserIdPolicy {
    /// User IDs are stored and compared in lowercase.
    pub fn normalize(user_id: &str) -> String {
        user_id.trim().to_ascii_lowercase()
    }

    pub fn violations(&self, user_id: &str) -> Vec<UserIdViolation> {
        if user_id.is_empty() {
            return vec![UserIdViolation::Empty];
        }
        let mut found = Vec::new();
        let length = user_id.chars().count();
        if length < self.min_length {
            found.push(UserIdViolation::TooShort {
                min: self.min_length,
            });
        }
        if length > self.max_length {
            found.push(UserIdViolation::TooLong {
                max: self.max_length,
            });
        }
        if !self.characters_allowed(user_id) {
            found.push(UserIdViolation::ForbiddenCharacters);
        }
        found
    }

    pub fn characters_allowed(&self, user_id: &str) -> bool {
        user_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || self.allowed_symbols.contains(c))
    }

    pub(crate) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.min_length == 0 {
            problems.push(("min_length", "must be at least 1".to_string()));
        }
        if self.max_length < self.min_length {
            problems.push(("max_length", "must be at least min_length".to_string()));
        }
        if self.max_length > 255 {
            problems.push(("max_length", "must be at most 255".to_string()));
        }
        if let Some(bad) = self.allowed_symbols.chars().find(|c| {
            !c.is_ascii_punctuation()
                || LISTED_FORBIDDEN_CHARACTERS.contains(&c.to_string().as_str())
        }) {
            problems.push((
                "allowed_symbols",
                format!("'{bad}' cannot be allowed in user IDs"),
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_manual() {
        let policy = UserIdPolicy::default();
        assert!(policy.violations("taro.y_01@x").is_empty());
        assert_eq!(
            policy.violations("short"),
            vec![UserIdViolation::TooShort { min: 8 }]
        );
        assert_eq!(
            policy.violations("abcdefghijklmn"),
            vec![UserIdViolation::TooLong { max: 13 }]
        );
        for bad in [
            "abcdefg<h",
            "abcd efgh",
            "abcdefg#h",
            "abcdefg§h",
            "abcdefgあ",
        ] {
            assert_eq!(
                policy.violations(bad),
                vec![UserIdViolation::ForbiddenCharacters],
                "{bad}"
            );
        }
        assert_eq!(UserIdPolicy::normalize(" Taro.Yamada "), "taro.yamada");
    }
}
