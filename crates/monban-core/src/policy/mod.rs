//! The rules a realm sets for what members may choose, and for how many mistakes they may make.
//! Violations are typed; each has a message key that `monban-ui` turns into the member's language.

mod lockout;
mod password;
mod user_id;

pub use lockout::{LockoutState, LoginAttemptVerdict};
pub use password::{PasswordPolicy, PasswordViolation};
pub use user_id::{UserIdPolicy, UserIdViolation};
