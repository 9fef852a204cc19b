//! Passkeys (SPEC §4.1): a member's WebAuthn credentials, each with the name the member gave
//! it. The credential itself (public key, sign counter, flags) is webauthn-rs's, kept as JSON:
//! nothing in it is secret.

use crate::schema::passkeys;
use crate::{new_id, Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// One passkey of a member.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct StoredPasskey {
    pub id: String,
    pub user_pk: String,
    pub name: String,
    /// base64url, as the browser reports it.
    pub credential_id: String,
    /// webauthn-rs's credential, JSON.
    pub credential: String,
    pub created_at: UnixSeconds,
    pub last_used_at: Option<UnixSeconds>,
}

/// Why a passkey was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRefused {
    /// The member already has a passkey with this name.
    NameTaken,
    /// This credential is registered already (to this or another member).
    CredentialTaken,
}

impl Store {
    pub fn passkeys_of(&self, user_pk: &str) -> Result<Vec<StoredPasskey>, StoreError> {
        Ok(passkeys::table
            .filter(passkeys::user_pk.eq(user_pk))
            .order((passkeys::created_at.asc(), passkeys::id.asc()))
            .load(&mut self.conn()?)?)
    }

    pub fn has_passkey(&self, user_pk: &str) -> Result<bool, StoreError> {
        let count: i64 = passkeys::table
            .filter(passkeys::user_pk.eq(user_pk))
            .count()
            .get_result(&mut self.conn()?)?;
        Ok(count > 0)
    }

    /// Whether a credential with this id is registered (to anyone).
    pub fn passkey_credential_registered(&self, credential_id: &str) -> Result<bool, StoreError> {
        let count: i64 = passkeys::table
            .filter(passkeys::credential_id.eq(credential_id))
            .count()
            .get_result(&mut self.conn()?)?;
        Ok(count > 0)
    }

    /// Adds a passkey; refused when the name or the credential is taken. Returns its id.
    pub fn add_passkey(
        &self,
        user_pk: &str,
        name: &str,
        credential_id: &str,
        credential: &str,
        now: UnixSeconds,
    ) -> Result<Result<String, PasskeyRefused>, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let same_name: i64 = passkeys::table
                .filter(passkeys::user_pk.eq(user_pk))
                .filter(passkeys::name.eq(name))
                .count()
                .get_result(conn)?;
            if same_name > 0 {
                return Ok(Err(PasskeyRefused::NameTaken));
            }
            let same_credential: i64 = passkeys::table
                .filter(passkeys::credential_id.eq(credential_id))
                .count()
                .get_result(conn)?;
            if same_credential > 0 {
                return Ok(Err(PasskeyRefused::CredentialTaken));
            }
            let id = new_id();
            diesel::insert_into(passkeys::table)
                .values((
                    passkeys::id.eq(&id),
                    passkeys::user_pk.eq(user_pk),
                    passkeys::name.eq(name),
                    passkeys::credential_id.eq(credential_id),
                    passkeys::credential.eq(credential),
                    passkeys::created_at.eq(now),
                ))
                .execute(conn)?;
            Ok(Ok(id))
        })
    }

    /// Records a use: the credential as updated after the assertion (its new sign counter),
    /// only if it is still what the caller read (`previous`) — two logins racing with the
    /// same counter cannot both pass. Returns whether it was recorded.
    pub fn record_passkey_use(
        &self,
        passkey_id: &str,
        previous: &str,
        updated: &str,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        let changed = diesel::update(
            passkeys::table
                .find(passkey_id)
                .filter(passkeys::credential.eq(previous)),
        )
        .set((
            passkeys::credential.eq(updated),
            passkeys::last_used_at.eq(now),
        ))
        .execute(&mut self.conn()?)?;
        Ok(changed == 1)
    }
}
