//! `update-password` (SPEC §3.6): "⚠ パスワードを変更する必要があります。" — a new password twice,
//! checked against every rule of the realm's policy (each broken rule its own message), never
//! the user ID nor the current password.

use crate::sign_out::{sign_out_everywhere, sign_out_requested};
use crate::step::{Form, Problem, RequiredAction, StepContext, StepOutcome, StepView};
use crate::FlowError;
use monban_core::policy::PasswordViolation;
use monban_store::User;
use serde_json::json;

pub struct UpdatePasswordAction;

/// Longer input is refused by the policy anyway; this bounds the hashing work.
const INPUT_LIMIT: usize = 1024;

/// Passwords are never sent back to the browser; the user ID is, hidden, so that password
/// managers save the new password under it.
fn view(user: &User, sign_out: bool, errors: &[Problem]) -> StepView {
    StepView {
        template: "update_password",
        model: json!({ "user_id": user.user_id, "sign_out_all": sign_out, "errors": errors }),
    }
}

fn problem(violation: &PasswordViolation) -> Problem {
    match violation {
        PasswordViolation::TooShort { min } => Problem::with(violation.message_key(), min),
        PasswordViolation::TooLong { max } => Problem::with(violation.message_key(), max),
        other => Problem::new(other.message_key()),
    }
}

impl RequiredAction for UpdatePasswordAction {
    fn name(&self) -> &'static str {
        "update-password"
    }

    fn applies(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(!user.first_login_completed)
    }

    fn page(&self, _ctx: &StepContext<'_>, user: &User) -> Result<StepView, FlowError> {
        Ok(view(user, false, &[]))
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let sign_out = sign_out_requested(form);
        let password = form.get("password-new").unwrap_or("");
        let confirmation = form.get("password-confirm").unwrap_or("");
        if password.len() > INPUT_LIMIT {
            let too_long = PasswordViolation::TooLong {
                max: ctx.realm.password_policy.max_length,
            };
            return Ok(StepOutcome::Retry(view(
                user,
                sign_out,
                &[problem(&too_long)],
            )));
        }
        let mut violations = ctx
            .realm
            .password_policy
            .violations(password, &user.user_id);
        if !password.is_empty() && ctx.hasher.verify(Some(&user.password_hash), password) {
            violations.push(PasswordViolation::SameAsCurrent);
        }
        if !password.is_empty() && password != confirmation {
            violations.push(PasswordViolation::ConfirmationMismatch);
        }
        if !violations.is_empty() {
            let problems: Vec<Problem> = violations.iter().map(problem).collect();
            return Ok(StepOutcome::Retry(view(user, sign_out, &problems)));
        }
        let hash = ctx.hasher.hash(password)?;
        let now = ctx.clock.now();
        ctx.store.set_password_hash(&user.id, &hash, now)?;
        ctx.audit(user, "UPDATE_PASSWORD", None)?;
        if sign_out {
            sign_out_everywhere(ctx, user)?;
        }
        Ok(StepOutcome::Done { amr: Vec::new() })
    }
}
