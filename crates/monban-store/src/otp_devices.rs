//! OTP-app devices (SPEC §4.2): a member's TOTP keys, each with the name the member gave it.
//! The key is stored sealed (the caller seals and opens it with the at-rest key); the time step
//! of the last accepted code is kept so that no code is accepted twice.

use crate::schema::otp_devices;
use crate::{Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// One OTP device of a member.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct StoredOtpDevice {
    pub id: String,
    pub user_pk: String,
    pub name: String,
    /// Sealed with the at-rest key, bound to `id`.
    pub secret: Vec<u8>,
    pub algorithm: String,
    pub digits: i32,
    pub period: i32,
    pub last_used_step: i64,
    pub created_at: UnixSeconds,
}

/// A device about to be added. `id` is chosen by the caller, because the sealed secret is
/// bound to it.
pub struct NewOtpDevice<'a> {
    pub id: &'a str,
    pub user_pk: &'a str,
    pub name: &'a str,
    pub secret: &'a [u8],
    pub algorithm: &'a str,
    pub digits: i32,
    pub period: i32,
    /// The step of the code that proved the set-up: it cannot log in afterwards.
    pub used_step: i64,
}

/// The member already has a device with this name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceNameTaken;

impl Store {
    pub fn otp_devices_of(&self, user_pk: &str) -> Result<Vec<StoredOtpDevice>, StoreError> {
        Ok(otp_devices::table
            .filter(otp_devices::user_pk.eq(user_pk))
            .order((otp_devices::created_at.asc(), otp_devices::id.asc()))
            .load(&mut self.conn()?)?)
    }

    pub fn has_otp_device(&self, user_pk: &str) -> Result<bool, StoreError> {
        let count: i64 = otp_devices::table
            .filter(otp_devices::user_pk.eq(user_pk))
            .count()
            .get_result(&mut self.conn()?)?;
        Ok(count > 0)
    }

    pub fn add_otp_device(
        &self,
        device: &NewOtpDevice<'_>,
        now: UnixSeconds,
    ) -> Result<Result<(), DeviceNameTaken>, StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let same_name: i64 = otp_devices::table
                .filter(otp_devices::user_pk.eq(device.user_pk))
                .filter(otp_devices::name.eq(device.name))
                .count()
                .get_result(conn)?;
            if same_name > 0 {
                return Ok(Err(DeviceNameTaken));
            }
            diesel::insert_into(otp_devices::table)
                .values((
                    otp_devices::id.eq(device.id),
                    otp_devices::user_pk.eq(device.user_pk),
                    otp_devices::name.eq(device.name),
                    otp_devices::secret.eq(device.secret),
                    otp_devices::algorithm.eq(device.algorithm),
                    otp_devices::digits.eq(device.digits),
                    otp_devices::period.eq(device.period),
                    otp_devices::last_used_step.eq(device.used_step),
                    otp_devices::created_at.eq(now),
                ))
                .execute(conn)?;
            Ok(Ok(()))
        })
    }

    /// Spends time step `step` of the device: true when no code of this step or a later one
    /// was accepted before (atomically, so two requests with one code cannot both pass).
    pub fn spend_otp_step(&self, device_id: &str, step: i64) -> Result<bool, StoreError> {
        let changed = diesel::update(
            otp_devices::table
                .find(device_id)
                .filter(otp_devices::last_used_step.lt(step)),
        )
        .set(otp_devices::last_used_step.eq(step))
        .execute(&mut self.conn()?)?;
        Ok(changed == 1)
    }
}
