//! Monban's domain: the realm model and its configuration files, members, and the rules that
//! govern them (password, user-ID and lockout policies). Nothing here does HTTP, SQL or other
//! I/O: callers hand in text and the current time, and get values or typed errors back.

pub mod clock;
pub mod config;
pub mod members;
pub mod password_hash;
pub mod policy;

pub use clock::{Clock, SystemClock, UnixSeconds};
