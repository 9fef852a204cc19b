//! A realm's signing keys: created at first start (RS256 and ES256), private parts sealed in the
//! database so every instance shares them, public parts published as a JWKS.

use crate::jws;
use crate::OidcError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use monban_core::config::SigningAlgorithm;
use monban_core::{Clock, UnixSeconds};
use monban_store::sealed::SecretBox;
use monban_store::{Store, StoredSigningKey};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// How long a realm's keys are cached before the database is asked again (another instance
/// may have rotated them).
const CACHE_SECONDS: i64 = 30;

/// A key ready to sign.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub encoding: EncodingKey,
}

#[derive(Clone)]
struct LoadedKey {
    kid: String,
    algorithm: SigningAlgorithm,
    active: bool,
    created_at: i64,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Value,
}

struct CachedRealm {
    loaded_at: UnixSeconds,
    keys: Vec<LoadedKey>,
}

/// All realms' keys, cached.
pub struct KeyRing {
    store: Store,
    sealer: Arc<SecretBox>,
    clock: Arc<dyn Clock>,
    cache: RwLock<HashMap<String, Arc<CachedRealm>>>,
}

pub(crate) fn jwt_algorithm(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::RS256 => Algorithm::RS256,
        SigningAlgorithm::ES256 => Algorithm::ES256,
        SigningAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

impl KeyRing {
    pub fn new(store: Store, sealer: Arc<SecretBox>, clock: Arc<dyn Clock>) -> Self {
        jws::install();
        Self {
            store,
            sealer,
            clock,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Makes sure the realm has an active key of every algorithm. Safe to call from several
    /// instances at once: at worst both create a key, and both keys are published.
    pub fn ensure_keys(&self, realm: &str, now: UnixSeconds) -> Result<(), OidcError> {
        let existing = self.store.signing_keys(realm, now)?;
        for algorithm in SigningAlgorithm::ALL {
            let has_active = existing
                .iter()
                .any(|k| k.active && k.algorithm == algorithm.as_str());
            if !has_active {
                let key = generate(realm, algorithm, now, &self.sealer)?;
                self.store.insert_signing_key(&key)?;
            }
        }
        // Open them now: a wrong or lost encryption key must stop the start, not fail logins later.
        self.realm_keys(realm, true)?;
        Ok(())
    }

    fn realm_keys(&self, realm: &str, refresh: bool) -> Result<Arc<CachedRealm>, OidcError> {
        if !refresh {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            if let Some(cached) = cache.get(realm) {
                if self.clock.now() - cached.loaded_at < CACHE_SECONDS {
                    return Ok(cached.clone());
                }
            }
        }
        let keys = self
            .store
            .signing_keys(realm, self.clock.now())?
            .iter()
            .map(|stored| load(stored, &self.sealer))
            .collect::<Result<Vec<_>, _>>()?;
        let cached = Arc::new(CachedRealm {
            loaded_at: self.clock.now(),
            keys,
        });
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(realm.to_string(), cached.clone());
        Ok(cached)
    }

    /// Adds a new active key of every algorithm and stops signing with the old ones, which stay
    /// published for `retire_after` seconds (the longest life of a token they signed) so that
    /// tokens already issued keep verifying. Returns the new key ids.
    pub fn rotate(&self, realm: &str, retire_after: i64) -> Result<Vec<String>, OidcError> {
        let now = self.clock.now();
        let mut created = Vec::new();
        for algorithm in SigningAlgorithm::ALL {
            let key = generate(realm, algorithm, now, &self.sealer)?;
            self.store.insert_signing_key(&key)?;
            self.store.retire_active_keys(
                realm,
                algorithm.as_str(),
                &key.kid,
                now + retire_after,
            )?;
            created.push(key.kid);
        }
        self.realm_keys(realm, true)?;
        Ok(created)
    }

    /// The newest active key of an algorithm.
    pub fn signing_key(
        &self,
        realm: &str,
        algorithm: SigningAlgorithm,
    ) -> Result<SigningKey, OidcError> {
        let keys = self.realm_keys(realm, false)?;
        keys.keys
            .iter()
            .filter(|k| k.active && k.algorithm == algorithm)
            .max_by_key(|k| (k.created_at, k.kid.clone()))
            .map(|k| SigningKey {
                kid: k.kid.clone(),
                algorithm: k.algorithm,
                encoding: k.encoding.clone(),
            })
            .ok_or_else(|| {
                OidcError::Internal(format!(
                    "realm {realm} has no active {} key",
                    algorithm.as_str()
                ))
            })
    }

    /// The published key with this id, to verify a token Monban signed.
    pub fn verification_key(
        &self,
        realm: &str,
        kid: &str,
    ) -> Result<Option<(Algorithm, DecodingKey)>, OidcError> {
        let find = |cached: &CachedRealm| {
            cached
                .keys
                .iter()
                .find(|k| k.kid == kid)
                .map(|k| (jwt_algorithm(k.algorithm), k.decoding.clone()))
        };
        if let Some(found) = find(&*self.realm_keys(realm, false)?) {
            return Ok(Some(found));
        }
        // Perhaps another instance created it since we cached.
        Ok(find(&*self.realm_keys(realm, true)?))
    }

    /// The realm's JWKS document.
    pub fn jwks(&self, realm: &str) -> Result<Value, OidcError> {
        let keys = self.realm_keys(realm, false)?;
        Ok(json!({ "keys": keys.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() }))
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638 thumbprint: the key's id is derived from the key itself.
fn thumbprint(required_members: &Value) -> String {
    // serde_json's map is ordered by key, which is the canonical order RFC 7638 asks for.
    let canonical = serde_json::to_string(required_members).unwrap_or_default();
    b64(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
}

fn generate(
    realm: &str,
    algorithm: SigningAlgorithm,
    now: UnixSeconds,
    sealer: &SecretBox,
) -> Result<StoredSigningKey, OidcError> {
    let (pkcs8, mut jwk) = match algorithm {
        SigningAlgorithm::RS256 => {
            use rsa::pkcs8::EncodePrivateKey;
            use rsa::traits::PublicKeyParts;
            // ring cannot generate RSA keys; `rsa` does, and ring does all signing with them.
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
                .map_err(|e| OidcError::Internal(format!("RSA key generation failed: {e}")))?;
            let der = key
                .to_pkcs8_der()
                .map_err(|e| OidcError::Internal(e.to_string()))?;
            let members = json!({"e": b64(&key.e().to_bytes_be()), "kty": "RSA", "n": b64(&key.n().to_bytes_be())});
            (der.as_bytes().to_vec(), members)
        }
        SigningAlgorithm::ES256 => {
            let random = ring::rand::SystemRandom::new();
            let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &random,
            )
            .map_err(|_| OidcError::Internal("EC key generation failed".into()))?;
            let point = jws::public_key_of(Algorithm::ES256, pkcs8.as_ref())
                .ok_or_else(|| OidcError::Internal("EC key unreadable".into()))?;
            let members = json!({"crv": "P-256", "kty": "EC", "x": b64(&point[1..33]), "y": b64(&point[33..65])});
            (pkcs8.as_ref().to_vec(), members)
        }
        SigningAlgorithm::EdDSA => {
            let random = ring::rand::SystemRandom::new();
            let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&random)
                .map_err(|_| OidcError::Internal("Ed25519 key generation failed".into()))?;
            let raw = jws::public_key_of(Algorithm::EdDSA, pkcs8.as_ref())
                .ok_or_else(|| OidcError::Internal("Ed25519 key unreadable".into()))?;
            let members = json!({"crv": "Ed25519", "kty": "OKP", "x": b64(&raw)});
            (pkcs8.as_ref().to_vec(), members)
        }
    };
    let kid = thumbprint(&jwk);
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    jwk["alg"] = json!(algorithm.as_str());
    let private_key = sealer
        .seal(&kid, &pkcs8)
        .map_err(|e| OidcError::Internal(e.to_string()))?;
    Ok(StoredSigningKey {
        kid,
        realm: realm.to_string(),
        algorithm: algorithm.as_str().to_string(),
        private_key,
        public_jwk: jwk.to_string(),
        created_at: now,
        active: true,
        retire_at: None,
    })
}

fn load(stored: &StoredSigningKey, sealer: &SecretBox) -> Result<LoadedKey, OidcError> {
    let corrupt = |what: &str| OidcError::Internal(format!("signing key {}: {what}", stored.kid));
    let algorithm =
        SigningAlgorithm::parse(&stored.algorithm).ok_or_else(|| corrupt("unknown algorithm"))?;
    let pkcs8 = sealer
        .open(&stored.kid, &stored.private_key)
        .map_err(|_| corrupt("cannot be opened with the configured encryption key"))?;
    let jwk: Value =
        serde_json::from_str(&stored.public_jwk).map_err(|_| corrupt("bad public JWK"))?;
    let field = |name: &str| -> Result<Vec<u8>, OidcError> {
        jwk[name]
            .as_str()
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .ok_or_else(|| corrupt("bad public JWK"))
    };
    let (encoding, decoding) = match algorithm {
        SigningAlgorithm::RS256 => (
            EncodingKey::from_rsa_der(&pkcs8),
            DecodingKey::from_rsa_raw_components(&field("n")?, &field("e")?),
        ),
        SigningAlgorithm::ES256 => {
            let mut point = vec![4u8];
            point.extend(field("x")?);
            point.extend(field("y")?);
            (
                EncodingKey::from_ec_der(&pkcs8),
                DecodingKey::from_ec_der(&point),
            )
        }
        SigningAlgorithm::EdDSA => (
            EncodingKey::from_ed_der(&pkcs8),
            DecodingKey::from_ed_der(&field("x")?),
        ),
    };
    Ok(LoadedKey {
        kid: stored.kid.clone(),
        algorithm,
        active: stored.active,
        created_at: stored.created_at,
        encoding,
        decoding,
        jwk,
    })
}
