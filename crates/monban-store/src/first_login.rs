//! What the first-login set-up changes on a member: their address, user ID, second-factor
//! choice and password; terms versions and who accepted them; admin-set required actions;
//! email-verification links. Every change that checks something first (uniqueness, a link's
//! validity) does so in the transaction that writes, so two requests cannot both win.

use crate::schema::{
    email_verifications, first_login_progress, terms_acceptances, terms_versions,
    user_required_actions, users,
};
use crate::{Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// One published version of a realm's terms of use.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = terms_versions)]
pub struct TermsVersion {
    pub realm: String,
    pub version: i32,
    pub body: String,
    pub published_at: i64,
}

/// An address or user ID another member of the realm already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken;

/// What opening an email-verification link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailVerification {
    /// The member's address is now verified.
    Verified { user_pk: String },
    /// Unknown, used, expired, or the member has changed their address since.
    Invalid,
}

impl Store {
    /// Sets the member's address; a new address is unverified. Refused when another member of
    /// the realm uses it.
    pub fn update_email(
        &self,
        user_pk: &str,
        email: &str,
        now: UnixSeconds,
    ) -> Result<Result<(), Taken>, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let (realm, current): (String, Option<String>) = users::table
                .find(user_pk)
                .select((users::realm, users::email))
                .first(conn)?;
            if current.as_deref() == Some(email) {
                return Ok(Ok(()));
            }
            let others: i64 = users::table
                .filter(users::realm.eq(&realm))
                .filter(users::email.eq(email))
                .filter(users::id.ne(user_pk))
                .count()
                .get_result(conn)?;
            if others > 0 {
                return Ok(Err(Taken));
            }
            diesel::update(users::table.find(user_pk))
                .set((
                    users::email.eq(email),
                    users::email_verified.eq(false),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(Ok(()))
        })
    }

    /// Sets the member's user ID (already normalized) and chosen second factor. Refused when
    /// another member of the realm has that ID.
    pub fn set_user_id_and_method(
        &self,
        user_pk: &str,
        user_id: &str,
        method: Option<&str>,
        now: UnixSeconds,
    ) -> Result<Result<(), Taken>, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let realm: String = users::table
                .find(user_pk)
                .select(users::realm)
                .first(conn)?;
            let others: i64 = users::table
                .filter(users::realm.eq(&realm))
                .filter(users::user_id.eq(user_id))
                .filter(users::id.ne(user_pk))
                .count()
                .get_result(conn)?;
            if others > 0 {
                return Ok(Err(Taken));
            }
            diesel::update(users::table.find(user_pk))
                .set((
                    users::user_id.eq(user_id),
                    users::temporary_id.eq(false),
                    users::second_factor_method.eq(method),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(Ok(()))
        })
    }

    pub fn set_password_hash(
        &self,
        user_pk: &str,
        password_hash: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        diesel::update(users::table.find(user_pk))
            .set((
                users::password_hash.eq(password_hash),
                users::updated_at.eq(now),
            ))
            .execute(&mut self.conn()?)?;
        Ok(())
    }

    /// The version in force: the highest published.
    pub fn current_terms(&self, realm: &str) -> Result<Option<TermsVersion>, StoreError> {
        Ok(terms_versions::table
            .filter(terms_versions::realm.eq(realm))
            .order(terms_versions::version.desc())
            .select(TermsVersion::as_select())
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// Publishes `body` as the realm's next version (1 for the first) and returns it. Every
    /// member must accept it at their next login.
    pub fn publish_terms(
        &self,
        realm: &str,
        body: &str,
        now: UnixSeconds,
    ) -> Result<TermsVersion, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let latest: Option<i32> = terms_versions::table
                .filter(terms_versions::realm.eq(realm))
                .select(diesel::dsl::max(terms_versions::version))
                .first(conn)?;
            let version = TermsVersion {
                realm: realm.to_string(),
                version: latest.unwrap_or(0) + 1,
                body: body.to_string(),
                published_at: now,
            };
            diesel::insert_into(terms_versions::table)
                .values((
                    terms_versions::realm.eq(&version.realm),
                    terms_versions::version.eq(version.version),
                    terms_versions::body.eq(&version.body),
                    terms_versions::published_at.eq(version.published_at),
                ))
                .execute(conn)?;
            Ok(version)
        })
    }

    pub fn has_accepted_terms(&self, user_pk: &str, version: i32) -> Result<bool, StoreError> {
        let found: i64 = terms_acceptances::table
            .filter(terms_acceptances::user_pk.eq(user_pk))
            .filter(terms_acceptances::version.eq(version))
            .count()
            .get_result(&mut self.conn()?)?;
        Ok(found > 0)
    }

    /// Records that the member accepted `version` now (once; accepting again changes nothing).
    pub fn accept_terms(
        &self,
        user_pk: &str,
        version: i32,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let found: i64 = terms_acceptances::table
                .filter(terms_acceptances::user_pk.eq(user_pk))
                .filter(terms_acceptances::version.eq(version))
                .count()
                .get_result(conn)?;
            if found == 0 {
                diesel::insert_into(terms_acceptances::table)
                    .values((
                        terms_acceptances::user_pk.eq(user_pk),
                        terms_acceptances::version.eq(version),
                        terms_acceptances::accepted_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// When the member accepted `version`, if they did.
    pub fn terms_accepted_at(
        &self,
        user_pk: &str,
        version: i32,
    ) -> Result<Option<UnixSeconds>, StoreError> {
        Ok(terms_acceptances::table
            .filter(terms_acceptances::user_pk.eq(user_pk))
            .filter(terms_acceptances::version.eq(version))
            .select(terms_acceptances::accepted_at)
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// Required actions an admin set on the member, oldest first.
    pub fn required_actions_of(&self, user_pk: &str) -> Result<Vec<String>, StoreError> {
        Ok(user_required_actions::table
            .filter(user_required_actions::user_pk.eq(user_pk))
            .order(user_required_actions::created_at.asc())
            .select(user_required_actions::action)
            .load(&mut self.conn()?)?)
    }

    pub fn require_action(
        &self,
        user_pk: &str,
        action: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let found: i64 = user_required_actions::table
                .filter(user_required_actions::user_pk.eq(user_pk))
                .filter(user_required_actions::action.eq(action))
                .count()
                .get_result(conn)?;
            if found == 0 {
                diesel::insert_into(user_required_actions::table)
                    .values((
                        user_required_actions::user_pk.eq(user_pk),
                        user_required_actions::action.eq(action),
                        user_required_actions::created_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    pub fn clear_required_action(&self, user_pk: &str, action: &str) -> Result<(), StoreError> {
        diesel::delete(
            user_required_actions::table
                .filter(user_required_actions::user_pk.eq(user_pk))
                .filter(user_required_actions::action.eq(action)),
        )
        .execute(&mut self.conn()?)?;
        Ok(())
    }

    /// First-login steps the member has done so far (the set-up is not complete).
    pub fn first_login_steps_done(&self, user_pk: &str) -> Result<Vec<String>, StoreError> {
        Ok(first_login_progress::table
            .filter(first_login_progress::user_pk.eq(user_pk))
            .select(first_login_progress::action)
            .load(&mut self.conn()?)?)
    }

    pub fn record_first_login_step(
        &self,
        user_pk: &str,
        action: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let found: i64 = first_login_progress::table
                .filter(first_login_progress::user_pk.eq(user_pk))
                .filter(first_login_progress::action.eq(action))
                .count()
                .get_result(conn)?;
            if found == 0 {
                diesel::insert_into(first_login_progress::table)
                    .values((
                        first_login_progress::user_pk.eq(user_pk),
                        first_login_progress::action.eq(action),
                        first_login_progress::done_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// Stores a new verification link (by the digest of its key) for the member's address.
    pub fn insert_email_verification(
        &self,
        token_digest: &str,
        user_pk: &str,
        email: &str,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        diesel::insert_into(email_verifications::table)
            .values((
                email_verifications::token_digest.eq(token_digest),
                email_verifications::user_pk.eq(user_pk),
                email_verifications::email.eq(email),
                email_verifications::created_at.eq(now),
                email_verifications::expires_at.eq(expires_at),
            ))
            .execute(&mut self.conn()?)?;
        Ok(())
    }

    /// Forgets a link whose mail could not be sent.
    pub fn delete_email_verification(&self, token_digest: &str) -> Result<(), StoreError> {
        diesel::delete(email_verifications::table.find(token_digest)).execute(&mut self.conn()?)?;
        Ok(())
    }

    /// When the newest usable link for this member and address was created, if one is live.
    pub fn live_email_verification(
        &self,
        user_pk: &str,
        email: &str,
        now: UnixSeconds,
    ) -> Result<Option<UnixSeconds>, StoreError> {
        Ok(email_verifications::table
            .filter(email_verifications::user_pk.eq(user_pk))
            .filter(email_verifications::email.eq(email))
            .filter(email_verifications::used_at.is_null())
            .filter(email_verifications::expires_at.gt(now))
            .order(email_verifications::created_at.desc())
            .select(email_verifications::created_at)
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// Opens a link: when it is unused, unexpired and still names the member's address, the
    /// address becomes verified and the link is spent (and the member's other links with it).
    pub fn redeem_email_verification(
        &self,
        token_digest: &str,
        now: UnixSeconds,
    ) -> Result<EmailVerification, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let found: Option<(String, String)> = email_verifications::table
                .find(token_digest)
                .filter(email_verifications::used_at.is_null())
                .filter(email_verifications::expires_at.gt(now))
                .select((email_verifications::user_pk, email_verifications::email))
                .first(conn)
                .optional()?;
            let Some((user_pk, email)) = found else {
                return Ok(EmailVerification::Invalid);
            };
            let verified =
                diesel::update(users::table.find(&user_pk).filter(users::email.eq(&email)))
                    .set((users::email_verified.eq(true), users::updated_at.eq(now)))
                    .execute(conn)?;
            if verified == 0 {
                return Ok(EmailVerification::Invalid);
            }
            diesel::update(
                email_verifications::table
                    .filter(email_verifications::user_pk.eq(&user_pk))
                    .filter(email_verifications::used_at.is_null()),
            )
            .set(email_verifications::used_at.eq(now))
            .execute(conn)?;
            Ok(EmailVerification::Verified { user_pk })
        })
    }
}
