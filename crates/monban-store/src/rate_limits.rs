//! Counters for rate limits, in the database so that every instance behind a load balancer
//! counts toward the same limit. A bucket names what is limited and for whom; the caller picks
//! the fixed window a request falls in.

use crate::schema::rate_limit_hits;
use crate::{Store, StoreError};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use monban_core::UnixSeconds;

impl Store {
    /// Counts one request of `bucket` in the window starting at `window_start`; returns how many
    /// the window has now, this one included.
    pub fn hit_rate_limit(
        &self,
        bucket: &str,
        window_start: UnixSeconds,
    ) -> Result<i64, StoreError> {
        let mut conn = self.conn()?;
        let count_one_more = |conn: &mut _| -> Result<Option<i32>, DieselError> {
            diesel::update(rate_limit_hits::table.find((bucket, window_start)))
                .set(rate_limit_hits::hits.eq(rate_limit_hits::hits + 1))
                .returning(rate_limit_hits::hits)
                .get_result(conn)
                .optional()
        };
        if let Some(hits) = count_one_more(&mut conn)? {
            return Ok(i64::from(hits));
        }
        let inserted = diesel::insert_into(rate_limit_hits::table)
            .values((
                rate_limit_hits::bucket.eq(bucket),
                rate_limit_hits::window_start.eq(window_start),
                rate_limit_hits::hits.eq(1),
            ))
            .execute(&mut conn);
        match inserted {
            Ok(_) => Ok(1),
            // Another instance opened the window meanwhile: count on top of it.
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                Ok(count_one_more(&mut conn)?.map_or(1, i64::from))
            }
            Err(other) => Err(other.into()),
        }
    }
}
