//! RP-Initiated Logout 1.0 and Back-Channel Logout 1.0: checking a logout request, ending the
//! SSO session, and the logout tokens sent to the session's clients.

use crate::{random_token, OidcError, Provider};
use jsonwebtoken::{decode, decode_header, Validation};
use monban_core::config::RealmConfig;
use monban_store::{new_id, AuditEvent, BackchannelDelivery};
use serde::Deserialize;
use serde_json::json;

/// A checked logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutPlan {
    /// From a valid `id_token_hint`: the session and member it names. With it, no confirmation
    /// is asked.
    pub hint: Option<HintedSession>,
    pub client_id: Option<String>,
    /// Verified against the client's registered list; `state` already appended.
    pub redirect: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HintedSession {
    pub sid: Option<String>,
    pub sub: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutRejection {
    InvalidHint,
    UnknownClient,
    /// `post_logout_redirect_uri` without a client to check it against, or not registered.
    UnregisteredRedirect,
}

impl LogoutRejection {
    pub fn message_key(self) -> &'static str {
        match self {
            LogoutRejection::InvalidHint | LogoutRejection::UnknownClient => "error_logout_request",
            LogoutRejection::UnregisteredRedirect => "error_logout_redirect_uri",
        }
    }
}

#[derive(Deserialize)]
struct HintClaims {
    sub: String,
    aud: serde_json::Value,
    sid: Option<String>,
}

pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

impl Provider {
    /// Checks `id_token_hint`, `client_id`, `post_logout_redirect_uri` and `state`.
    pub fn plan_logout(
        &self,
        realm: &RealmConfig,
        params: &[(String, String)],
    ) -> Result<LogoutPlan, LogoutRejection> {
        let get = |name: &str| crate::param(params, name);
        let hint = match get("id_token_hint") {
            Some(token) => Some(
                self.verify_id_token_hint(realm, token)
                    .ok_or(LogoutRejection::InvalidHint)?,
            ),
            None => None,
        };
        let hinted_client = hint.as_ref().map(|(_, aud)| aud.clone());
        let client_id = match (get("client_id"), hinted_client) {
            (Some(given), Some(hinted)) if given != hinted => {
                return Err(LogoutRejection::InvalidHint)
            }
            (Some(given), _) => Some(given.to_string()),
            (None, hinted) => hinted,
        };
        let client = match &client_id {
            Some(id) => Some(realm.client(id).ok_or(LogoutRejection::UnknownClient)?),
            None => None,
        };
        let redirect = match get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let registered =
                    client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri));
                if !registered {
                    return Err(LogoutRejection::UnregisteredRedirect);
                }
                let mut url = uri.to_string();
                if let Some(state) = get("state") {
                    let query = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("state", state)
                        .finish();
                    url.push(if url.contains('?') { '&' } else { '?' });
                    url.push_str(&query);
                }
                Some(url)
            }
        };
        Ok(LogoutPlan {
            hint: hint.map(|(session, _)| session),
            client_id,
            redirect,
        })
    }

    /// The member an `id_token_hint` names, if it is an ID token Monban issued in this realm.
    pub fn id_token_hint_subject(&self, realm: &RealmConfig, token: &str) -> Option<String> {
        self.verify_id_token_hint(realm, token)
            .map(|(session, _)| session.sub)
    }

    /// An ID token Monban issued in this realm; it may have expired (OIDC RP-Initiated
    /// Logout §2: the hint is usually an old token).
    fn verify_id_token_hint(
        &self,
        realm: &RealmConfig,
        token: &str,
    ) -> Option<(HintedSession, String)> {
        let header = decode_header(token).ok()?;
        let (algorithm, key) = self
            .keys
            .verification_key(&realm.name, header.kid.as_deref()?)
            .ok()??;
        if header.alg != algorithm {
            return None;
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[self.issuer(&realm.name)]);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        let claims = decode::<HintClaims>(token, &key, &validation).ok()?.claims;
        let audience = match &claims.aud {
            serde_json::Value::String(one) => one.clone(),
            serde_json::Value::Array(many) if many.len() == 1 => many[0].as_str()?.to_string(),
            _ => return None,
        };
        realm.client(&audience)?;
        Some((
            HintedSession {
                sid: claims.sid,
                sub: claims.sub,
            },
            audience,
        ))
    }

    /// Ends an SSO session: revokes its tokens and queues a logout token for every client of
    /// the session that asked for back-channel logout.
    pub fn log_out(
        &self,
        realm: &RealmConfig,
        session_id: &str,
        ip: Option<&str>,
    ) -> Result<(), OidcError> {
        let now = self.clock.now();
        let Some(session) = self.store.find_sso_session(session_id)? else {
            return Ok(());
        };
        let clients = self.store.end_sso_session(session_id, now)?;
        let deliveries: Vec<BackchannelDelivery> = clients
            .iter()
            .filter_map(|id| realm.client(id))
            .filter(|client| client.backchannel_logout_uri.is_some())
            .map(|client| BackchannelDelivery {
                id: new_id(),
                realm: realm.name.clone(),
                client_id: client.client_id.clone(),
                sso_session_id: session.id.clone(),
                user_pk: session.user_pk.clone(),
                attempts: 0,
                next_attempt_at: now,
                delivered_at: None,
                abandoned_at: None,
                last_error: None,
                created_at: now,
            })
            .collect();
        self.store.enqueue_backchannel_deliveries(&deliveries)?;
        self.store.record_audit_event(
            &AuditEvent {
                realm: &realm.name,
                kind: "LOGOUT",
                user_pk: Some(&session.user_pk),
                client_id: None,
                ip,
                detail: None,
            },
            now,
        )?;
        Ok(())
    }

    /// "全てのデバイスからサインアウトする": ends every session of the member (each client told
    /// by back-channel logout) and revokes their offline tokens too.
    pub fn log_out_everywhere(
        &self,
        realm: &RealmConfig,
        user_pk: &str,
        ip: Option<&str>,
    ) -> Result<(), OidcError> {
        for session_id in self.store.open_sso_sessions_of(user_pk)? {
            self.log_out(realm, &session_id, ip)?;
        }
        self.store
            .revoke_offline_tokens_of(user_pk, self.clock.now())?;
        Ok(())
    }

    /// The logout token for one delivery (Back-Channel Logout 1.0 §2.4), signed like the
    /// client's ID tokens.
    pub fn logout_token(
        &self,
        realm: &RealmConfig,
        delivery: &BackchannelDelivery,
    ) -> Result<String, OidcError> {
        let client = realm
            .client(&delivery.client_id)
            .ok_or_else(|| OidcError::Internal(format!("client {} is gone", delivery.client_id)))?;
        let now = self.clock.now();
        let claims = json!({
            "iss": self.issuer(&realm.name),
            "aud": client.client_id,
            "iat": now,
            "exp": now + 120,
            "jti": random_token(),
            "sub": delivery.user_pk,
            "sid": delivery.sso_session_id,
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        self.sign(
            &realm.name,
            client.id_token_signed_response_alg,
            "logout+jwt",
            &claims,
        )
    }
}
