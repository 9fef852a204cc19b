//! Secrets at rest. Private signing keys, OTP-app keys and login-step state are sealed with
//! AES-256-GCM under a key that lives outside the database, so a copy of the database alone
//! reveals none.
//! Bearer secrets that only need to be recognised (session cookies, codes) are kept as digests;
//! short ones, whose every value could be tried (a 6-digit mailed code), as keyed digests.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the at-rest encryption key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("a sealed value could not be opened: wrong key or tampered data")]
    Open,
    #[error("no randomness available")]
    Random,
}

/// Seals and opens values with the installation's at-rest key.
pub struct SecretBox {
    key: LessSafeKey,
    /// Derived from the at-rest key, so that sealing and digesting never share a key.
    digest_key: hmac::Key,
    random: SystemRandom,
}

impl SecretBox {
    pub fn from_base64(encoded: &str) -> Result<Self, SealError> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| SealError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::BadKey)?;
        let digest_key = Salt::new(HKDF_SHA256, b"monban at-rest key")
            .extract(bytes)
            .expand(&[b"keyed digest"], hmac::HMAC_SHA256)
            .map_err(|_| SealError::BadKey)?
            .into();
        Ok(Self {
            key: LessSafeKey::new(key),
            digest_key,
            random: SystemRandom::new(),
        })
    }

    /// A fresh key, base64-encoded, for `monban` to write on first start.
    pub fn generate_key_base64() -> Result<String, SealError> {
        use base64::Engine;
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SealError::Random)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// `context` (e.g. the row's identifier) is bound to the ciphertext, so a sealed value
    /// moved to another row does not open.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut buffer = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| SealError::Random)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&buffer);
        Ok(sealed)
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| SealError::Open)?;
        Ok(plaintext.to_vec())
    }

    /// HMAC-SHA256 of `secret` under a key derived from the at-rest key, hex-encoded, bound to
    /// `context`. For secrets too short for a plain digest: all 10^6 six-digit codes are hashed
    /// in a moment, so a copy of the database alone must not tell which one is live.
    pub fn keyed_digest(&self, context: &str, secret: &str) -> String {
        let mut signing = hmac::Context::with_key(&self.digest_key);
        // The length prefix keeps ("a:b", "c") and ("a", "b:c") apart.
        signing.update(&(context.len() as u64).to_be_bytes());
        signing.update(context.as_bytes());
        signing.update(secret.as_bytes());
        hex(signing.sign().as_ref())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a bearer secret, hex-encoded: what the database keeps instead of the secret.
pub fn digest(secret: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let sealer = SecretBox::from_base64(&SecretBox::generate_key_base64().unwrap()).unwrap();
        let sealed = sealer.seal("kid-1", b"private key").unwrap();
        assert_ne!(&sealed[12..], b"private key");
        assert_eq!(sealer.open("kid-1", &sealed).unwrap(), b"private key");
        assert_eq!(sealer.open("kid-2", &sealed), Err(SealError::Open));
        let other = SecretBox::from_base64(&SecretBox::generate_key_base64().unwrap()).unwrap();
        assert_eq!(other.open("kid-1", &sealed), Err(SealError::Open));
        assert_eq!(
            SecretBox::from_base64("c2hvcnQ=").err(),
            Some(SealError::BadKey)
        );
    }

    #[test]
    fn keyed_digests_need_the_key_and_differ_by_context() {
        let key = SecretBox::generate_key_base64().unwrap();
        let sealer = SecretBox::from_base64(&key).unwrap();
        let again = SecretBox::from_base64(&key).unwrap();
        let other = SecretBox::from_base64(&SecretBox::generate_key_base64().unwrap()).unwrap();
        let code = sealer.keyed_digest("member-1", "123456");
        assert_eq!(code.len(), 64);
        assert_eq!(code, again.keyed_digest("member-1", "123456"));
        assert_ne!(code, other.keyed_digest("member-1", "123456"));
        assert_ne!(code, sealer.keyed_digest("member-2", "123456"));
        assert_ne!(code, sealer.keyed_digest("member-1", "123457"));
        assert_ne!(code, digest("member-1:123456"));
        assert_ne!(
            sealer.keyed_digest("a:b", "c"),
            sealer.keyed_digest("a", "b:c")
        );
    }

    #[test]
    fn digests_are_stable_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
