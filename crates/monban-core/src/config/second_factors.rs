//! A realm's second factors (SPEC §4): which methods members may choose, and the rules of each:
//! passkeys (`[passkey]`), the OTP app (`[otp_app]`) and one-time codes sent by mail
//! (`[otp_mail]`).

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

/// Whether a passkey ceremony must verify the member (biometrics, PIN) or only their presence.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UserVerification {
    /// The authenticator must verify the member (Keycloak's "required"); the default.
    #[default]
    Required,
    /// Verified where the authenticator can; a security key without a PIN still works.
    Preferred,
}

/// `[passkey]`: the WebAuthn relying party (SPEC §4.1). Unset fields follow the server's
/// `public_url`: the RP ID is its host, the one allowed origin is its origin.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PasskeyPolicy {
    /// The domain passkeys are bound to, e.g. "login.daiwakenpo.example". A passkey made for
    /// one RP ID never works for another, so changing it strands every enrolled passkey.
    pub rp_id: Option<String>,
    /// Origins the browser may run the ceremony on, e.g. ["https://login.daiwakenpo.example"];
    /// each must be the RP ID or a subdomain of it.
    pub origins: Vec<String>,
    pub user_verification: UserVerification,
}

impl PasskeyPolicy {
    pub(crate) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Some(rp_id) = &self.rp_id {
            let valid = !rp_id.is_empty()
                && rp_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                && !rp_id.starts_with('.')
                && !rp_id.ends_with('.');
            if !valid {
                problems.push((
                    "rp_id",
                    "must be a domain name without scheme or port, e.g. \"login.example.jp\""
                        .to_string(),
                ));
            }
        }
        for origin in &self.origins {
            match url::Url::parse(origin) {
                Ok(url) if url.path() == "/" && url.query().is_none() && url.host().is_some() => {}
                _ => problems.push((
                    "origins",
                    format!("\"{origin}\" must be an origin, e.g. \"https://login.example.jp\""),
                )),
            }
        }
        problems
    }
}

/// A hash a TOTP app computes codes with.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum OtpAlgorithm {
    #[default]
    SHA1,
    SHA256,
    SHA512,
}

impl OtpAlgorithm {
    /// The name in `otpauth://` URIs, on the set-up page and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            OtpAlgorithm::SHA1 => "SHA1",
            OtpAlgorithm::SHA256 => "SHA256",
            OtpAlgorithm::SHA512 => "SHA512",
        }
    }

    pub fn parse(text: &str) -> Option<OtpAlgorithm> {
        [
            OtpAlgorithm::SHA1,
            OtpAlgorithm::SHA256,
            OtpAlgorithm::SHA512,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }
}

/// `[otp_app]`: the OTP policy of codes from an authenticator app (SPEC §4.2). Devices keep
/// the settings they were set up with; a change applies to devices set up afterwards.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct OtpAppPolicy {
    pub algorithm: OtpAlgorithm,
    /// 6 or 8.
    pub digits: u32,
    /// Seconds each code lasts.
    pub period: u32,
    /// Codes this many periods early or late are accepted too (clock drift).
    pub look_around: u32,
}

impl Default for OtpAppPolicy {
    fn default() -> Self {
        Self {
            algorithm: OtpAlgorithm::SHA1,
            digits: 6,
            period: 30,
            look_around: 1,
        }
    }
}

impl OtpAppPolicy {
    pub(crate) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !matches!(self.digits, 6 | 8) {
            problems.push(("digits", "must be 6 or 8".to_string()));
        }
        if !(15..=120).contains(&self.period) {
            problems.push(("period", "must be between 15 and 120 seconds".to_string()));
        }
        if self.look_around > 5 {
            problems.push(("look_around", "must be between 0 and 5 periods".to_string()));
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

    #[test]
    fn otp_app_and_passkey_settings_are_checked() {
        assert!(OtpAppPolicy::default().problems().is_empty());
        let bad = OtpAppPolicy {
            algorithm: OtpAlgorithm::SHA256,
            digits: 7,
            period: 5,
            look_around: 9,
        };
        let fields: Vec<&str> = bad.problems().iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["digits", "period", "look_around"]);
        assert!(PasskeyPolicy::default().problems().is_empty());
        let bad = PasskeyPolicy {
            rp_id: Some("https://login.example.jp".into()),
            origins: vec![
                "login.example.jp".into(),
                "https://login.example.jp/x".into(),
            ],
            user_verification: UserVerification::Preferred,
        };
        let fields: Vec<&str> = bad.problems().iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["rp_id", "origins", "origins"]);
    }
}
