//! What a step is: an [`Authenticator`] proves who the member is; a [`RequiredAction`] is
//! something an identified member must do before reaching the client. Each owns at most one
//! page and is registered by the name realm files use.

use crate::FlowError;
use monban_core::config::RealmConfig;
use monban_core::password_hash::PasswordHasher;
use monban_core::Clock;
use monban_mail::Mailer;
use monban_oidc::Provider;
use monban_store::sealed::SecretBox;
use monban_store::{AuditEvent, Store, User};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a step may use.
pub struct StepContext<'a> {
    pub store: &'a Store,
    pub hasher: &'a PasswordHasher,
    pub clock: &'a dyn Clock,
    pub realm: &'a RealmConfig,
    /// Sessions and tokens (e.g. to sign the member out everywhere), the public URL.
    pub provider: &'a Provider,
    /// `None` when the server has no mail settings (a realm whose steps send mail is refused
    /// at start then).
    pub mailer: Option<&'a Mailer>,
    /// The member's language, for mails.
    pub locale: &'a str,
    pub ip: Option<&'a str>,
    /// The login in progress (its auth session's id): what a step keeps between its pages
    /// is stored under it.
    pub login_id: &'a str,
    /// The at-rest key: OTP secrets and step state are sealed with it.
    pub secrets: &'a SecretBox,
}

impl StepContext<'_> {
    /// Records what the member did (an audit event of this realm, now, from this address).
    pub fn audit(&self, user: &User, kind: &str, detail: Option<String>) -> Result<(), FlowError> {
        self.store.record_audit_event(
            &AuditEvent {
                realm: &self.realm.name,
                kind,
                user_pk: Some(&user.id),
                client_id: None,
                ip: self.ip,
                detail,
            },
            self.clock.now(),
        )?;
        Ok(())
    }
}

/// One message for the member, by key of the theme's messages; `{0}` in the text becomes `arg`
/// (e.g. the minimum length a policy sets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub key: &'static str,
    pub arg: String,
}

impl Problem {
    pub fn new(key: &'static str) -> Problem {
        Problem {
            key,
            arg: String::new(),
        }
    }

    pub fn with(key: &'static str, arg: impl ToString) -> Problem {
        Problem {
            key,
            arg: arg.to_string(),
        }
    }
}

/// The fields a member submitted.
pub struct Form<'a>(pub &'a [(String, String)]);

impl Form<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// A page to show: a template of the theme and the step's own view model (the server adds
/// what every page has: the form's address, the CSRF token, the way back).
#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    pub template: &'static str,
    pub model: Value,
}

/// The member a login has identified so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_pk: String,
    /// Authentication methods used, for `amr` (RFC 8176 values).
    pub amr: Vec<String>,
    pub remember_me: bool,
}

/// What a submission led to.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// Show the page again (with the step's error in its model).
    Retry(StepView),
    /// The step identified the member.
    Identified(Member),
    /// The step is done; `amr` lists any methods it used.
    Done { amr: Vec<String> },
    /// The member declined (e.g. the terms): the login ends, the client hears `access_denied`.
    Denied,
    /// Run the named required action first, then come back to this one (e.g. from the
    /// verification page back to correcting the address).
    Detour(&'static str),
}

pub trait Authenticator: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether this step asks anything of `member` (who earlier steps identified); one that
    /// does not is passed over. E.g. a second factor the member has not chosen.
    fn applies(&self, _ctx: &StepContext<'_>, _member: Option<&Member>) -> Result<bool, FlowError> {
        Ok(true)
    }
    /// The page to show; `member` is who earlier steps identified, if anyone.
    fn page(
        &self,
        ctx: &StepContext<'_>,
        member: Option<&Member>,
        login_hint: Option<&str>,
    ) -> Result<StepView, FlowError>;
    /// Blocking (database, hashing): called off the async executor.
    fn submit(
        &self,
        ctx: &StepContext<'_>,
        member: Option<&Member>,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError>;
}

pub trait RequiredAction: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether the member still has to do this (a step that no longer applies is skipped).
    fn applies(&self, ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError>;
    /// Whether an answer to an earlier step of this login may still make it apply (enrolling
    /// a second factor, before the member has chosen one): it keeps its place in the list,
    /// and is asked if it applies by the time the login reaches it.
    fn may_apply_later(&self, _ctx: &StepContext<'_>, _user: &User) -> Result<bool, FlowError> {
        Ok(false)
    }
    /// Whether the member can do this at all, when an admin requires it regardless of
    /// `applies` (e.g. no terms published, no address to verify).
    fn possible(&self, _ctx: &StepContext<'_>, _user: &User) -> Result<bool, FlowError> {
        Ok(true)
    }
    /// Blocking, like `submit`; may act (the verification step mails its link when shown).
    fn page(&self, ctx: &StepContext<'_>, user: &User) -> Result<StepView, FlowError>;
    fn submit(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError>;
}
