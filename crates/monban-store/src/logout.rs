use crate::schema::{backchannel_deliveries, client_assertions, logout_requests};
use crate::{Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// A logout that waits for the member's confirmation ("ログアウトしてもよろしいですか？").
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = logout_requests)]
pub struct LogoutRequest {
    pub id: String,
    pub browser_binding: String,
    pub realm: String,
    pub client_id: Option<String>,
    /// Already checked against the client's list, with its `state` appended.
    pub post_logout_redirect_uri: Option<String>,
    pub expires_at: i64,
}

/// One logout token to deliver to one client (OIDC Back-Channel Logout 1.0).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = backchannel_deliveries)]
pub struct BackchannelDelivery {
    pub id: String,
    pub realm: String,
    pub client_id: String,
    pub sso_session_id: String,
    pub user_pk: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub abandoned_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

impl Store {
    pub fn insert_logout_request(&self, request: &LogoutRequest) -> Result<(), StoreError> {
        diesel::insert_into(logout_requests::table)
            .values(request)
            .execute(&mut self.conn()?)?;
        Ok(())
    }

    /// Takes a pending logout: it can be confirmed once.
    pub fn take_logout_request(
        &self,
        id: &str,
        now: UnixSeconds,
    ) -> Result<Option<LogoutRequest>, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let found: Option<LogoutRequest> = logout_requests::table
                .find(id)
                .filter(logout_requests::expires_at.gt(now))
                .select(LogoutRequest::as_select())
                .first(conn)
                .optional()?;
            diesel::delete(logout_requests::table.find(id)).execute(conn)?;
            Ok(found)
        })
    }

    pub fn find_logout_request(
        &self,
        id: &str,
        now: UnixSeconds,
    ) -> Result<Option<LogoutRequest>, StoreError> {
        Ok(logout_requests::table
            .find(id)
            .filter(logout_requests::expires_at.gt(now))
            .select(LogoutRequest::as_select())
            .first(&mut self.conn()?)
            .optional()?)
    }

    pub fn enqueue_backchannel_deliveries(
        &self,
        deliveries: &[BackchannelDelivery],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            for delivery in deliveries {
                diesel::insert_into(backchannel_deliveries::table)
                    .values(delivery)
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// Claims the deliveries that are due: each is pushed `lease` seconds into the future first,
    /// so that another instance polling at the same time does not send it too.
    pub fn claim_due_backchannel_deliveries(
        &self,
        now: UnixSeconds,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<BackchannelDelivery>, StoreError> {
        let mut conn = self.conn()?;
        let due: Vec<BackchannelDelivery> = backchannel_deliveries::table
            .filter(backchannel_deliveries::delivered_at.is_null())
            .filter(backchannel_deliveries::abandoned_at.is_null())
            .filter(backchannel_deliveries::next_attempt_at.le(now))
            .order(backchannel_deliveries::next_attempt_at.asc())
            .limit(limit)
            .select(BackchannelDelivery::as_select())
            .load(&mut conn)?;
        let mut claimed = Vec::new();
        for mut delivery in due {
            let won = diesel::update(
                backchannel_deliveries::table
                    .find(&delivery.id)
                    .filter(backchannel_deliveries::next_attempt_at.eq(delivery.next_attempt_at)),
            )
            .set(backchannel_deliveries::next_attempt_at.eq(now + lease))
            .execute(&mut conn)?;
            if won == 1 {
                delivery.next_attempt_at = now + lease;
                claimed.push(delivery);
            }
        }
        Ok(claimed)
    }

    pub fn record_backchannel_outcome(
        &self,
        id: &str,
        outcome: Result<UnixSeconds, (String, Option<UnixSeconds>)>,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let target = backchannel_deliveries::table.find(id);
        let mut conn = self.conn()?;
        match outcome {
            Ok(delivered_at) => diesel::update(target)
                .set((
                    backchannel_deliveries::delivered_at.eq(delivered_at),
                    backchannel_deliveries::attempts.eq(backchannel_deliveries::attempts + 1),
                    backchannel_deliveries::last_error.eq(None::<String>),
                ))
                .execute(&mut conn)?,
            Err((error, Some(retry_at))) => diesel::update(target)
                .set((
                    backchannel_deliveries::next_attempt_at.eq(retry_at),
                    backchannel_deliveries::attempts.eq(backchannel_deliveries::attempts + 1),
                    backchannel_deliveries::last_error.eq(error),
                ))
                .execute(&mut conn)?,
            Err((error, None)) => diesel::update(target)
                .set((
                    backchannel_deliveries::abandoned_at.eq(now),
                    backchannel_deliveries::attempts.eq(backchannel_deliveries::attempts + 1),
                    backchannel_deliveries::last_error.eq(error),
                ))
                .execute(&mut conn)?,
        };
        Ok(())
    }

    /// Deliveries of a session (for tests and the admin).
    pub fn backchannel_deliveries_of(
        &self,
        sso_session_id: &str,
    ) -> Result<Vec<BackchannelDelivery>, StoreError> {
        Ok(backchannel_deliveries::table
            .filter(backchannel_deliveries::sso_session_id.eq(sso_session_id))
            .select(BackchannelDelivery::as_select())
            .load(&mut self.conn()?)?)
    }

    /// Records a client assertion's id; false when it was seen before (a replay).
    pub fn spend_client_assertion(
        &self,
        digest: &str,
        expires_at: UnixSeconds,
    ) -> Result<bool, StoreError> {
        let inserted = diesel::insert_into(client_assertions::table)
            .values((
                client_assertions::digest.eq(digest),
                client_assertions::expires_at.eq(expires_at),
            ))
            .execute(&mut self.conn()?);
        match inserted {
            Ok(_) => Ok(true),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes what has expired: logins and their steps' state, logout confirmations, spent
    /// assertions, codes, rate-limit windows of yesterday.
    pub fn purge_expired(&self, now: UnixSeconds) -> Result<usize, StoreError> {
        use crate::schema::{auth_sessions, authorization_codes};
        let mut conn = self.conn()?;
        let mut purged =
            diesel::delete(auth_sessions::table.filter(auth_sessions::expires_at.le(now)))
                .execute(&mut conn)?;
        purged +=
            diesel::delete(logout_requests::table.filter(logout_requests::expires_at.le(now)))
                .execute(&mut conn)?;
        purged +=
            diesel::delete(client_assertions::table.filter(client_assertions::expires_at.le(now)))
                .execute(&mut conn)?;
        purged += diesel::delete(
            crate::schema::email_verifications::table
                .filter(crate::schema::email_verifications::expires_at.le(now - 86_400)),
        )
        .execute(&mut conn)?;
        purged += diesel::delete(
            crate::schema::login_step_state::table
                .filter(crate::schema::login_step_state::expires_at.le(now)),
        )
        .execute(&mut conn)?;
        purged += diesel::delete(
            crate::schema::rate_limit_hits::table
                .filter(crate::schema::rate_limit_hits::window_start.lt(now - 86_400)),
        )
        .execute(&mut conn)?;
        // Codes are kept a day after expiry so a late replay is still recognised as one.
        purged += diesel::delete(
            authorization_codes::table.filter(authorization_codes::expires_at.le(now - 86_400)),
        )
        .execute(&mut conn)?;
        Ok(purged)
    }
}
