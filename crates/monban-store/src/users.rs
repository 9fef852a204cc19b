use crate::schema::users;
use crate::{new_id, Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// A member as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub realm: String,
    pub user_id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub birthdate: Option<String>,
    pub password_hash: String,
    pub temporary_id: bool,
    pub first_login_completed: bool,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// `passkey`, `otp-app` or `otp-mail`, once chosen.
    pub second_factor_method: Option<String>,
}

/// A member of an import file that clashes with one already in the realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportConflict {
    /// Position in the list handed to [`Store::insert_members`].
    pub index: usize,
    pub field: &'static str,
    pub value: String,
}

/// What to store for a new member; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub user_id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub birthdate: Option<String>,
    pub password_hash: String,
    pub temporary_id: bool,
}

impl Store {
    /// Inserts all members or none: when any user ID or email is taken in the realm, nothing is
    /// written and every clash is returned.
    pub fn insert_members(
        &self,
        realm: &str,
        members: &[NewUser],
        now: UnixSeconds,
    ) -> Result<Result<Vec<User>, Vec<ImportConflict>>, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let mut conflicts = Vec::new();
            for (index, member) in members.iter().enumerate() {
                let taken: i64 = users::table
                    .filter(users::realm.eq(realm))
                    .filter(users::user_id.eq(&member.user_id))
                    .count()
                    .get_result(conn)?;
                if taken > 0 {
                    conflicts.push(ImportConflict {
                        index,
                        field: "user_id",
                        value: member.user_id.clone(),
                    });
                }
                if let Some(email) = &member.email {
                    let taken: i64 = users::table
                        .filter(users::realm.eq(realm))
                        .filter(users::email.eq(email))
                        .count()
                        .get_result(conn)?;
                    if taken > 0 {
                        conflicts.push(ImportConflict {
                            index,
                            field: "email",
                            value: email.clone(),
                        });
                    }
                }
            }
            if !conflicts.is_empty() {
                return Ok(Err(conflicts));
            }
            let rows: Vec<User> = members
                .iter()
                .map(|member| User {
                    id: new_id(),
                    realm: realm.to_string(),
                    user_id: member.user_id.clone(),
                    display_name: member.display_name.clone(),
                    email: member.email.clone(),
                    email_verified: false,
                    birthdate: member.birthdate.clone(),
                    password_hash: member.password_hash.clone(),
                    temporary_id: member.temporary_id,
                    first_login_completed: false,
                    enabled: true,
                    created_at: now,
                    updated_at: now,
                    second_factor_method: None,
                })
                .collect();
            for row in &rows {
                diesel::insert_into(users::table)
                    .values(row)
                    .execute(conn)?;
            }
            Ok(Ok(rows))
        })
    }

    /// Looks a member up by user ID, which is matched case-insensitively.
    pub fn find_user_by_user_id(
        &self,
        realm: &str,
        user_id: &str,
    ) -> Result<Option<User>, StoreError> {
        let normalized = user_id.trim().to_ascii_lowercase();
        Ok(users::table
            .filter(users::realm.eq(realm))
            .filter(users::user_id.eq(normalized))
            .select(User::as_select())
            .first(&mut self.conn()?)
            .optional()?)
    }

    pub fn find_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(users::table
            .find(id)
            .select(User::as_select())
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// The member finished the first-login set-up: steps meant only for it no longer apply.
    pub fn complete_first_login(&self, user_pk: &str, now: UnixSeconds) -> Result<(), StoreError> {
        use crate::schema::first_login_progress;
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            diesel::update(
                users::table
                    .find(user_pk)
                    .filter(users::first_login_completed.eq(false)),
            )
            .set((
                users::first_login_completed.eq(true),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
            diesel::delete(
                first_login_progress::table.filter(first_login_progress::user_pk.eq(user_pk)),
            )
            .execute(conn)?;
            Ok(())
        })
    }
}
