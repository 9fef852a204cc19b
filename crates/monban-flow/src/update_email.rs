//! `update-email` (SPEC §3.3): the registered address, editable; changing it is optional.
//! The four messages of the manuals; one address per account in the realm; a new address is
//! unverified until the member opens the link (the `verify-email` step, where a realm has it).

use crate::sign_out::{sign_out_everywhere, sign_out_requested};
use crate::step::{Form, Problem, RequiredAction, StepContext, StepOutcome, StepView};
use crate::FlowError;
use monban_core::policy::{email_violations, normalize_email};
use monban_store::User;
use serde_json::json;

pub struct UpdateEmailAction;

/// Longest input looked at: enough to tell "too long" apart, never a megabyte echoed back.
const INPUT_LIMIT: usize = 1024;

fn view(email: &str, sign_out: bool, errors: &[Problem]) -> StepView {
    StepView {
        template: "update_email",
        model: json!({ "email": email, "sign_out_all": sign_out, "errors": errors }),
    }
}

impl RequiredAction for UpdateEmailAction {
    fn name(&self) -> &'static str {
        "update-email"
    }

    fn applies(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(!user.first_login_completed)
    }

    fn page(&self, _ctx: &StepContext<'_>, user: &User) -> Result<StepView, FlowError> {
        Ok(view(user.email.as_deref().unwrap_or(""), false, &[]))
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let typed: String = form
            .get("email")
            .unwrap_or("")
            .chars()
            .take(INPUT_LIMIT)
            .collect();
        let sign_out = sign_out_requested(form);
        let email = normalize_email(&typed);
        let problems: Vec<Problem> = email_violations(&email)
            .into_iter()
            .map(|v| Problem::new(v.message_key()))
            .collect();
        if !problems.is_empty() {
            return Ok(StepOutcome::Retry(view(&typed, sign_out, &problems)));
        }
        let now = ctx.clock.now();
        if ctx.store.update_email(&user.id, &email, now)?.is_err() {
            return Ok(StepOutcome::Retry(view(
                &typed,
                sign_out,
                &[Problem::new("email_taken")],
            )));
        }
        if user.email.as_deref() != Some(email.as_str()) {
            ctx.audit(user, "UPDATE_EMAIL", None)?;
        }
        if sign_out {
            sign_out_everywhere(ctx, user)?;
        }
        Ok(StepOutcome::Done { amr: Vec::new() })
    }
}
