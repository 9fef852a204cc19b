//! Monban's authorization server: authorization requests, SSO sessions, codes, the token and
//! userinfo endpoints, signing keys and the JWKS, discovery. HTTP-free: the server crate turns
//! requests into calls here and results into responses.

pub mod authorize;
pub mod client_auth;
mod discovery;
mod introspect;
mod jws;
pub mod keys;
pub mod logout;
mod mint;
mod remote;
mod sso;
pub mod token;
mod userinfo;

pub use authorize::{AuthorizationRequest, AuthorizeRejection, ErrorRedirect, ResponseMode};
pub use keys::KeyRing;
pub use logout::{LogoutPlan, LogoutRejection};
pub use sso::{NewSsoSession, SsoCookie};
pub use token::{TokenError, TokenRequest, TokenResponse};
pub use userinfo::BearerError;

use monban_core::Clock;
use monban_store::Store;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error(transparent)]
    Store(#[from] monban_store::StoreError),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("fetching from a client failed: {0}")]
    Remote(String),
}

impl OidcError {
    /// A word for clients: what failed, without the details that belong in the log.
    pub fn kind(&self) -> &'static str {
        match self {
            OidcError::Store(_) => "database",
            OidcError::Internal(_) => "internal",
            OidcError::Remote(_) => "remote",
        }
    }
}

/// The authorization server of every realm.
pub struct Provider {
    pub store: Store,
    pub keys: KeyRing,
    pub clock: Arc<dyn Clock>,
    /// Monban's public base URL, without a trailing slash.
    pub public_url: String,
    pub remote_keys: remote::RemoteKeys,
}

impl Provider {
    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{}", self.public_url, realm)
    }
}

/// The first value of a request parameter, if present and not empty (OAuth treats an empty
/// parameter as absent, RFC 6749 §3.1).
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A fresh random numeric code of `digits` digits (at most 18), e.g. a one-time password sent
/// by mail. Drawn from 64 random bits, so the bias of the modulo is negligible (about 10^-13
/// for six digits).
pub fn random_digits(digits: u32) -> String {
    use ring::rand::SecureRandom;
    assert!((1..=18).contains(&digits));
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the OS random generator failed");
    let value = u64::from_le_bytes(bytes) % 10u64.pow(digits);
    format!("{value:0width$}", width = digits as usize)
}

/// A fresh random secret for cookies, codes and ids: 32 bytes, base64url.
pub fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// `N` bytes from the OS's secure random generator, e.g. the key of a new OTP device.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the OS random generator failed");
    bytes
}
