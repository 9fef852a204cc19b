use crate::schema::{auth_sessions, sso_sessions};
use crate::{Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// A login in progress, as stored. `request` and `state` are JSON owned by the flow engine.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = auth_sessions)]
pub struct AuthSessionRecord {
    pub id: String,
    pub browser_binding: String,
    pub realm: String,
    pub client_id: String,
    pub request: String,
    pub state: String,
    pub csrf_token: String,
    pub version: i32,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A member's single sign-on session in one browser.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = sso_sessions)]
pub struct SsoSession {
    pub id: String,
    pub cookie_digest: String,
    pub realm: String,
    pub user_pk: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: String,
    pub remember_me: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
}

impl Store {
    pub fn insert_auth_session(&self, record: &AuthSessionRecord) -> Result<(), StoreError> {
        diesel::insert_into(auth_sessions::table)
            .values(record)
            .execute(&mut self.conn()?)?;
        Ok(())
    }

    /// The login in progress with this id, unless it has expired.
    pub fn find_auth_session(
        &self,
        id: &str,
        now: UnixSeconds,
    ) -> Result<Option<AuthSessionRecord>, StoreError> {
        Ok(auth_sessions::table
            .find(id)
            .filter(auth_sessions::expires_at.gt(now))
            .select(AuthSessionRecord::as_select())
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// Saves a new state if nobody else did since `expected_version` was read (two tabs or two
    /// instances racing on one login): optimistic concurrency.
    pub fn update_auth_session_state(
        &self,
        id: &str,
        expected_version: i32,
        state: &str,
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let updated = diesel::update(
            auth_sessions::table
                .find(id)
                .filter(auth_sessions::version.eq(expected_version)),
        )
        .set((
            auth_sessions::state.eq(state),
            auth_sessions::version.eq(expected_version + 1),
            auth_sessions::expires_at.eq(expires_at),
        ))
        .execute(&mut self.conn()?)?;
        if updated == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    pub fn delete_auth_session(&self, id: &str) -> Result<(), StoreError> {
        diesel::delete(auth_sessions::table.find(id)).execute(&mut self.conn()?)?;
        Ok(())
    }

    pub fn insert_sso_session(&self, session: &SsoSession) -> Result<(), StoreError> {
        diesel::insert_into(sso_sessions::table)
            .values(session)
            .execute(&mut self.conn()?)?;
        Ok(())
    }

    /// The live SSO session behind a browser cookie (by digest), if any.
    pub fn find_sso_session_by_cookie(
        &self,
        realm: &str,
        cookie_digest: &str,
    ) -> Result<Option<SsoSession>, StoreError> {
        Ok(sso_sessions::table
            .filter(sso_sessions::cookie_digest.eq(cookie_digest))
            .filter(sso_sessions::realm.eq(realm))
            .filter(sso_sessions::ended_at.is_null())
            .select(SsoSession::as_select())
            .first(&mut self.conn()?)
            .optional()?)
    }

    pub fn find_sso_session(&self, id: &str) -> Result<Option<SsoSession>, StoreError> {
        Ok(sso_sessions::table
            .find(id)
            .select(SsoSession::as_select())
            .first(&mut self.conn()?)
            .optional()?)
    }

    pub fn touch_sso_session(&self, id: &str, now: UnixSeconds) -> Result<(), StoreError> {
        diesel::update(sso_sessions::table.find(id))
            .set(sso_sessions::last_seen_at.eq(now))
            .execute(&mut self.conn()?)?;
        Ok(())
    }

    /// Ends an SSO session and revokes its tokens (offline refresh tokens survive, as in
    /// Keycloak), in one transaction. Returns the clients that took part, for back-channel
    /// logout; empty when the session had already ended.
    pub fn end_sso_session(&self, id: &str, now: UnixSeconds) -> Result<Vec<String>, StoreError> {
        use crate::schema::sso_session_clients;
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let ended = diesel::update(
                sso_sessions::table
                    .find(id)
                    .filter(sso_sessions::ended_at.is_null()),
            )
            .set(sso_sessions::ended_at.eq(now))
            .execute(conn)?;
            crate::refresh::revoke_session_tokens(conn, id, now, false)?;
            if ended == 0 {
                return Ok(Vec::new());
            }
            Ok(sso_session_clients::table
                .filter(sso_session_clients::sso_session_id.eq(id))
                .select(sso_session_clients::client_id)
                .load(conn)?)
        })
    }

    /// The member's SSO sessions that have not ended (some may have timed out unnoticed).
    pub fn open_sso_sessions_of(&self, user_pk: &str) -> Result<Vec<String>, StoreError> {
        Ok(sso_sessions::table
            .filter(sso_sessions::user_pk.eq(user_pk))
            .filter(sso_sessions::ended_at.is_null())
            .select(sso_sessions::id)
            .load(&mut self.conn()?)?)
    }

    /// Notes that a client received tokens in this session.
    pub fn record_session_client(
        &self,
        sso_session_id: &str,
        client_id: &str,
    ) -> Result<(), StoreError> {
        use crate::schema::sso_session_clients;
        let mut conn = self.conn()?;
        let known: i64 = sso_session_clients::table
            .filter(sso_session_clients::sso_session_id.eq(sso_session_id))
            .filter(sso_session_clients::client_id.eq(client_id))
            .count()
            .get_result(&mut conn)?;
        if known == 0 {
            let inserted = diesel::insert_into(sso_session_clients::table)
                .values((
                    sso_session_clients::sso_session_id.eq(sso_session_id),
                    sso_session_clients::client_id.eq(client_id),
                ))
                .execute(&mut conn);
            match inserted {
                // Two token requests of one session raced; the row is there either way.
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }
}
