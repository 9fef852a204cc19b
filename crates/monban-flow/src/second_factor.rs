//! What the second-factor steps share: which step asks for a method, which one enrols it,
//! whether a member chose it (SPEC §3.5, §4), and what a wrong code costs (the lockout). The
//! authenticator of a method is named like the method (`passkey`, `otp-app`, `otp-mail`).

use crate::step::{Form, Member, Problem, StepContext};
use crate::FlowError;
use monban_core::config::SecondFactorMethod;
use monban_core::policy::LoginAttemptVerdict;
use monban_store::User;

/// The required action that enrols `method`, for methods a member enrols (a mail address is
/// set up by the email steps instead).
pub fn enrolment_action(method: SecondFactorMethod) -> Option<&'static str> {
    match method {
        SecondFactorMethod::Passkey => Some("register-passkey"),
        SecondFactorMethod::OtpApp => Some("configure-otp"),
        SecondFactorMethod::OtpMail => None,
    }
}

/// Whether the member chose `method` in "認証方法".
pub fn chose(user: &User, method: SecondFactorMethod) -> bool {
    user.second_factor_method.as_deref() == Some(method.as_str())
}

/// Whether a second-factor step asks `member` anything: they chose `method`, and `enrolled`
/// says they have what proves it (a member who has nothing yet enrols it instead).
pub fn asks(
    ctx: &StepContext<'_>,
    member: Option<&Member>,
    method: SecondFactorMethod,
    enrolled: impl FnOnce(&User) -> Result<bool, FlowError>,
) -> Result<bool, FlowError> {
    if member.is_none() {
        return Ok(false);
    }
    let user = member_user(ctx, member)?;
    Ok(chose(&user, method) && enrolled(&user)?)
}

/// Whether an enrolment may still come to apply in this login: the member has not chosen a
/// method yet (the `user-id-and-method` step may come before it).
pub fn method_not_chosen(user: &User) -> bool {
    user.second_factor_method.is_none()
}

/// The member an earlier step identified, freshly read.
pub fn member_user(ctx: &StepContext<'_>, member: Option<&Member>) -> Result<User, FlowError> {
    let member =
        member.ok_or_else(|| FlowError::Corrupt("a second factor before the password".into()))?;
    ctx.store
        .find_user(&member.user_pk)?
        .ok_or_else(|| FlowError::Corrupt("the member of this login is gone".into()))
}

/// The longest name a member may give a passkey or an OTP device: a name is for telling
/// devices apart in a list.
pub const DEVICE_NAME_LIMIT: usize = 64;

/// The name typed in `field` for a passkey or an OTP device, trimmed; bounded (one character
/// over the limit is kept, so that the limit's message can be shown).
pub fn typed_device_name(form: &Form<'_>, field: &str) -> String {
    form.get(field)
        .unwrap_or("")
        .trim()
        .chars()
        .take(DEVICE_NAME_LIMIT + 1)
        .collect()
}

/// What is wrong with a device name by itself (the step checks it is not taken): `missing`
/// and `too_long` are the step's message keys.
pub fn device_name_problem(
    name: &str,
    missing: &'static str,
    too_long: &'static str,
) -> Option<Problem> {
    if name.is_empty() {
        Some(Problem::new(missing))
    } else if name.chars().count() > DEVICE_NAME_LIMIT {
        Some(Problem::with(too_long, DEVICE_NAME_LIMIT))
    } else {
        None
    }
}

/// The code typed in `field`, without the spaces a member may paste with it; bounded, so that
/// nothing long is ever hashed or compared.
pub fn typed_code(form: &Form<'_>, field: &str) -> String {
    form.get(field)
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(16)
        .collect()
}

/// Whether `code` has the form of a code of `digits` digits (a malformed one is a typing
/// mistake: it is not checked and does not count toward the lockout).
pub fn well_formed(code: &str, digits: u32) -> bool {
    code.len() == digits as usize && code.bytes().all(|b| b.is_ascii_digit())
}

/// Whether the member is locked out now (too many wrong passwords or codes): a second-factor
/// page then checks no code at all.
pub fn is_locked(ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
    let state = ctx.store.lockout_state(&user.id)?;
    Ok(state.verdict(&ctx.realm.lockout, ctx.clock.now()) == LoginAttemptVerdict::Locked)
}

/// What a wrong code led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrongCode {
    /// Counted; the member may try again.
    Counted,
    /// This one locked the account.
    Locked,
}

/// A wrong second-factor code counts toward the account lockout exactly like a wrong password
/// (a guessed 6-digit code is as dangerous as a guessed password), and is audited as
/// `LOGIN_ERROR` with `detail` (e.g. `wrong_otp_app_code`); the failure that locks the account
/// is audited as `USER_LOCKED` too.
pub fn record_wrong_code(
    ctx: &StepContext<'_>,
    user: &User,
    detail: &str,
) -> Result<WrongCode, FlowError> {
    let now = ctx.clock.now();
    let lockout = &ctx.realm.lockout;
    let after = ctx
        .store
        .record_login_failure(&user.id, |state| state.after_failure(lockout, now))?;
    let audit = |kind: &str, detail: String| ctx.audit(user, kind, Some(detail));
    audit("LOGIN_ERROR", detail.to_string())?;
    if after.verdict(lockout, now) == LoginAttemptVerdict::Locked {
        audit("USER_LOCKED", format!("failures={}", after.failures))?;
        return Ok(WrongCode::Locked);
    }
    Ok(WrongCode::Counted)
}
