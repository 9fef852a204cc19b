use crate::schema::signing_keys;
use crate::{Store, StoreError};
use diesel::prelude::*;

/// A realm's signing key; `private_key` is sealed (see [`crate::sealed`]).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = signing_keys)]
pub struct StoredSigningKey {
    pub kid: String,
    pub realm: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    pub active: bool,
    pub retire_at: Option<i64>,
}

impl Store {
    /// Every key of a realm that is still published, oldest first.
    pub fn signing_keys(&self, realm: &str) -> Result<Vec<StoredSigningKey>, StoreError> {
        Ok(signing_keys::table
            .filter(signing_keys::realm.eq(realm))
            .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
            .select(StoredSigningKey::as_select())
            .load(&mut self.conn()?)?)
    }

    pub fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        diesel::insert_into(signing_keys::table)
            .values(key)
            .execute(&mut self.conn()?)?;
        Ok(())
    }
}
