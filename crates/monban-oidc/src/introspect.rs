//! Token introspection (RFC 7662) and revocation (RFC 7009).

use crate::token::{TokenError, TokenRequest};
use crate::{OidcError, Provider};
use jsonwebtoken::{decode, decode_header, Validation};
use monban_core::config::{ClientAuthentication, RealmConfig};
use monban_store::sealed::digest;
use monban_store::IssuedToken;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct AccessClaims {
    jti: String,
}

impl Provider {
    /// The record of an access token Monban signed, if `token` is one (expired or not).
    pub(crate) fn access_token_record(
        &self,
        realm: &RealmConfig,
        token: &str,
    ) -> Result<Option<IssuedToken>, OidcError> {
        let Ok(header) = decode_header(token) else {
            return Ok(None);
        };
        let Some(kid) = header.kid else {
            return Ok(None);
        };
        let Some((algorithm, key)) = self.keys.verification_key(&realm.name, &kid)? else {
            return Ok(None);
        };
        if header.alg != algorithm {
            return Ok(None);
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[self.issuer(&realm.name)]);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss"]);
        let Ok(data) = decode::<AccessClaims>(token, &key, &validation) else {
            return Ok(None);
        };
        Ok(self
            .store
            .find_issued_token(&data.claims.jti)?
            .filter(|t| t.realm == realm.name))
    }

    /// RFC 7662. Only confidential clients may ask; any of them may ask about any token of
    /// the realm (that is what resource servers do).
    pub fn introspect(
        &self,
        realm: &RealmConfig,
        request: &TokenRequest<'_>,
    ) -> Result<Value, TokenError> {
        request.check_not_repeated()?;
        let client = self.calling_client(realm, request)?;
        if client.authentication() == ClientAuthentication::Public {
            return Err(TokenError::invalid_client(&realm.name));
        }
        let token = request
            .get("token")
            .ok_or_else(|| TokenError::new("invalid_request", "token is required"))?;
        let now = self.clock.now();
        let inactive = json!({ "active": false });
        if let Some(record) = self.access_token_record(realm, token)? {
            if record.revoked_at.is_some() || record.expires_at <= now {
                return Ok(inactive);
            }
            let user = match &record.user_pk {
                Some(pk) => self.store.find_user(pk).map_err(OidcError::from)?,
                None => None,
            };
            if record.user_pk.is_some() && !user.as_ref().is_some_and(|u| u.enabled) {
                return Ok(inactive);
            }
            let mut body = json!({
                "active": true,
                "token_type": "Bearer",
                "client_id": record.client_id,
                "scope": record.scope,
                "exp": record.expires_at,
                "iat": record.issued_at,
                "iss": self.issuer(&realm.name),
                "jti": record.jti,
                "sub": record.user_pk.clone().unwrap_or_else(|| record.client_id.clone()),
            });
            if let Some(user) = user {
                body["username"] = json!(user.user_id);
            }
            if let Some(sid) = record.sso_session_id {
                body["sid"] = json!(sid);
            }
            return Ok(body);
        }
        if let Some(refresh) = self
            .store
            .find_refresh_token(&digest(token))
            .map_err(OidcError::from)?
        {
            let usable = refresh.realm == realm.name
                && refresh.used_at.is_none()
                && refresh.revoked_at.is_none()
                && refresh.expires_at > now
                && (refresh.offline || self.session_alive_by_id(realm, &refresh.sso_session_id)?);
            if !usable {
                return Ok(inactive);
            }
            return Ok(json!({
                "active": true,
                "token_type": if refresh.offline { "Offline" } else { "Refresh" },
                "client_id": refresh.client_id,
                "scope": refresh.scope,
                "exp": refresh.expires_at,
                "iat": refresh.issued_at,
                "iss": self.issuer(&realm.name),
                "sub": refresh.user_pk,
                "sid": refresh.sso_session_id,
            }));
        }
        Ok(inactive)
    }

    fn session_alive_by_id(&self, realm: &RealmConfig, id: &str) -> Result<bool, OidcError> {
        Ok(self
            .store
            .find_sso_session(id)?
            .is_some_and(|s| self.sso_session_alive(realm, &s)))
    }

    /// RFC 7009: revokes an access token, or a refresh token with its whole family. Unknown
    /// tokens are not an error (§2.2); another client's token is.
    pub fn revoke(
        &self,
        realm: &RealmConfig,
        request: &TokenRequest<'_>,
    ) -> Result<(), TokenError> {
        request.check_not_repeated()?;
        let client = self.calling_client(realm, request)?;
        let token = request
            .get("token")
            .ok_or_else(|| TokenError::new("invalid_request", "token is required"))?;
        let now = self.clock.now();
        let not_yours = || {
            TokenError::new(
                "unauthorized_client",
                "the token was issued to another client",
            )
        };
        if let Some(record) = self.access_token_record(realm, token)? {
            if record.client_id != client.client_id {
                return Err(not_yours());
            }
            self.store
                .revoke_issued_token(&record.jti, now)
                .map_err(OidcError::from)?;
            return Ok(());
        }
        if let Some(refresh) = self
            .store
            .find_refresh_token(&digest(token))
            .map_err(OidcError::from)?
        {
            if refresh.client_id != client.client_id || refresh.realm != realm.name {
                return Err(not_yours());
            }
            self.store
                .revoke_refresh_family(&refresh.family_id, now)
                .map_err(OidcError::from)?;
        }
        Ok(())
    }
}
