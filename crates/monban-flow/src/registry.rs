//! Steps by name. A new step plugs in by implementing a trait and registering here (or from
//! outside, with `register_*`); the engine never changes.

use crate::birthdate::BirthdateAction;
use crate::configure_otp::ConfigureOtpAction;
use crate::otp_app::OtpAppAuthenticator;
use crate::otp_mail::OtpMailAuthenticator;
use crate::passkey::{PasskeyAuthenticator, RegisterPasskeyAction};
use crate::password::PasswordAuthenticator;
use crate::step::{Authenticator, RequiredAction};
use crate::terms::TermsAction;
use crate::update_email::UpdateEmailAction;
use crate::update_password::UpdatePasswordAction;
use crate::user_id_and_method::UserIdAndMethodAction;
use crate::verify_email::VerifyEmailAction;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Steps {
    authenticators: BTreeMap<&'static str, Arc<dyn Authenticator>>,
    actions: BTreeMap<&'static str, Arc<dyn RequiredAction>>,
}

impl Steps {
    /// Monban's built-in steps.
    pub fn builtin() -> Steps {
        let mut steps = Steps::default();
        steps.register_authenticator(Arc::new(PasswordAuthenticator));
        steps.register_authenticator(Arc::new(PasskeyAuthenticator));
        steps.register_authenticator(Arc::new(OtpAppAuthenticator));
        steps.register_authenticator(Arc::new(OtpMailAuthenticator));
        steps.register_action(Arc::new(BirthdateAction));
        steps.register_action(Arc::new(TermsAction));
        steps.register_action(Arc::new(UpdateEmailAction));
        steps.register_action(Arc::new(VerifyEmailAction));
        steps.register_action(Arc::new(UserIdAndMethodAction));
        steps.register_action(Arc::new(UpdatePasswordAction));
        steps.register_action(Arc::new(RegisterPasskeyAction));
        steps.register_action(Arc::new(ConfigureOtpAction));
        steps
    }

    pub fn register_authenticator(&mut self, step: Arc<dyn Authenticator>) {
        self.authenticators.insert(step.name(), step);
    }

    pub fn register_action(&mut self, action: Arc<dyn RequiredAction>) {
        self.actions.insert(action.name(), action);
    }

    pub fn authenticator(&self, name: &str) -> Option<&Arc<dyn Authenticator>> {
        self.authenticators.get(name)
    }

    pub fn action(&self, name: &str) -> Option<&Arc<dyn RequiredAction>> {
        self.actions.get(name)
    }

    /// The names a realm file may use, for its error messages.
    pub fn authenticator_names(&self) -> Vec<&'static str> {
        self.authenticators.keys().copied().collect()
    }

    pub fn action_names(&self) -> Vec<&'static str> {
        self.actions.keys().copied().collect()
    }
}
