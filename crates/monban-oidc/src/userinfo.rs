//! The userinfo endpoint: a bearer access token in, the member's claims out.

use crate::mint::member_claims;
use crate::{OidcError, Provider};
use jsonwebtoken::{decode, decode_header, Validation};
use monban_core::config::RealmConfig;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Why a bearer token was refused (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No token at all: a bare challenge.
    Missing,
    InvalidToken,
    Server,
}

impl From<OidcError> for BearerError {
    fn from(_: OidcError) -> Self {
        BearerError::Server
    }
}

#[derive(Deserialize)]
struct AccessClaims {
    sub: String,
    jti: String,
    scope: String,
    typ: String,
}

impl Provider {
    /// The claims a valid, unrevoked access token of this realm may see.
    pub fn userinfo(&self, realm: &RealmConfig, token: Option<&str>) -> Result<Value, BearerError> {
        let token = token.ok_or(BearerError::Missing)?;
        let header = decode_header(token).map_err(|_| BearerError::InvalidToken)?;
        let kid = header.kid.ok_or(BearerError::InvalidToken)?;
        let (algorithm, key) = self
            .keys
            .verification_key(&realm.name, &kid)?
            .ok_or(BearerError::InvalidToken)?;
        if header.alg != algorithm {
            return Err(BearerError::InvalidToken);
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[self.issuer(&realm.name)]);
        validation.validate_aud = false;
        validation.leeway = 0;
        let claims = decode::<AccessClaims>(token, &key, &validation)
            .map_err(|_| BearerError::InvalidToken)?
            .claims;
        if claims.typ != "Bearer" {
            return Err(BearerError::InvalidToken);
        }
        // Signature and expiry are not enough: the token may have been revoked (logout, code replay).
        let now = self.clock.now();
        let issued = self
            .store
            .active_token(&claims.jti, now)
            .map_err(OidcError::from)?
            .ok_or(BearerError::InvalidToken)?;
        if issued.user_pk.as_deref() != Some(claims.sub.as_str()) {
            return Err(BearerError::InvalidToken);
        }
        let user = self
            .store
            .find_user(&claims.sub)
            .map_err(OidcError::from)?
            .filter(|u| u.enabled)
            .ok_or(BearerError::InvalidToken)?;
        let scopes: Vec<&str> = claims.scope.split(' ').collect();
        let mut body = Map::new();
        body.insert("sub".into(), json!(user.id));
        let named: Vec<String> = issued
            .claims
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        for (name, value) in member_claims(&user, &scopes, &named) {
            body.insert(name.into(), value);
        }
        Ok(Value::Object(body))
    }
}
