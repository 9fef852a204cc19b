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
    /// Every key of a realm that is still published at `now`, oldest first.
    pub fn signing_keys(&self, realm: &str, now: i64) -> Result<Vec<StoredSigningKey>, StoreError> {
        Ok(signing_keys::table
            .filter(signing_keys::realm.eq(realm))
            .filter(
                signing_keys::retire_at
                    .is_null()
                    .or(signing_keys::retire_at.gt(now)),
            )
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

    /// Stops signing with a realm's active keys of one algorithm; they stay published until
    /// `retire_at`, when every token they signed has expired.
    pub fn retire_active_keys(
        &self,
        realm: &str,
        algorithm: &str,
        except_kid: &str,
        retire_at: i64,
    ) -> Result<usize, StoreError> {
        Ok(diesel::update(
            signing_keys::table
                .filter(signing_keys::realm.eq(realm))
                .filter(signing_keys::algorithm.eq(algorithm))
                .filter(signing_keys::active.eq(true))
                .filter(signing_keys::kid.ne(except_kid)),
        )
        .set((
            signing_keys::active.eq(false),
            signing_keys::retire_at.eq(retire_at),
        ))
        .execute(&mut self.conn()?)?)
    }

    /// Deletes keys whose retirement time has come; returns how many.
    pub fn delete_retired_keys(&self, now: i64) -> Result<usize, StoreError> {
        Ok(
            diesel::delete(signing_keys::table.filter(signing_keys::retire_at.le(now)))
                .execute(&mut self.conn()?)?,
        )
    }
}
