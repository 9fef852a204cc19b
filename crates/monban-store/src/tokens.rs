use crate::schema::issued_tokens;
use crate::{Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// A token Monban issued, recorded so it can be revoked before it expires.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = issued_tokens)]
pub struct IssuedToken {
    pub jti: String,
    pub realm: String,
    pub kind: String,
    pub client_id: String,
    pub user_pk: Option<String>,
    pub sso_session_id: Option<String>,
    pub code_digest: Option<String>,
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// The refresh-token family it was issued from, if any.
    pub family_id: Option<String>,
    /// Claims requested by name for userinfo (JSON array).
    pub claims: Option<String>,
}

impl Store {
    pub fn record_issued_token(&self, token: &IssuedToken) -> Result<(), StoreError> {
        diesel::insert_into(issued_tokens::table)
            .values(token)
            .execute(&mut self.conn()?)?;
        Ok(())
    }

    /// The token with this id, if it is neither expired nor revoked.
    pub fn active_token(
        &self,
        jti: &str,
        now: UnixSeconds,
    ) -> Result<Option<IssuedToken>, StoreError> {
        Ok(issued_tokens::table
            .find(jti)
            .filter(issued_tokens::revoked_at.is_null())
            .filter(issued_tokens::expires_at.gt(now))
            .select(IssuedToken::as_select())
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// The token with this id, whatever its state (for introspection and revocation).
    pub fn find_issued_token(&self, jti: &str) -> Result<Option<IssuedToken>, StoreError> {
        Ok(issued_tokens::table
            .find(jti)
            .select(IssuedToken::as_select())
            .first(&mut self.conn()?)
            .optional()?)
    }

    pub fn revoke_issued_token(&self, jti: &str, now: UnixSeconds) -> Result<(), StoreError> {
        diesel::update(
            issued_tokens::table
                .find(jti)
                .filter(issued_tokens::revoked_at.is_null()),
        )
        .set(issued_tokens::revoked_at.eq(now))
        .execute(&mut self.conn()?)?;
        Ok(())
    }
}
