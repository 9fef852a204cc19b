//! The rules a realm sets for what members may choose, and for how many mistakes they may make.
//! Violations are typed; each has a message key that `monban-ui` turns into the member's language.

mod email;
mod lockout;
mod password;
mod user_id;

pub use email::{email_violations, normalize_email, EmailViolation, MAX_EMAIL_LENGTH};
pub use lockout::{LockoutState, LoginAttemptVerdict};
pub use password::{PasswordPolicy, PasswordViolation};
pub use user_id::{UserIdPolicy, UserIdViolation, LISTED_FORBIDDEN_CHARACTERS};
