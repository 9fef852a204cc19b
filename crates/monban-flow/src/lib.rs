//! Monban's authenticator flow: the steps of a login (authenticators, then required actions),
//! registered by name and ordered by the realm file, and the engine that runs them over the
//! auth session kept in the database.

mod birthdate;
mod engine;
mod password;
mod registry;
mod session;
mod step;

pub use birthdate::BirthdateAction;
pub use engine::{Engine, Progress};
pub use password::{PasswordAuthenticator, PasswordStep, PasswordVerdict};
pub use registry::Steps;
pub use session::{AuthSession, AuthSessionState, FlowStore};
pub use step::{Authenticator, Form, Member, RequiredAction, StepContext, StepOutcome, StepView};

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Store(#[from] monban_store::StoreError),
    #[error("stored login state is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Oidc(#[from] monban_oidc::OidcError),
}
