//! `birthdate` (SPEC §3.1): until the first login is complete, the member proves who they are
//! with their birthdate. A wrong date counts toward the lockout like a wrong password; a
//! malformed one is only a typing slip.

use crate::step::{Form, RequiredAction, StepContext, StepOutcome, StepView};
use crate::FlowError;
use monban_core::members::parse_birthdate;
use monban_core::policy::LoginAttemptVerdict;
use monban_store::User;
use serde_json::json;

pub struct BirthdateAction;

fn view(value: &str, error: Option<&'static str>) -> StepView {
    StepView {
        template: "birthdate",
        model: json!({ "birthdate": value, "error": error }),
    }
}

/// `19790822` → `1979-08-22`, if it is eight digits naming a real date.
fn from_eight_digits(text: &str) -> Option<String> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let dashed = format!("{}-{}-{}", &text[..4], &text[4..6], &text[6..]);
    parse_birthdate(&dashed).map(|_| dashed)
}

impl RequiredAction for BirthdateAction {
    fn name(&self) -> &'static str {
        "birthdate"
    }

    fn applies(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        // Without a birthdate on record there is nothing to compare with.
        Ok(!user.first_login_completed && user.birthdate.is_some())
    }

    fn possible(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(user.birthdate.is_some())
    }

    fn page(&self, _ctx: &StepContext<'_>, _user: &User) -> Result<StepView, FlowError> {
        Ok(view("", None))
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let typed: String = form
            .get("birthdate")
            .unwrap_or("")
            .trim()
            .chars()
            .take(16)
            .collect();
        let now = ctx.clock.now();
        let lockout = &ctx.realm.lockout;
        if ctx.store.lockout_state(&user.id)?.verdict(lockout, now) == LoginAttemptVerdict::Locked {
            return Ok(StepOutcome::Retry(view(&typed, Some("account_locked"))));
        }
        let Some(given) = from_eight_digits(&typed) else {
            return Ok(StepOutcome::Retry(view(&typed, Some("birthdate_invalid"))));
        };
        let audit = |kind: &str, detail: Option<String>| ctx.audit(user, kind, detail);
        if user.birthdate.as_deref() == Some(given.as_str()) {
            ctx.store.clear_login_failures(&user.id)?;
            return Ok(StepOutcome::Done { amr: Vec::new() });
        }
        let after = ctx
            .store
            .record_login_failure(&user.id, |state| state.after_failure(lockout, now))?;
        audit("LOGIN_ERROR", Some("wrong_birthdate".into()))?;
        if after.verdict(lockout, now) == LoginAttemptVerdict::Locked {
            audit("USER_LOCKED", Some(format!("failures={}", after.failures)))?;
        }
        Ok(StepOutcome::Retry(view("", Some("birthdate_wrong"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_digits_of_a_real_date() {
        assert_eq!(from_eight_digits("19790822").as_deref(), Some("1979-08-22"));
        for bad in [
            "1979082",
            "197908221",
            "1979-08-22",
            "19790230",
            "abcdefgh",
            "１９７９０８２２",
        ] {
            assert_eq!(from_eight_digits(bad), None, "{bad}");
        }
    }
}
