//! Secrets at rest. Private signing keys (and later OTP secrets) are sealed with AES-256-GCM
//! under a key that lives outside the database, so a copy of the database alone reveals none.
//! Bearer secrets that only need to be recognised (session cookies, codes) are kept as digests.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
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
        Ok(Self {
            key: LessSafeKey::new(key),
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
}

/// SHA-256 of a bearer secret, hex-encoded: what the database keeps instead of the secret.
pub fn digest(secret: &str) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
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
    fn digests_are_stable_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
