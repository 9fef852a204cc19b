//! Minting tokens: access tokens (JWT, recorded for revocation), ID tokens, refresh tokens.

use crate::authorize::RequestedClaims;
use crate::keys::jwt_algorithm;
use crate::{random_token, OidcError, Provider};
use jsonwebtoken::{encode, Header};
use monban_core::config::{ClientConfig, RealmConfig, SigningAlgorithm};
use monban_store::sealed::digest;
use monban_store::{IssuedToken, RefreshToken, SsoSession, User};
use serde_json::{json, Map, Value};

/// The authentication a member's tokens describe: from a code, or carried by a refresh token.
#[derive(Debug, Clone)]
pub(crate) struct Authentication {
    pub sid: String,
    pub auth_time: i64,
    pub acr: String,
    /// JSON array, as stored.
    pub amr: String,
}

/// The grant a refresh token belongs to. Its scope and its offline nature never change on
/// rotation (RFC 6749 §6), even when one refresh asks for less.
pub(crate) struct RefreshFamily<'a> {
    pub id: &'a str,
    pub offline: bool,
    pub scope: &'a str,
}

/// Who the tokens are for.
pub(crate) enum Subject<'a> {
    Member {
        user: &'a User,
        authentication: Authentication,
    },
    /// A service account (client credentials): the client itself.
    Service,
}

/// Everything a token response is made from.
pub(crate) struct Grant<'a> {
    pub realm: &'a RealmConfig,
    pub client: &'a ClientConfig,
    pub subject: Subject<'a>,
    pub scopes: Vec<String>,
    pub nonce: Option<&'a str>,
    /// Claims asked for by name, beyond the scopes.
    pub claims: RequestedClaims,
    /// The code the tokens come from, so a replay of it can revoke them.
    pub code_digest: Option<&'a str>,
    /// The refresh-token family, so reuse of one of its tokens can revoke them.
    pub family_id: Option<&'a str>,
}

impl Grant<'_> {
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

