//! jsonwebtoken with ring underneath. jsonwebtoken 11 leaves the cryptography to a provider;
//! its own RustCrypto provider signs RSA with the `rsa` crate, which has an open timing
//! advisory (RUSTSEC-2023-0071), so every signature here is made and checked by ring instead.
//!
//! Key formats: RSA and EC private keys are PKCS#8 DER; RSA public keys come as (n, e), EC
//! public keys as the uncompressed SEC1 point, Ed25519 public keys as the raw 32 bytes.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, KeyPair as _};
use std::sync::Once;

/// Makes ring the process-wide provider. Idempotent; call before any JWT work.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another provider was installed first; with only ours linked that cannot be.
        let _ = PROVIDER.install_default();
    });
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: jsonwebtoken::crypto::KeyUtils::new_unimplemented(),
};

fn unsupported() -> Error {
    Error::from(ErrorKind::InvalidAlgorithm)
}

fn invalid_key() -> Error {
    Error::from(ErrorKind::InvalidKeyFormat)
}

enum SigningKeyPair {
    Rsa(ring_sig::RsaKeyPair),
    Ecdsa(ring_sig::EcdsaKeyPair),
    Ed25519(ring_sig::Ed25519KeyPair),
}

struct RingSigner {
    algorithm: Algorithm,
    key: SigningKeyPair,
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let random = SystemRandom::new();
        match &self.key {
            SigningKeyPair::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(
                    &ring_sig::RSA_PKCS1_SHA256,
                    &random,
                    message,
                    &mut signature,
                )
                .map_err(|_| SignatureError::new())?;
                Ok(signature)
            }
            SigningKeyPair::Ecdsa(key) => key
                .sign(&random, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignatureError::new()),
            SigningKeyPair::Ed25519(key) => Ok(key.sign(message).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    let der = key.as_bytes();
    let key = match algorithm {
        Algorithm::RS256 => {
            SigningKeyPair::Rsa(ring_sig::RsaKeyPair::from_pkcs8(der).map_err(|_| invalid_key())?)
        }
        Algorithm::ES256 => SigningKeyPair::Ecdsa(
            ring_sig::EcdsaKeyPair::from_pkcs8(
                &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                der,
                &SystemRandom::new(),
            )
            .map_err(|_| invalid_key())?,
        ),
        Algorithm::EdDSA => SigningKeyPair::Ed25519(
            ring_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| invalid_key())?,
        ),
        _ => return Err(unsupported()),
    };
    Ok(Box::new(RingSigner {
        algorithm: *algorithm,
        key,
    }))
}

struct RingVerifier {
    algorithm: Algorithm,
    key: DecodingKeyKind,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), SignatureError> {
        let outcome = match (&self.algorithm, &self.key) {
            (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) => {
                ring_sig::RsaPublicKeyComponents { n, e }.verify(
                    &ring_sig::RSA_PKCS1_2048_8192_SHA256,
                    message,
                    signature,
                )
            }
            (Algorithm::RS256, DecodingKeyKind::SecretOrDer(der)) => {
                ring_sig::UnparsedPublicKey::new(&ring_sig::RSA_PKCS1_2048_8192_SHA256, der)
                    .verify(message, signature)
            }
            (Algorithm::ES256, DecodingKeyKind::SecretOrDer(point)) => {
                ring_sig::UnparsedPublicKey::new(&ring_sig::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
            }
            (Algorithm::EdDSA, DecodingKeyKind::SecretOrDer(raw)) => {
                ring_sig::UnparsedPublicKey::new(&ring_sig::ED25519, raw).verify(message, signature)
            }
            _ => return Err(SignatureError::new()),
        };
        outcome.map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    if !matches!(
        algorithm,
        Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
    ) {
        return Err(unsupported());
    }
    Ok(Box::new(RingVerifier {
        algorithm: *algorithm,
        key: key.kind().clone(),
    }))
}

/// The raw public key of a PKCS#8 EC or Ed25519 key pair (for JWKs).
pub fn public_key_of(algorithm: Algorithm, pkcs8: &[u8]) -> Option<Vec<u8>> {
    match algorithm {
        Algorithm::ES256 => ring_sig::EcdsaKeyPair::from_pkcs8(
            &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .ok()
        .map(|k| k.public_key().as_ref().to_vec()),
        Algorithm::EdDSA => ring_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .ok()
            .map(|k| k.public_key().as_ref().to_vec()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, encode, Header, Validation};
    use ring::signature::EcdsaKeyPair;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
        exp: u64,
    }

    // jsonwebtoken compiles without a provider and panics at run time: this proves ours is
    // wired in, for each algorithm.
    #[test]
    fn signs_and_verifies_es256() {
        install();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(
            &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .unwrap();
        let claims = Claims {
            sub: "member".into(),
            exp: 4_000_000_000,
        };
        let token = encode(
            &Header::new(Algorithm::ES256),
            &claims,
            &EncodingKey::from_ec_der(pkcs8.as_ref()),
        )
        .unwrap();
        let point = public_key_of(Algorithm::ES256, pkcs8.as_ref()).unwrap();
        let decoded = decode::<Claims>(
            &token,
            &DecodingKey::from_ec_der(&point),
            &Validation::new(Algorithm::ES256),
        )
        .unwrap();
        assert_eq!(decoded.claims, claims);
        let mut tampered = token.clone();
        tampered.replace_range(token.len() - 3.., "AAA");
        assert!(decode::<Claims>(
            &tampered,
            &DecodingKey::from_ec_der(&point),
            &Validation::new(Algorithm::ES256)
        )
        .is_err());
    }

    #[test]
    fn signs_and_verifies_eddsa() {
        install();
        let pkcs8 = ring_sig::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let claims = Claims {
            sub: "member".into(),
            exp: 4_000_000_000,
        };
        let token = encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &EncodingKey::from_ed_der(pkcs8.as_ref()),
        )
        .unwrap();
        let raw = public_key_of(Algorithm::EdDSA, pkcs8.as_ref()).unwrap();
        let decoded = decode::<Claims>(
            &token,
            &DecodingKey::from_ed_der(&raw),
            &Validation::new(Algorithm::EdDSA),
        )
        .unwrap();
        assert_eq!(decoded.claims, claims);
    }
}
