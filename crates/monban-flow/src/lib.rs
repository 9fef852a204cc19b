//! Monban's authenticator flow: the steps of a login (authenticators, then required actions),
//! registered by name and ordered by the realm file, and the engine that runs them over the
//! auth session kept in the database.

mod birthdate;
mod configure_otp;
mod engine;
mod mailing;
mod otp_app;
mod otp_mail;
mod passkey;
mod password;
mod registry;
mod second_factor;
mod session;
mod sign_out;
mod step;
mod step_state;
mod terms;
mod totp;
mod update_email;
mod update_password;
mod user_id_and_method;
mod verify_email;

pub use birthdate::BirthdateAction;
pub use configure_otp::ConfigureOtpAction;
pub use engine::{Engine, Progress};
pub use otp_app::OtpAppAuthenticator;
pub use otp_mail::OtpMailAuthenticator;
pub use passkey::{
    relying_party, PasskeyAuthenticator, RegisterPasskeyAction, RelyingPartyProblem,
};
pub use password::{PasswordAuthenticator, PasswordStep, PasswordVerdict};
pub use registry::Steps;
pub use second_factor::enrolment_action;
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
    #[error(transparent)]
    Seal(#[from] monban_store::sealed::SealError),
    /// An OTP device's settings no TOTP can be made of (the realm's checks prevent it).
    #[error("OTP key: {0}")]
    Totp(#[from] totp_rs::TotpError),
    #[error("QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
}
