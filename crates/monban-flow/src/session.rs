//! The auth session: one login in progress, stored in the database so that any instance can
//! serve its next request. Its state is a closed enum; a step moves it from one state to the next.

use crate::step::Member;
use crate::FlowError;
use monban_core::UnixSeconds;
use monban_oidc::{random_token, AuthorizationRequest};
use monban_store::sealed::digest;
use monban_store::{AuthSessionRecord, Store, StoreError};
use serde::{Deserialize, Serialize};

/// Where a login stands: a closed set of states, persisted as JSON in the auth session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AuthSessionState {
    /// Running the realm's browser flow; `step` indexes it. `member` is who the earlier steps
    /// identified.
    Authenticating { step: usize, member: Option<Member> },
    /// Identified; the member's pending required actions, in the realm's order.
    RequiredActions {
        member: Member,
        remaining: Vec<String>,
    },
}

/// A login in progress.
#[derive(Debug, Clone)]
pub struct AuthSession {
    pub id: String,
    pub realm: String,
    pub request: AuthorizationRequest,
    pub state: AuthSessionState,
    pub csrf_token: String,
    pub expires_at: UnixSeconds,
    version: i32,
}

/// Loads and saves auth sessions.
pub struct FlowStore<'a> {
    pub store: &'a Store,
}

impl FlowStore<'_> {
    /// Starts a login for `request`, bound to the browser that holds `browser_key`, with a
    /// fresh id and CSRF token.
    pub fn create(
        &self,
        realm: &str,
        request: AuthorizationRequest,
        browser_key: &str,
        now: UnixSeconds,
        lifetime: i64,
    ) -> Result<AuthSession, FlowError> {
        let state = AuthSessionState::Authenticating {
            step: 0,
            member: None,
        };
        let id = random_token();
        let csrf_token = random_token();
        let record = AuthSessionRecord {
            id: id.clone(),
            browser_binding: digest(browser_key),
            realm: realm.to_string(),
            client_id: request.client_id.clone(),
            request: serde_json::to_string(&request)
                .map_err(|e| FlowError::Corrupt(e.to_string()))?,
            state: serde_json::to_string(&state).map_err(|e| FlowError::Corrupt(e.to_string()))?,
            csrf_token: csrf_token.clone(),
            version: 0,
            created_at: now,
            expires_at: now + lifetime,
        };
        self.store.insert_auth_session(&record)?;
        Ok(AuthSession {
            id,
            realm: realm.to_string(),
            request,
            state,
            csrf_token,
            expires_at: now + lifetime,
            version: 0,
        })
    }

    /// The login with this id, if it is alive, belongs to this realm and to the browser that
    /// presents `browser_key` (so a login link cannot be carried to another browser).
    pub fn load(
        &self,
        realm: &str,
        id: &str,
        browser_key: &str,
        now: UnixSeconds,
    ) -> Result<Option<AuthSession>, FlowError> {
        let Some(record) = self.store.find_auth_session(id, now)? else {
            return Ok(None);
        };
        if record.realm != realm || !constant_time_eq(&record.browser_binding, &digest(browser_key))
        {
            return Ok(None);
        }
        let request =
            serde_json::from_str(&record.request).map_err(|e| FlowError::Corrupt(e.to_string()))?;
        let state =
            serde_json::from_str(&record.state).map_err(|e| FlowError::Corrupt(e.to_string()))?;
        Ok(Some(AuthSession {
            id: record.id,
            realm: record.realm,
            request,
            state,
            csrf_token: record.csrf_token,
            expires_at: record.expires_at,
            version: record.version,
        }))
    }

    /// Saves the new state; the login may then stay open until `expires_at` (each step done
    /// gives the member the realm's full login time again, so a long set-up is not cut short).
    /// Fails with a conflict if another request moved the login on first.
    pub fn save_state(
        &self,
        session: &mut AuthSession,
        state: AuthSessionState,
        expires_at: UnixSeconds,
    ) -> Result<(), FlowError> {
        let text = serde_json::to_string(&state).map_err(|e| FlowError::Corrupt(e.to_string()))?;
        self.store
            .update_auth_session_state(&session.id, session.version, &text, expires_at)?;
        session.version += 1;
        session.state = state;
        session.expires_at = expires_at;
        Ok(())
    }

    /// The login is over (success or abandonment): it cannot be replayed.
    pub fn finish(&self, session: &AuthSession) -> Result<(), StoreError> {
        self.store.delete_auth_session(&session.id)
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
