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
}
