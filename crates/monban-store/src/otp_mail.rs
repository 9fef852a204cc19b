//! One-time codes sent by mail (SPEC §4.3): one live code per member, stored as a digest,
//! single-use, expiring, with a bounded number of wrong tries. Checking and spending happen in
//! one transaction, so a code cannot be used twice by racing requests.

use crate::schema::otp_mail_codes;
use crate::{Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// What checking a code against the member's live one found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpMailCheck {
    /// Right, and now spent.
    Accepted,
    /// Wrong; the code stays usable while tries remain.
    Wrong,
    /// No usable code: none sent, expired, spent, or out of tries.
    NoLiveCode,
}

impl Store {
    /// Replaces the member's code (the previous one stops working).
    pub fn replace_otp_mail_code(
        &self,
        user_pk: &str,
        code_digest: &str,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            diesel::delete(otp_mail_codes::table.find(user_pk)).execute(conn)?;
            diesel::insert_into(otp_mail_codes::table)
                .values((
                    otp_mail_codes::user_pk.eq(user_pk),
                    otp_mail_codes::code_digest.eq(code_digest),
                    otp_mail_codes::created_at.eq(now),
                    otp_mail_codes::expires_at.eq(expires_at),
                    otp_mail_codes::attempts.eq(0),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Forgets the member's code (its mail could not be sent).
    pub fn delete_otp_mail_code(&self, user_pk: &str) -> Result<(), StoreError> {
        diesel::delete(otp_mail_codes::table.find(user_pk)).execute(&mut self.conn()?)?;
        Ok(())
    }

    /// When the member's live code was sent, if one is usable.
    pub fn live_otp_mail_code(
        &self,
        user_pk: &str,
        max_attempts: i32,
        now: UnixSeconds,
    ) -> Result<Option<UnixSeconds>, StoreError> {
        Ok(otp_mail_codes::table
            .find(user_pk)
            .filter(otp_mail_codes::used_at.is_null())
            .filter(otp_mail_codes::expires_at.gt(now))
            .filter(otp_mail_codes::attempts.lt(max_attempts))
            .select(otp_mail_codes::created_at)
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// Checks `code_digest` against the member's live code: spends it when right, counts a
    /// try when wrong. `matches` compares digests (in constant time, by the caller's choice).
    pub fn check_otp_mail_code(
        &self,
        user_pk: &str,
        max_attempts: i32,
        now: UnixSeconds,
        matches: impl Fn(&str) -> bool,
    ) -> Result<OtpMailCheck, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let live: Option<(String, i32)> = otp_mail_codes::table
                .find(user_pk)
                .filter(otp_mail_codes::used_at.is_null())
                .filter(otp_mail_codes::expires_at.gt(now))
                .filter(otp_mail_codes::attempts.lt(max_attempts))
                .select((otp_mail_codes::code_digest, otp_mail_codes::attempts))
                .first(conn)
                .optional()?;
            let Some((stored, attempts)) = live else {
                return Ok(OtpMailCheck::NoLiveCode);
            };
            if matches(&stored) {
                diesel::update(otp_mail_codes::table.find(user_pk))
                    .set(otp_mail_codes::used_at.eq(now))
                    .execute(conn)?;
                Ok(OtpMailCheck::Accepted)
            } else {
                diesel::update(otp_mail_codes::table.find(user_pk))
                    .set(otp_mail_codes::attempts.eq(attempts + 1))
                    .execute(conn)?;
                Ok(OtpMailCheck::Wrong)
            }
        })
    }
}
