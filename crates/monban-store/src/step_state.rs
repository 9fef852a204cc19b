//! What a login step keeps between its pages (a WebAuthn ceremony's challenge, an OTP secret
//! being set up): server-side, tied to one auth session, short-lived. The caller seals the data
//! with the at-rest key; this module only stores bytes.

use crate::schema::login_step_state;
use crate::{Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

impl Store {
    /// Keeps `data` for `step` of the login `auth_session_id`, replacing what was there.
    pub fn put_step_state(
        &self,
        auth_session_id: &str,
        step: &str,
        data: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            diesel::delete(login_step_state::table.find((auth_session_id, step))).execute(conn)?;
            diesel::insert_into(login_step_state::table)
                .values((
                    login_step_state::auth_session_id.eq(auth_session_id),
                    login_step_state::step.eq(step),
                    login_step_state::data.eq(data),
                    login_step_state::expires_at.eq(expires_at),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// The unexpired state `step` kept for this login.
    pub fn step_state(
        &self,
        auth_session_id: &str,
        step: &str,
        now: UnixSeconds,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(login_step_state::table
            .find((auth_session_id, step))
            .filter(login_step_state::expires_at.gt(now))
            .select(login_step_state::data)
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// Takes the state away: a ceremony's challenge answers once. `None` when another request
    /// took it first (or it expired).
    pub fn take_step_state(
        &self,
        auth_session_id: &str,
        step: &str,
        now: UnixSeconds,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let data: Option<Vec<u8>> = login_step_state::table
                .find((auth_session_id, step))
                .filter(login_step_state::expires_at.gt(now))
                .select(login_step_state::data)
                .first(conn)
                .optional()?;
            let deleted = diesel::delete(login_step_state::table.find((auth_session_id, step)))
                .execute(conn)?;
            Ok(if deleted == 1 { data } else { None })
        })
    }

    pub fn delete_step_state(&self, auth_session_id: &str, step: &str) -> Result<(), StoreError> {
        diesel::delete(login_step_state::table.find((auth_session_id, step)))
            .execute(&mut self.conn()?)?;
        Ok(())
    }
}
