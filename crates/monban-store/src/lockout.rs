use crate::schema::login_failures;
use crate::{Store, StoreError};
use diesel::prelude::*;
use monban_core::policy::LockoutState;

#[derive(Queryable, Insertable, AsChangeset)]
#[diesel(table_name = login_failures)]
struct Row {
    user_pk: String,
    failures: i32,
    temporary_lockouts: i32,
    last_failure_at: i64,
    locked_until: Option<i64>,
    permanently_locked: bool,
}

impl Row {
    fn into_state(self) -> LockoutState {
        LockoutState {
            failures: self.failures.max(0) as u32,
            temporary_lockouts: self.temporary_lockouts.max(0) as u32,
            last_failure_at: self.last_failure_at,
            locked_until: self.locked_until,
            permanently_locked: self.permanently_locked,
        }
    }
}

impl Store {
    pub fn lockout_state(&self, user_pk: &str) -> Result<LockoutState, StoreError> {
        let row: Option<Row> = login_failures::table
            .find(user_pk)
            .first(&mut self.conn()?)
            .optional()?;
        Ok(row.map_or_else(LockoutState::default, Row::into_state))
    }

    /// Records a failed attempt. The read and the write happen in one transaction so that
    /// concurrent failures on several instances all count.
    pub fn record_login_failure(
        &self,
        user_pk: &str,
        next: impl Fn(&LockoutState) -> LockoutState,
    ) -> Result<LockoutState, StoreError> {
        match self.try_record_login_failure(user_pk, &next) {
            // Two first failures raced to insert the row: the loser counts again on top.
            Err(StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) => self.try_record_login_failure(user_pk, &next),
            other => other,
        }
    }

    fn try_record_login_failure(
        &self,
        user_pk: &str,
        next: &dyn Fn(&LockoutState) -> LockoutState,
    ) -> Result<LockoutState, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let row: Option<Row> = login_failures::table.find(user_pk).first(conn).optional()?;
            let current = row.map_or_else(LockoutState::default, Row::into_state);
            let updated = next(&current);
            let row = Row {
                user_pk: user_pk.to_string(),
                failures: updated.failures as i32,
                temporary_lockouts: updated.temporary_lockouts as i32,
                last_failure_at: updated.last_failure_at,
                locked_until: updated.locked_until,
                permanently_locked: updated.permanently_locked,
            };
            // MultiConnection has no ON CONFLICT: update, and insert when there was nothing.
            let changed = diesel::update(login_failures::table.find(user_pk))
                .set(&row)
                .execute(conn)?;
            if changed == 0 {
                diesel::insert_into(login_failures::table)
                    .values(&row)
                    .execute(conn)?;
            }
            Ok(updated)
        })
    }

    /// Forgets failures: after a successful login, and when an admin unlocks the member.
    pub fn clear_login_failures(&self, user_pk: &str) -> Result<(), StoreError> {
        diesel::delete(login_failures::table.find(user_pk)).execute(&mut self.conn()?)?;
        Ok(())
    }
}
