//! `grant_type=refresh_token` with rotation: every use returns a new refresh token, and a used
//! one presented again revokes the whole family (OAuth 2.0 Security BCP §4.14.2).

use super::{TokenError, TokenRequest, TokenResponse};
use crate::authorize::RequestedClaims;
use crate::mint::{Authentication, Grant, RefreshFamily, Subject};
use crate::{OidcError, Provider};
use monban_core::config::{ClientConfig, RealmConfig};
use monban_store::sealed::digest;
use monban_store::RefreshRedemption;

impl Provider {
    pub(super) fn refresh(
        &self,
        realm: &RealmConfig,
        client: &ClientConfig,
        request: &TokenRequest<'_>,
    ) -> Result<TokenResponse, TokenError> {
        let presented = request
            .get("refresh_token")
            .ok_or_else(|| TokenError::new("invalid_request", "refresh_token is required"))?;
        let now = self.clock.now();
        // A token presented by the wrong client, or with a scope it never had, is refused
        // without spending it, so the rightful client's next refresh is not taken for reuse.
        let owner = self
            .store
            .find_refresh_token(&digest(presented))
            .map_err(OidcError::from)?;
        let Some(owner) = owner else {
            return Err(TokenError::invalid_grant(
                "the refresh token is invalid or expired",
            ));
        };
        if owner.client_id != client.client_id || owner.realm != realm.name {
            return Err(TokenError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        let granted: Vec<String> = owner
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
        let scopes = match request.get("scope") {
            None => granted,
            Some(asked) => {
                let asked: Vec<String> = asked
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
                    return Err(TokenError::new(
                        "invalid_scope",
                        format!("scope {extra} was not granted"),
                    ));
                }
                asked
            }
        };
        let stored = match self
            .store
            .redeem_refresh_token(&digest(presented), now)
            .map_err(OidcError::from)?
        {
            RefreshRedemption::Rotated(stored) => stored,
            RefreshRedemption::Reused => {
                return Err(TokenError::invalid_grant(
                    "the refresh token was already used; its tokens are revoked",
                ))
            }
            RefreshRedemption::Invalid => {
                return Err(TokenError::invalid_grant(
                    "the refresh token is invalid or expired",
                ))
            }
        };
        if stored.client_id != client.client_id || stored.realm != realm.name {
            return Err(TokenError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        let session = self
            .store
            .find_sso_session(&stored.sso_session_id)
            .map_err(OidcError::from)?
            .ok_or_else(|| TokenError::invalid_grant("the login session is gone"))?;
        // An online token lives and dies with its SSO session; an offline one outlives it.
        if !stored.offline && !self.sso_session_alive(realm, &session) {
            return Err(TokenError::invalid_grant("the login session has ended"));
        }
        let user = self
            .store
            .find_user(&stored.user_pk)
            .map_err(OidcError::from)?
            .filter(|u| u.enabled)
            .ok_or_else(|| TokenError::invalid_grant("the member is not available"))?;
        if !stored.offline {
            self.store
                .touch_sso_session(&session.id, now)
                .map_err(OidcError::from)?;
        }
        let grant = Grant {
            realm,
            client,
            subject: Subject::Member {
                user: &user,
                // The refreshed tokens describe the original authentication (OIDC Core §12.2).
                authentication: Authentication {
                    sid: stored.sso_session_id.clone(),
                    auth_time: stored.auth_time,
                    acr: stored.acr.clone(),
                    amr: stored.amr.clone(),
                },
            },
            scopes,
            nonce: None,
            claims: RequestedClaims::from_stored(stored.claims.as_deref()),
            code_digest: None,
            family_id: Some(&stored.family_id),
        };
        let family = RefreshFamily {
            id: &stored.family_id,
            offline: stored.offline,
            scope: &stored.scope,
        };
        self.respond_for_member(&grant, &session, &family)
    }
}
