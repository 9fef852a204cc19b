use crate::schema::{issued_tokens, refresh_tokens};
use crate::{Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// A refresh token, stored by the digest of the opaque value the client holds.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub token_digest: String,
    pub family_id: String,
    pub realm: String,
    pub client_id: String,
    pub user_pk: String,
    pub sso_session_id: String,
    pub offline: bool,
    pub scope: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: String,
    pub claims: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRedemption {
    /// Valid and now spent: the caller issues its successor in the same family.
    Rotated(Box<RefreshToken>),
    /// Spent before: someone holds a copy. The family and every token of its SSO session
    /// have been revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

impl Store {
    pub fn insert_refresh_token(&self, token: &RefreshToken) -> Result<(), StoreError> {
        diesel::insert_into(refresh_tokens::table)
            .values(token)
            .execute(&mut self.conn()?)?;
        Ok(())
    }

    pub fn find_refresh_token(&self, digest: &str) -> Result<Option<RefreshToken>, StoreError> {
        Ok(refresh_tokens::table
            .find(digest)
            .select(RefreshToken::as_select())
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// Spends a refresh token once; a second presentation is reuse (OAuth 2.0 Security BCP
    /// §4.14.2) and revokes the whole family and the session's tokens.
    pub fn redeem_refresh_token(
        &self,
        digest: &str,
        now: UnixSeconds,
    ) -> Result<RefreshRedemption, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let spent = diesel::update(
                refresh_tokens::table
                    .find(digest)
                    .filter(refresh_tokens::used_at.is_null())
                    .filter(refresh_tokens::revoked_at.is_null())
                    .filter(refresh_tokens::expires_at.gt(now)),
            )
            .set(refresh_tokens::used_at.eq(now))
            .execute(conn)?;
            let token: Option<RefreshToken> = refresh_tokens::table
                .find(digest)
                .select(RefreshToken::as_select())
                .first(conn)
                .optional()?;
            Ok(match token {
                Some(token) if spent == 1 => RefreshRedemption::Rotated(Box::new(token)),
                Some(token) if token.used_at.is_some() => {
                    revoke_family(conn, &token.family_id, now)?;
                    revoke_session_tokens(conn, &token.sso_session_id, now, true)?;
                    RefreshRedemption::Reused
                }
                _ => RefreshRedemption::Invalid,
            })
        })
    }

    /// Revokes a refresh token's family and the access tokens issued from it.
    pub fn revoke_refresh_family(
        &self,
        family_id: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| revoke_family(conn, family_id, now))?;
        Ok(())
    }
}

pub(crate) fn revoke_family(
    conn: &mut crate::DbConnection,
    family_id: &str,
    now: UnixSeconds,
) -> Result<(), diesel::result::Error> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?;
    diesel::update(
        issued_tokens::table
            .filter(issued_tokens::family_id.eq(family_id))
            .filter(issued_tokens::revoked_at.is_null()),
    )
    .set(issued_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Revokes the access tokens of an SSO session and its refresh tokens (offline ones too when
/// `including_offline`: reuse is theft, a logout is not).
impl Store {
    /// Revokes the member's offline refresh tokens (they outlive SSO sessions, so "sign out
    /// everywhere" must reach them separately).
    pub fn revoke_offline_tokens_of(
        &self,
        user_pk: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::user_pk.eq(user_pk))
                .filter(refresh_tokens::offline.eq(true))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(&mut self.conn()?)?;
        Ok(())
    }
}

pub(crate) fn revoke_session_tokens(
    conn: &mut crate::DbConnection,
    sso_session_id: &str,
    now: UnixSeconds,
    including_offline: bool,
) -> Result<(), diesel::result::Error> {
    diesel::update(
        issued_tokens::table
            .filter(issued_tokens::sso_session_id.eq(sso_session_id))
            .filter(issued_tokens::revoked_at.is_null()),
    )
    .set(issued_tokens::revoked_at.eq(now))
    .execute(conn)?;
    let refresh = refresh_tokens::table
        .filter(refresh_tokens::sso_session_id.eq(sso_session_id))
        .filter(refresh_tokens::revoked_at.is_null());
    if including_offline {
        diesel::update(refresh)
            .set(refresh_tokens::revoked_at.eq(now))
            .execute(conn)?;
    } else {
        diesel::update(refresh.filter(refresh_tokens::offline.eq(false)))
            .set(refresh_tokens::revoked_at.eq(now))
            .execute(conn)?;
    }
    Ok(())
}
