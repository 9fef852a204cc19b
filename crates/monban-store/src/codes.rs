use crate::schema::{authorization_codes, issued_tokens};
use crate::{Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// An authorization code, stored by the digest of the code the client holds.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = authorization_codes)]
pub struct AuthorizationCode {
    pub code_digest: String,
    pub realm: String,
    pub client_id: String,
    pub user_pk: String,
    pub sso_session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub acr: String,
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// Claims requested by name (JSON, see the oidc crate's `RequestedClaims`).
    pub claims: Option<String>,
}

/// What presenting a code at the token endpoint found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: the code is now spent.
    Redeemed(Box<AuthorizationCode>),
    /// The code was spent before. Every token issued from it has now been revoked
    /// (RFC 6749 §4.1.2: a replayed code may mean it was stolen).
    Replayed,
    /// Unknown or expired.
    Invalid,
}

impl Store {
    pub fn insert_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        diesel::insert_into(authorization_codes::table)
            .values(code)
            .execute(&mut self.conn()?)?;
        Ok(())
    }

    /// Spends a code exactly once, even when two instances see it at the same moment: the
    /// conditional UPDATE lets only one of them win.
    pub fn redeem_authorization_code(
        &self,
        code_digest: &str,
        now: UnixSeconds,
    ) -> Result<CodeRedemption, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let spent = diesel::update(
                authorization_codes::table
                    .find(code_digest)
                    .filter(authorization_codes::used_at.is_null())
                    .filter(authorization_codes::expires_at.gt(now)),
            )
            .set(authorization_codes::used_at.eq(now))
            .execute(conn)?;
            let code: Option<AuthorizationCode> = authorization_codes::table
                .find(code_digest)
                .select(AuthorizationCode::as_select())
                .first(conn)
                .optional()?;
            Ok(match code {
                Some(code) if spent == 1 => CodeRedemption::Redeemed(Box::new(code)),
                Some(code) if code.used_at.is_some() => {
                    diesel::update(
                        issued_tokens::table
                            .filter(issued_tokens::code_digest.eq(code_digest))
                            .filter(issued_tokens::revoked_at.is_null()),
                    )
                    .set(issued_tokens::revoked_at.eq(now))
                    .execute(conn)?;
                    // Refresh tokens of the grant are a family named after the code.
                    crate::refresh::revoke_family(conn, code_digest, now)?;
                    CodeRedemption::Replayed
                }
                _ => CodeRedemption::Invalid,
            })
        })
    }
}
