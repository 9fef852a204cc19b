//! Time-based one-time passwords (RFC 6238) of the OTP app (SPEC §4.2): what the set-up page
//! gives an authenticator app (an `otpauth://totp/` URI, its QR code, the key to type) and
//! which time step a typed code belongs to.

use crate::FlowError;
use monban_core::config::OtpAlgorithm;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Bytes of a new device's key: 160 bits, as RFC 4226 recommends (and what apps expect).
pub const KEY_BYTES: usize = 20;

/// What codes are computed from: a device's key and the settings it was set up with. No
/// `Debug`: the key must never reach a log.
#[derive(Clone)]
pub struct OtpKey {
    pub secret: Vec<u8>,
    pub algorithm: OtpAlgorithm,
    pub digits: u32,
    pub period: u32,
}

fn algorithm(algorithm: OtpAlgorithm) -> Algorithm {
    match algorithm {
        OtpAlgorithm::SHA1 => Algorithm::SHA1,
        OtpAlgorithm::SHA256 => Algorithm::SHA256,
        OtpAlgorithm::SHA512 => Algorithm::SHA512,
    }
}

/// A colon separates issuer and account in an `otpauth` label, so neither may hold one; a
/// full-width colon reads the same in an app's list.
fn label_part(text: &str) -> String {
    text.replace(':', "：")
}

impl OtpKey {
    fn totp(&self, issuer: Option<&str>, account: &str) -> Result<Totp, FlowError> {
        let digits = u8::try_from(self.digits)
            .map_err(|_| FlowError::Corrupt(format!("{} OTP digits", self.digits)))?;
        Ok(Builder::new()
            .with_algorithm(algorithm(self.algorithm))
            .with_digits(digits)
            .with_step_duration(u64::from(self.period))
            .with_secret(Secret::from(self.secret.as_slice()))
            .with_issuer(issuer.map(label_part))
            .with_account_name(label_part(account))
            .build()?)
    }

    /// The URI an app reads from the QR code: issuer = the realm's title, account = the user
    /// ID, so that the app's list says whose code is whose.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Result<String, FlowError> {
        Ok(self.totp(Some(issuer), account)?.to_url()?)
    }

    /// The key as a member types it into an app: base32 in groups of four ("NQZX CVTI …").
    /// Apps read it in any case and ignore the spaces.
    pub fn grouped_base32(&self) -> String {
        let encoded = Secret::from(self.secret.as_slice()).to_base32();
        encoded
            .as_bytes()
            .chunks(4)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The time step of `typed` among steps now−`look_around`..=now+`look_around` (clock
    /// drift between the phone and the server), if it is the code of one. Every step of the
    /// window is computed and compared in constant time, so the time taken says nothing about
    /// which (or whether any) matched. The latest matching step wins.
    pub fn matching_step(
        &self,
        typed: &str,
        now: i64,
        look_around: u32,
    ) -> Result<Option<i64>, FlowError> {
        let totp = self.totp(None, "")?;
        let period = i64::from(self.period);
        let current = now.div_euclid(period);
        let window = i64::from(look_around);
        let mut matched = None;
        for step in (current - window).max(0)..=current + window {
            // `step * period` is a time of that step; non-negative by the bound above.
            let code = totp.generate((step * period) as u64).to_string();
            if bool::from(code.as_bytes().ct_eq(typed.as_bytes())) {
                matched = Some(step);
            }
        }
        Ok(matched)
    }
}

/// The QR code of `uri` as inline SVG: dark on white with the quiet zone the standard asks for,
/// and modules big enough for a phone camera or a browser extension reading the screen. The
/// XML prologue is dropped: the SVG goes inside an HTML page.
pub fn qr_svg(uri: &str) -> Result<String, FlowError> {
    let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)?;
    let image = code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(264, 264)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    let start = image
        .find("<svg")
        .ok_or_else(|| FlowError::Corrupt("the QR renderer made no <svg>".into()))?;
    Ok(image[start..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 key: "12345678901234567890".
    fn rfc_key(digits: u32) -> OtpKey {
        OtpKey {
            secret: b"12345678901234567890".to_vec(),
            algorithm: OtpAlgorithm::SHA1,
            digits,
            period: 30,
        }
    }

    #[test]
    fn codes_match_the_rfc_test_vectors_within_the_window_only() {
        // RFC 6238 appendix B: at T=59 the 8-digit SHA-1 code is 94287082 (step 1).
        let key = rfc_key(8);
        assert_eq!(key.matching_step("94287082", 59, 1).unwrap(), Some(1));
        // One step later the code is still accepted (drift), two steps later it is not.
        assert_eq!(key.matching_step("94287082", 89, 1).unwrap(), Some(1));
        assert_eq!(key.matching_step("94287082", 119, 1).unwrap(), None);
        assert_eq!(key.matching_step("94287082", 89, 0).unwrap(), None);
        // At T=1111111109: 07081804 (a leading zero is part of the code).
        assert_eq!(
            key.matching_step("07081804", 1_111_111_109, 1).unwrap(),
            Some(1_111_111_109 / 30)
        );
        assert_eq!(
            key.matching_step("7081804", 1_111_111_109, 1).unwrap(),
            None
        );
        // Six digits: the last six of the eight.
        assert_eq!(rfc_key(6).matching_step("287082", 59, 1).unwrap(), Some(1));
    }

    #[test]
    fn the_uri_and_the_key_say_what_an_app_needs() {
        let key = rfc_key(6);
        assert_eq!(
            key.grouped_base32(),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
        let uri = key.otpauth_uri("テスト健保: 加入者", "member0001").unwrap();
        let parsed = url::Url::parse(&uri).unwrap();
        assert_eq!(parsed.scheme(), "otpauth");
        assert_eq!(parsed.host_str(), Some("totp"));
        let back = Totp::from_url(&uri).unwrap();
        assert_eq!(back.issuer(), Some("テスト健保： 加入者"));
        assert_eq!(back.account_name(), "member0001");
        assert_eq!(back.secret().as_bytes(), b"12345678901234567890");
        let sha256 = OtpKey {
            algorithm: OtpAlgorithm::SHA256,
            digits: 8,
            period: 60,
            ..key
        };
        let uri = sha256.otpauth_uri("健保", "member0001").unwrap();
        for part in ["algorithm=SHA256", "digits=8", "period=60"] {
            assert!(uri.contains(part), "{uri}");
        }
    }

    #[test]
    fn the_qr_code_is_inline_svg() {
        let svg = qr_svg("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains("fill=\"#ffffff\"") && svg.contains("fill=\"#000000\""));
        assert!(svg.ends_with("</svg>"));
    }
}
