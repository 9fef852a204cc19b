//! Time as a parameter: domain code asks a [`Clock`] instead of calling `now()`, so tests can
//! move time forward to expire codes, sessions and lockouts.

use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch; the unit of every timestamp Monban stores.
pub type UnixSeconds = i64;

pub trait Clock: Send + Sync {
    fn now(&self) -> UnixSeconds;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixSeconds {
        chrono::Utc::now().timestamp()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: UnixSeconds) -> Self {
        Self(AtomicI64::new(start))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixSeconds {
        self.0.load(Ordering::SeqCst)
    }
}