impl Provider {
    /// An access token (a JWT, RS256) recorded in the database; returns it and its lifetime.
    pub(crate) fn mint_access_token(&self, grant: &Grant<'_>) -> Result<(String, i64), OidcError> {
        let now = self.clock.now();
        let lifetime = grant.client.access_token_seconds(&grant.realm.tokens);
        let jti = random_token();
        let client_id = &grant.client.client_id;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer(&grant.realm.name)));
        claims.insert("exp".into(), json!(now + lifetime));
        claims.insert("iat".into(), json!(now));
        claims.insert("jti".into(), json!(jti));
        claims.insert("typ".into(), json!("Bearer"));
        claims.insert("azp".into(), json!(client_id));
        claims.insert("client_id".into(), json!(client_id));
        claims.insert("scope".into(), json!(grant.scope()));
        let (user_pk, sid) = match &grant.subject {
            Subject::Member {
                user,
                authentication,
            } => {
                claims.insert("sub".into(), json!(user.id));
                claims.insert("aud".into(), json!(client_id));
                claims.insert("sid".into(), json!(authentication.sid));
                claims.insert("auth_time".into(), json!(authentication.auth_time));
                (Some(user.id.clone()), Some(authentication.sid.clone()))
            }
            Subject::Service => {
                // RFC 9068 §2.2: for a client acting for itself, `sub` is the client.
                claims.insert("sub".into(), json!(client_id));
                let audience = if grant.client.audience.is_empty() {
                    vec![client_id.clone()]
                } else {
                    grant.client.audience.clone()
                };
                claims.insert("aud".into(), json!(audience));
                (None, None)
            }
        };
        let token = self.sign(
            &grant.realm.name,
            SigningAlgorithm::RS256,
            "at+jwt",
            &Value::Object(claims),
        )?;
        self.store.record_issued_token(&IssuedToken {
            jti,
            realm: grant.realm.name.clone(),
            kind: "access".into(),
            client_id: client_id.clone(),
            user_pk,
            sso_session_id: sid.clone(),
            code_digest: grant.code_digest.map(str::to_string),
            scope: grant.scope(),
            issued_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
            family_id: grant.family_id.map(str::to_string),
            claims: (!grant.claims.userinfo.is_empty())
                .then(|| serde_json::to_string(&grant.claims.userinfo).unwrap_or_default()),
        })?;
        if let Some(sid) = sid {
            self.store.record_session_client(&sid, client_id)?;
        }
        Ok((token, lifetime))
    }

    pub(crate) fn mint_id_token(
        &self,
        grant: &Grant<'_>,
        access_token: &str,
    ) -> Result<String, OidcError> {
        let Subject::Member {
            user,
            authentication,
        } = &grant.subject
        else {
            return Err(OidcError::Internal("ID tokens are for members".into()));
        };
        let now = self.clock.now();
        let algorithm = grant.client.id_token_signed_response_alg;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer(&grant.realm.name)));
        claims.insert("sub".into(), json!(user.id));
        claims.insert("aud".into(), json!(grant.client.client_id));
        claims.insert("azp".into(), json!(grant.client.client_id));
        claims.insert(
            "exp".into(),
            json!(now + grant.client.access_token_seconds(&grant.realm.tokens)),
        );
        claims.insert("iat".into(), json!(now));
        claims.insert("auth_time".into(), json!(authentication.auth_time));
        claims.insert("sid".into(), json!(authentication.sid));
        claims.insert("acr".into(), json!(authentication.acr));
        let amr: Value = serde_json::from_str(&authentication.amr).unwrap_or_else(|_| json!([]));
        claims.insert("amr".into(), amr);
        if let Some(nonce) = grant.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        claims.insert(
            "at_hash".into(),
            json!(left_half_hash(algorithm, access_token)),
        );
        let scopes: Vec<&str> = grant.scopes.iter().map(String::as_str).collect();
        for (name, value) in member_claims(user, &scopes, &grant.claims.id_token) {
            claims.insert(name.into(), value);
        }
        self.sign(&grant.realm.name, algorithm, "JWT", &Value::Object(claims))
    }

    /// A new refresh token of `family`. Its life follows the SSO session (idle and maximum),
    /// or, offline, the realm's offline idle time.
    pub(crate) fn mint_refresh_token(
        &self,
        grant: &Grant<'_>,
        session: &SsoSession,
        family: &RefreshFamily<'_>,
    ) -> Result<String, OidcError> {
        let offline = family.offline;
        let Subject::Member {
            user,
            authentication,
        } = &grant.subject
        else {
            return Err(OidcError::Internal("refresh tokens are for members".into()));
        };
        let now = self.clock.now();
        let tokens = &grant.realm.tokens;
        let expires_at = if offline {
            now + tokens.offline_idle_seconds
        } else {
            let (idle, max) = tokens.sso(session.remember_me);
            (now + idle).min(session.created_at + max)
        };
        let value = random_token();
        self.store.insert_refresh_token(&RefreshToken {
            token_digest: digest(&value),
            family_id: family.id.to_string(),
            realm: grant.realm.name.clone(),
            client_id: grant.client.client_id.clone(),
            user_pk: user.id.clone(),
            sso_session_id: authentication.sid.clone(),
            offline,
            scope: family.scope.to_string(),
            auth_time: authentication.auth_time,
            acr: authentication.acr.clone(),
            amr: authentication.amr.clone(),
            claims: grant.claims.to_stored(),
            issued_at: now,
            expires_at,
            used_at: None,
            revoked_at: None,
        })?;
        Ok(value)
    }

    pub(crate) fn sign(
        &self,
        realm: &str,
        algorithm: SigningAlgorithm,
        typ: &str,
        claims: &Value,
    ) -> Result<String, OidcError> {
        let key = self.keys.signing_key(realm, algorithm)?;
        let mut header = Header::new(jwt_algorithm(algorithm));
        header.kid = Some(key.kid);
        header.typ = Some(typ.to_string());
        encode(&header, claims, &key.encoding)
            .map_err(|e| OidcError::Internal(format!("signing failed: {e}")))
    }
}

/// The member's claims that the scopes release (ID token and userinfo alike), plus those asked
/// for by name.
pub(crate) fn member_claims(
    user: &User,
    scopes: &[&str],
    named: &[String],
) -> Vec<(&'static str, Value)> {
    let wanted =
        |claim: &str, scope: &str| scopes.contains(&scope) || named.iter().any(|n| n == claim);
    let mut claims = Vec::new();
    if wanted("preferred_username", "profile") {
        claims.push(("preferred_username", json!(user.user_id)));
    }
    if wanted("name", "profile") {
        claims.push(("name", json!(user.display_name)));
    }
    if let Some(email) = &user.email {
        if wanted("email", "email") {
            claims.push(("email", json!(email)));
        }
        if wanted("email_verified", "email") {
            claims.push(("email_verified", json!(user.email_verified)));
        }
    }
    claims
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the token's hash, with the hash that goes
/// with the signing algorithm (SHA-256 for RS256 and ES256; SHA-512 for Ed25519, as OpenID
/// Connect's EdDSA practice and openid-client expect).
fn left_half_hash(algorithm: SigningAlgorithm, token: &str) -> String {
    use base64::Engine;
    let hash = match algorithm {
        SigningAlgorithm::RS256 | SigningAlgorithm::ES256 => {
            ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        }
        SigningAlgorithm::EdDSA => ring::digest::digest(&ring::digest::SHA512, token.as_bytes()),
    };
    let bytes = hash.as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}
