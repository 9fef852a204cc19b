//! Single sign-on sessions: one per member per browser, behind an HttpOnly cookie. The cookie
//! holds a secret; the database holds its digest and a separate public id (`sid`).

use crate::{random_token, OidcError, Provider};
use monban_core::config::RealmConfig;
use monban_store::sealed::digest;
use monban_store::{new_id, SsoSession};

/// What a completed login established.
pub struct NewSsoSession<'a> {
    pub user_pk: &'a str,
    pub acr: &'a str,
    pub amr: &'a [String],
    pub remember_me: bool,
}

/// The cookie value to set, and the session it opens.
pub struct SsoCookie {
    pub value: String,
    pub session: SsoSession,
    /// `Max-Age` for a remembered session; a browser-session cookie otherwise.
    pub max_age: Option<i64>,
}

impl Provider {
    pub fn start_sso_session(
        &self,
        realm: &RealmConfig,
        login: &NewSsoSession<'_>,
    ) -> Result<SsoCookie, OidcError> {
        let now = self.clock.now();
        let value = random_token();
        let session = SsoSession {
            id: new_id(),
            cookie_digest: digest(&value),
            realm: realm.name.clone(),
            user_pk: login.user_pk.to_string(),
            auth_time: now,
            acr: login.acr.to_string(),
            amr: serde_json::to_string(login.amr)
                .map_err(|e| OidcError::Internal(e.to_string()))?,
            remember_me: login.remember_me,
            created_at: now,
            last_seen_at: now,
            ended_at: None,
        };
        self.store.insert_sso_session(&session)?;
        let max_age = login.remember_me.then(|| realm.tokens.sso(true).1);
        Ok(SsoCookie {
            value,
            session,
            max_age,
        })
    }

    /// The live session behind a cookie. A session past its idle or maximum lifetime is ended
    /// here, so its tokens stop working too.
    pub fn sso_session_from_cookie(
        &self,
        realm: &RealmConfig,
        cookie: &str,
    ) -> Result<Option<SsoSession>, OidcError> {
        let Some(session) = self
            .store
            .find_sso_session_by_cookie(&realm.name, &digest(cookie))?
        else {
            return Ok(None);
        };
        let now = self.clock.now();
        if !self.sso_session_alive(realm, &session) {
            self.store.end_sso_session(&session.id, now)?;
            return Ok(None);
        }
        self.store.touch_sso_session(&session.id, now)?;
        Ok(Some(session))
    }

    pub(crate) fn sso_session_alive(&self, realm: &RealmConfig, session: &SsoSession) -> bool {
        let now = self.clock.now();
        let (idle, max) = realm.tokens.sso(session.remember_me);
        session.ended_at.is_none()
            && now < session.last_seen_at + idle
            && now < session.created_at + max
    }
}
