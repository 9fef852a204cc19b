//! Monban's persistence: the diesel schema, embedded migrations and the repositories, over one
//! connection type that is either SQLite (embedded, the default) or PostgreSQL. Everything a
//! request needs lives here, so several instances on one PostgreSQL can serve the same login.
//!
//! Calls are synchronous (diesel): run them off the async executor.

mod audit;
mod codes;
mod connection;
mod first_login;
mod keys;
mod lockout;
mod logout;
mod otp_devices;
mod otp_mail;
mod passkeys;
mod rate_limits;
mod refresh;
pub mod schema;
pub mod sealed;
mod sessions;
mod step_state;
mod tokens;
mod users;

pub use audit::AuditEvent;
pub use codes::{AuthorizationCode, CodeRedemption};
pub use connection::{redact, Backend, DbConnection, DbPool};
pub use first_login::{EmailVerification, Taken, TermsVersion};
pub use keys::StoredSigningKey;
pub use logout::{BackchannelDelivery, LogoutRequest};
pub use otp_devices::{DeviceNameTaken, NewOtpDevice, StoredOtpDevice};
pub use otp_mail::OtpMailCheck;
pub use passkeys::{PasskeyRefused, StoredPasskey};
pub use refresh::{RefreshRedemption, RefreshToken};
pub use sessions::{AuthSessionRecord, SsoSession};
pub use tokens::IssuedToken;
pub use users::{ImportConflict, NewUser, User};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the record was changed by another request")]
    Conflict,
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

/// The database, pooled. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: DbPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url` and applies pending migrations.
    pub fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let (pool, backend) = connection::open_pool(url, max_connections)?;
        Ok(Self { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn conn(&self) -> Result<connection::PooledDb, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Applies pending migrations again (for `monban migrate`); returns how many ran.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        connection::run_migrations(&mut *self.conn()?)
    }
}

/// A new random identifier for rows.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
