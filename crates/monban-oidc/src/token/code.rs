//! The authorization response after a login, and `grant_type=authorization_code`.

use super::{TokenError, TokenRequest, TokenResponse};
use crate::authorize::{pkce_matches, AuthorizationRequest, RequestedClaims, ResponseMode};
use crate::mint::{Authentication, Grant, RefreshFamily, Subject};
use crate::{random_token, ErrorRedirect, OidcError, Provider};
use monban_core::config::{ClientConfig, RealmConfig};
use monban_store::sealed::digest;
use monban_store::{AuthorizationCode, CodeRedemption, SsoSession};

/// Where to send the browser after a successful login, and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

impl AuthorizationResponse {
    /// The redirect URI with the parameters in its query (for `response_mode=query`).
    pub fn query_url(&self) -> String {
        let mut url = self.redirect_uri.clone();
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.params)
            .finish();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query);
        url
    }
}

impl Provider {
    /// Issues a code for a completed login and says where to deliver it.
    pub fn issue_code(
        &self,
        realm: &RealmConfig,
        request: &AuthorizationRequest,
        session: &SsoSession,
    ) -> Result<AuthorizationResponse, OidcError> {
        let now = self.clock.now();
        let code = random_token();
        self.store.insert_authorization_code(&AuthorizationCode {
            code_digest: digest(&code),
            realm: realm.name.clone(),
            client_id: request.client_id.clone(),
            user_pk: session.user_pk.clone(),
            sso_session_id: session.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            scope: request.scope(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time: session.auth_time,
            acr: session.acr.clone(),
            amr: session.amr.clone(),
            created_at: now,
            expires_at: now + realm.tokens.authorization_code_seconds,
            used_at: None,
            claims: request.claims.to_stored(),
        })?;
        let mut params = vec![("code".to_string(), code)];
        if let Some(state) = &request.state {
            params.push(("state".into(), state.clone()));
        }
        // RFC 9207: name the issuer so the client can tell mix-up attacks apart.
        params.push(("iss".into(), self.issuer(&realm.name)));
        Ok(AuthorizationResponse {
            redirect_uri: request.redirect_uri.clone(),
            mode: request.response_mode,
            params,
        })
    }

    /// The error response for a request that reached a verified redirect URI.
    pub fn error_response(&self, realm: &str, error: &ErrorRedirect) -> AuthorizationResponse {
        let mut params = vec![("error".to_string(), error.error.to_string())];
        if !error.description.is_empty() {
            params.push(("error_description".into(), error.description.clone()));
        }
        if let Some(state) = &error.state {
            params.push(("state".into(), state.clone()));
        }
        params.push(("iss".into(), self.issuer(realm)));
        AuthorizationResponse {
            redirect_uri: error.redirect_uri.clone(),
            mode: error.response_mode,
            params,
        }
    }

    pub(super) fn exchange_code(
        &self,
        realm: &RealmConfig,
        client: &ClientConfig,
        request: &TokenRequest<'_>,
    ) -> Result<TokenResponse, TokenError> {
        let code = request
            .get("code")
            .ok_or_else(|| TokenError::new("invalid_request", "code is required"))?;
        let code_digest = digest(code);
        let now = self.clock.now();
        let stored = match self
            .store
            .redeem_authorization_code(&code_digest, now)
            .map_err(OidcError::from)?
        {
            CodeRedemption::Redeemed(stored) => stored,
            CodeRedemption::Replayed => {
                return Err(TokenError::invalid_grant(
                    "the code was already used; tokens issued from it are revoked",
                ))
            }
            CodeRedemption::Invalid => {
                return Err(TokenError::invalid_grant("the code is invalid or expired"))
            }
        };
        if stored.client_id != client.client_id || stored.realm != realm.name {
            return Err(TokenError::invalid_grant(
                "the code was issued to another client",
            ));
        }
        if request.get("redirect_uri") != Some(stored.redirect_uri.as_str()) {
            return Err(TokenError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&stored.code_challenge, request.get("code_verifier")) {
            (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
            (Some(_), _) => return Err(TokenError::invalid_grant("PKCE verification failed")),
            // A verifier for a request that sent no challenge: someone is confused or lying.
            (None, Some(_)) => {
                return Err(TokenError::invalid_grant(
                    "code_verifier sent but the request had no code_challenge",
                ))
            }
            (None, None) => {}
        }
        let session = self
            .store
            .find_sso_session(&stored.sso_session_id)
            .map_err(OidcError::from)?
            .filter(|s| self.sso_session_alive(realm, s))
            .ok_or_else(|| TokenError::invalid_grant("the login session has ended"))?;
        let user = self
            .store
            .find_user(&stored.user_pk)
            .map_err(OidcError::from)?
            .filter(|u| u.enabled)
            .ok_or_else(|| TokenError::invalid_grant("the member is not available"))?;
        let scopes: Vec<String> = stored
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        // The grant's refresh-token family is named after its code, so that a replay of the
        // code can revoke everything that came from it, refreshed tokens included.
        let family_id = code_digest.clone();
        let grant = Grant {
            realm,
            client,
            subject: Subject::Member {
                user: &user,
                authentication: Authentication {
                    sid: session.id.clone(),
                    auth_time: stored.auth_time,
                    acr: stored.acr.clone(),
                    amr: stored.amr.clone(),
                },
            },
            scopes,
            nonce: stored.nonce.as_deref(),
            claims: RequestedClaims::from_stored(stored.claims.as_deref()),
            code_digest: Some(&code_digest),
            family_id: Some(&family_id),
        };
        let offline = grant.has_scope("offline_access") && client.offline_access;
        let scope = grant.scope();
        let family = RefreshFamily {
            id: &family_id,
            offline,
            scope: &scope,
        };
        self.respond_for_member(&grant, &session, &family)
    }

    /// Access token, refresh token and (with `openid`) ID token for a member.
    pub(super) fn respond_for_member(
        &self,
        grant: &Grant<'_>,
        session: &SsoSession,
        family: &RefreshFamily<'_>,
    ) -> Result<TokenResponse, TokenError> {
        let (access_token, expires_in) = self.mint_access_token(grant)?;
        let refresh_token = self.mint_refresh_token(grant, session, family)?;
        let now = self.clock.now();
        let refresh_expires_in = if family.offline {
            0 // Keycloak's convention: no fixed end for offline tokens.
        } else {
            let (idle, max) = grant.realm.tokens.sso(session.remember_me);
            (now + idle).min(session.created_at + max) - now
        };
        let id_token = if grant.has_scope("openid") {
            Some(self.mint_id_token(grant, &access_token)?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: Some(refresh_token),
            refresh_expires_in: Some(refresh_expires_in),
            id_token,
            scope: grant.scope(),
        })
    }
}
