//! Monban's authenticator flow: what a login has done so far (the auth session's state) and
//! the steps that move it on. The foundation ships the `password` step; the first-login
//! required actions and second factors plug in beside it.

mod password;
mod session;

pub use password::{PasswordStep, PasswordVerdict};
pub use session::{AuthSession, AuthSessionState, FlowStore};

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Store(#[from] monban_store::StoreError),
    #[error("stored login state is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Oidc(#[from] monban_oidc::OidcError),
}
