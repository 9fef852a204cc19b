//! The `password` step: user ID and password, with brute-force lockout.

use crate::FlowError;
use monban_core::config::RealmConfig;
use monban_core::password_hash::PasswordHasher;
use monban_core::policy::{LoginAttemptVerdict, UserIdPolicy};
use monban_core::Clock;
use monban_store::{AuditEvent, Store, User};

/// What checking a user ID and password found. Wrong ID and wrong password are one case, so
/// nothing tells a visitor whether a member exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordVerdict {
    Accepted(Box<User>),
    InvalidCredentials,
    /// Locked by too many failures (or disabled): the member must wait or ask their society.
    Locked,
}

pub struct PasswordStep<'a> {
    pub store: &'a Store,
    pub hasher: &'a PasswordHasher,
    pub clock: &'a dyn Clock,
}

impl PasswordStep<'_> {
    /// Blocking (argon2 and the database): call off the async executor.
    pub fn check(
        &self,
        realm: &RealmConfig,
        user_id: &str,
        password: &str,
        ip: Option<&str>,
    ) -> Result<PasswordVerdict, FlowError> {
        let now = self.clock.now();
        let normalized = UserIdPolicy::normalize(user_id);
        let user = if normalized.is_empty() || normalized.len() > 255 {
            None
        } else {
            self.store.find_user_by_user_id(&realm.name, &normalized)?
        };
        let audit = |kind: &str, user: Option<&User>, detail: Option<String>| {
            self.store.record_audit_event(
                &AuditEvent {
                    realm: &realm.name,
                    kind,
                    user_pk: user.map(|u| u.id.as_str()),
                    client_id: None,
                    ip,
                    detail,
                },
                now,
            )
        };
        let Some(user) = user else {
            // Spend the same time as a real check, so response time does not reveal members.
            self.hasher.verify(None, password);
            audit("LOGIN_ERROR", None, Some("user_not_found".into()))?;
            return Ok(PasswordVerdict::InvalidCredentials);
        };
        let lockout = self.store.lockout_state(&user.id)?;
        if !user.enabled || lockout.verdict(&realm.lockout, now) == LoginAttemptVerdict::Locked {
            // Hash anyway: a locked account must not answer faster than an open one.
            self.hasher.verify(None, password);
            audit("LOGIN_ERROR", Some(&user), Some("locked".into()))?;
            return Ok(PasswordVerdict::Locked);
        }
        if self.hasher.verify(Some(&user.password_hash), password) {
            self.store.clear_login_failures(&user.id)?;
            return Ok(PasswordVerdict::Accepted(Box::new(user)));
        }
        let after = self
            .store
            .record_login_failure(&user.id, |state| state.after_failure(&realm.lockout, now))?;
        audit("LOGIN_ERROR", Some(&user), Some("invalid_password".into()))?;
        if after.verdict(&realm.lockout, now) == LoginAttemptVerdict::Locked {
            audit(
                "USER_LOCKED",
                Some(&user),
                Some(format!("failures={}", after.failures)),
            )?;
        }
        // The attempt that causes the lock still reads as a wrong password; the next shows the lock.
        Ok(PasswordVerdict::InvalidCredentials)
    }
}

/// The `password` authenticator: the login form of SPEC §2.
pub struct PasswordAuthenticator;

fn login_view(user_id: &str, remember_me: bool, error: Option<&'static str>) -> crate::StepView {
    crate::StepView {
        template: "login",
        model: serde_json::json!({ "user_id": user_id, "remember_me": remember_me, "error": error }),
    }
}

impl crate::Authenticator for PasswordAuthenticator {
    fn name(&self) -> &'static str {
        "password"
    }

    fn page(
        &self,
        _ctx: &crate::StepContext<'_>,
        _member: Option<&crate::Member>,
        login_hint: Option<&str>,
    ) -> Result<crate::StepView, FlowError> {
        Ok(login_view(login_hint.unwrap_or(""), false, None))
    }

    fn submit(
        &self,
        ctx: &crate::StepContext<'_>,
        _member: Option<&crate::Member>,
        form: &crate::Form<'_>,
    ) -> Result<crate::StepOutcome, FlowError> {
        let user_id: String = form
            .get("username")
            .unwrap_or("")
            .chars()
            .take(255)
            .collect();
        let password = form.get("password").unwrap_or("");
        let remember_me = form.has("rememberMe");
        let retry =
            |error| crate::StepOutcome::Retry(login_view(&user_id, remember_me, Some(error)));
        // An empty field is a typing slip, not a guess: it does not count toward the lockout.
        if user_id.trim().is_empty() || password.is_empty() {
            return Ok(retry("invalid_credentials"));
        }
        let step = PasswordStep {
            store: ctx.store,
            hasher: ctx.hasher,
            clock: ctx.clock,
        };
        Ok(match step.check(ctx.realm, &user_id, password, ctx.ip)? {
            PasswordVerdict::Accepted(user) => crate::StepOutcome::Identified(crate::Member {
                user_pk: user.id,
                amr: vec!["pwd".into()],
                remember_me,
            }),
            PasswordVerdict::InvalidCredentials => retry("invalid_credentials"),
            PasswordVerdict::Locked => retry("account_locked"),
        })
    }
}
