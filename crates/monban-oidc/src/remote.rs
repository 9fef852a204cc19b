//! Keys that clients publish at a `jwks_uri`, fetched and cached for a few minutes.

use crate::{OidcError, Provider};
use jsonwebtoken::jwk::JwkSet;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CACHE_FOR: Duration = Duration::from_secs(300);
/// A client's JWKS is small; anything bigger is refused.
const MAX_JWKS_BYTES: usize = 64 * 1024;

#[derive(Default)]
pub struct RemoteKeys {
    cache: Mutex<HashMap<String, (Instant, JwkSet)>>,
}

impl Provider {
    /// Blocking: called from the token endpoint's worker thread.
    pub(crate) fn fetch_jwks(&self, uri: &str) -> Result<JwkSet, OidcError> {
        if let Some((fetched, keys)) = self
            .remote_keys
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uri)
        {
            if fetched.elapsed() < CACHE_FOR {
                return Ok(keys.clone());
            }
        }
        let failure = |what: String| OidcError::Remote(format!("{uri}: {what}"));
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| failure(e.to_string()))?;
        let response = client.get(uri).send().map_err(|e| failure(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failure(format!("status {}", response.status())));
        }
        let body = response.bytes().map_err(|e| failure(e.to_string()))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(failure("JWKS too large".into()));
        }
        let keys: JwkSet = serde_json::from_slice(&body).map_err(|e| failure(e.to_string()))?;
        self.remote_keys
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uri.to_string(), (Instant::now(), keys.clone()));
        Ok(keys)
    }
}
