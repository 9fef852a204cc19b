//! `otp-mail` (SPEC §4.3): the second factor of members who chose "ワンタイムパスワード (OTP)
//! メール認証". Arriving at the page mails a 6-digit code (valid `[otp_mail] code_seconds`,
//! single-use, `max_attempts` wrong tries); "再送信" sends a new one (at most every
//! `resend_seconds`), which ends the previous. Wrong codes count toward the account lockout,
//! like wrong passwords.

use crate::mailing::send_to_member;
use crate::second_factor::{
    chose, is_locked, member_user, record_wrong_code, typed_code, well_formed, WrongCode,
};
use crate::step::{Authenticator, Form, Member, StepContext, StepOutcome, StepView};
use crate::FlowError;
use monban_core::config::SecondFactorMethod;
use monban_mail::MailKind;
use monban_oidc::random_digits;
use monban_store::{OtpMailCheck, User};
use serde_json::json;
use subtle::ConstantTimeEq;

pub struct OtpMailAuthenticator;

const CODE_DIGITS: u32 = 6;

fn view(sent: bool, message: Option<&'static str>) -> StepView {
    StepView {
        template: "otp_mail",
        model: json!({ "sent": sent, "error": message }),
    }
}

/// What is stored for a code: a keyed digest (a plain one of a 6-digit code is reversed by
/// trying them all), bound to the member, so equal codes of two members differ.
fn code_digest(ctx: &StepContext<'_>, user: &User, code: &str) -> String {
    ctx.secrets
        .keyed_digest(&format!("otp-mail-code:{}", user.id), code)
}

impl OtpMailAuthenticator {
    /// Mails a new code; on failure no code is left behind and the member's message is returned.
    fn send_code(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
    ) -> Result<Option<&'static str>, FlowError> {
        let (Some(_), Some(email)) = (ctx.mailer, user.email.as_deref()) else {
            return Ok(Some("mail_unavailable"));
        };
        let policy = &ctx.realm.otp_mail;
        let now = ctx.clock.now();
        let code = random_digits(CODE_DIGITS);
        ctx.store.replace_otp_mail_code(
            &user.id,
            &code_digest(ctx, user, &code),
            now,
            now + policy.code_seconds,
        )?;
        let extra = json!({ "code": code, "minutes": (policy.code_seconds + 59) / 60 });
        match send_to_member(ctx, MailKind::OtpCode, email, extra) {
            Ok(()) => Ok(None),
            Err(problem) => {
                ctx.store.delete_otp_mail_code(&user.id)?;
                Ok(Some(problem))
            }
        }
    }

    /// The page; a code is mailed first unless a usable one was sent already (a reload must
    /// not flood the member's inbox).
    fn show(&self, ctx: &StepContext<'_>, user: &User) -> Result<StepView, FlowError> {
        let policy = &ctx.realm.otp_mail;
        let live = ctx
            .store
            .live_otp_mail_code(&user.id, policy.max_attempts, ctx.clock.now())?;
        if live.is_some() {
            return Ok(view(true, None));
        }
        Ok(match self.send_code(ctx, user)? {
            None => view(true, None),
            Some(problem) => view(false, Some(problem)),
        })
    }

    fn resend(&self, ctx: &StepContext<'_>, user: &User) -> Result<StepView, FlowError> {
        let policy = &ctx.realm.otp_mail;
        let now = ctx.clock.now();
        let live = ctx
            .store
            .live_otp_mail_code(&user.id, policy.max_attempts, now)?;
        if live.is_some_and(|sent| now - sent < policy.resend_seconds) {
            return Ok(view(true, Some("otp_mail_resend_wait")));
        }
        Ok(match self.send_code(ctx, user)? {
            None => view(true, Some("otp_mail_resent")),
            Some(problem) => view(false, Some(problem)),
        })
    }
}

impl Authenticator for OtpMailAuthenticator {
    fn name(&self) -> &'static str {
        "otp-mail"
    }

    fn applies(&self, ctx: &StepContext<'_>, member: Option<&Member>) -> Result<bool, FlowError> {
        if member.is_none() {
            return Ok(false);
        }
        let user = member_user(ctx, member)?;
        // Without an address the member cannot pass, and is not let through either: the page
        // says the mail cannot be sent (their society must set an address).
        Ok(chose(&user, SecondFactorMethod::OtpMail))
    }

    fn page(
        &self,
        ctx: &StepContext<'_>,
        member: Option<&Member>,
        _login_hint: Option<&str>,
    ) -> Result<StepView, FlowError> {
        self.show(ctx, &member_user(ctx, member)?)
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        member: Option<&Member>,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let user = member_user(ctx, member)?;
        if form.get("action") == Some("resend") {
            return Ok(StepOutcome::Retry(self.resend(ctx, &user)?));
        }
        if is_locked(ctx, &user)? {
            return Ok(StepOutcome::Retry(view(true, Some("account_locked"))));
        }
        let typed = typed_code(form, "otp");
        if !well_formed(&typed, CODE_DIGITS) {
            return Ok(StepOutcome::Retry(view(true, Some("otp_invalid"))));
        }
        let given = code_digest(ctx, &user, &typed);
        let checked = ctx.store.check_otp_mail_code(
            &user.id,
            ctx.realm.otp_mail.max_attempts,
            ctx.clock.now(),
            |stored| bool::from(stored.as_bytes().ct_eq(given.as_bytes())),
        )?;
        if checked == OtpMailCheck::Accepted {
            ctx.store.clear_login_failures(&user.id)?;
            return Ok(StepOutcome::Done {
                amr: vec!["otp".into(), "mfa".into()],
            });
        }
        if record_wrong_code(ctx, &user, "wrong_otp_mail_code")? == WrongCode::Locked {
            return Ok(StepOutcome::Retry(view(true, Some("account_locked"))));
        }
        Ok(StepOutcome::Retry(view(
            true,
            Some(match checked {
                OtpMailCheck::Wrong => "otp_wrong",
                _ => "otp_mail_expired",
            }),
        )))
    }
}
