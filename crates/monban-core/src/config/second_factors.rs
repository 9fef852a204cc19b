//! A realm's second factors (SPEC §4): which methods members may choose, and the rules of the
//! one-time codes sent by mail.

use serde::Deserialize;

/// A second factor a realm may offer (SPEC §4).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum SecondFactorMethod {
    /// 生体認証 (WebAuthn passkeys).
    Passkey,
    /// ワンタイムパスワード (OTP) アプリ認証 (TOTP).
    OtpApp,
    /// ワンタイムパスワード (OTP) メール認証.
    OtpMail,
}

impl SecondFactorMethod {
    pub const ALL: [SecondFactorMethod; 3] = [
        SecondFactorMethod::Passkey,
        SecondFactorMethod::OtpApp,
        SecondFactorMethod::OtpMail,
    ];

    /// The name in realm files and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactorMethod::Passkey => "passkey",
            SecondFactorMethod::OtpApp => "otp-app",
            SecondFactorMethod::OtpMail => "otp-mail",
        }
    }

    pub fn parse(text: &str) -> Option<SecondFactorMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// `[second_factors]`: which methods members may choose, in the order they are listed.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SecondFactors {
    pub offered: Vec<SecondFactorMethod>,
}

impl Default for SecondFactors {
    fn default() -> Self {
        Self {
            offered: SecondFactorMethod::ALL.to_vec(),
        }
    }
}

/// `[otp_mail]`: one-time codes sent by mail (SPEC §4.3).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct OtpMailPolicy {
    /// How long a code stays valid.
    pub code_seconds: i64,
    /// Wrong tries a code survives; then the member asks for a new one.
    pub max_attempts: i32,
    /// "再送信" sends a new code at most this often.
    pub resend_seconds: i64,
}

impl Default for OtpMailPolicy {
    fn default() -> Self {
        Self {
            code_seconds: 300,
            max_attempts: 5,
            resend_seconds: 30,
        }
    }
}

impl OtpMailPolicy {
    pub(crate) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !(30..=3600).contains(&self.code_seconds) {
            problems.push(("code_seconds", "must be between 30 and 3600".to_string()));
        }
        if !(1..=20).contains(&self.max_attempts) {
            problems.push(("max_attempts", "must be between 1 and 20".to_string()));
        }
        if !(0..=self.code_seconds).contains(&self.resend_seconds) {
            problems.push((
                "resend_seconds",
                "must be between 0 and code_seconds".to_string(),
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_specs_and_nonsense_is_named() {
        assert!(OtpMailPolicy::default().problems().is_empty());
        let bad = OtpMailPolicy {
            code_seconds: 10,
            max_attempts: 0,
            resend_seconds: 20,
        };
        let fields: Vec<&str> = bad.problems().iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["code_seconds", "max_attempts", "resend_seconds"]);
    }
}
