//! Monban's authenticator flow: the steps of a login (authenticators, then required actions),
//! registered by name and ordered by the realm file, and the engine that runs them over the
//! auth session kept in the database.

mod birthdate;
mod engine;
mod mailing;
mod otp_mail;
mod password;
mod registry;
mod session;
mod sign_out;
mod step;
mod terms;
mod update_email;
mod update_password;
mod user_id_and_method;
mod verify_email;

pub use birthdate::BirthdateAction;
pub use engine::{Engine, Progress};
pub use otp_mail::OtpMailAuthenticator;
pub use password::{PasswordAuthenticator, PasswordStep, PasswordVerdict};
pub use registry::Steps;
pub use session::{AuthSession, AuthSessionState, FlowStore};
pub use sign_out::SIGN_OUT_ALL_FIELD;
pub use step::{
    Authenticator, Form, Member, Problem, RequiredAction, StepContext, StepOutcome, StepView,
};
pub use terms::TermsAction;
pub use update_email::UpdateEmailAction;
pub use update_password::UpdatePasswordAction;
pub use user_id_and_method::UserIdAndMethodAction;
pub use verify_email::{VerifyEmailAction, VERIFY_EMAIL_PATH};

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Store(#[from] monban_store::StoreError),
    #[error("stored login state is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Oidc(#[from] monban_oidc::OidcError),
    #[error(transparent)]
    Hash(#[from] monban_core::password_hash::HashError),
}
