//! `verify-email` (SPEC §3.4): a mail with a "メールアドレスの確認" link (single-use, expiring)
//! goes to the member's address when the page is first shown. The member opens it, on any
//! device; back in the original tab a refresh finds the address verified and the login goes
//! on (the engine passes over a step that no longer applies).
//!
//! A mail that cannot be sent leaves no link behind and keeps the member on this page, told
//! why, with "再送信" and a way back to correct the address.

use crate::mailing::send_to_member;
use crate::step::{Form, RequiredAction, StepContext, StepOutcome, StepView};
use crate::FlowError;
use monban_mail::MailKind;
use monban_oidc::random_token;
use monban_store::sealed::digest;
use monban_store::User;
use serde_json::json;

pub struct VerifyEmailAction;

/// A second mail within this many seconds of the last is not sent (a double click, a
/// member hammering "再送信").
const RESEND_COOL_DOWN_SECONDS: i64 = 30;

/// The path of the link, under the realm's issuer URL.
pub const VERIFY_EMAIL_PATH: &str = "/login-actions/verify-email";

fn view(email: &str, sent: bool, message: Option<&'static str>) -> StepView {
    StepView {
        template: "verify_email",
        model: json!({ "email": email, "sent": sent, "error": message }),
    }
}

fn address(user: &User) -> Result<&str, FlowError> {
    user.email
        .as_deref()
        .ok_or_else(|| FlowError::Corrupt("verify-email without an address".into()))
}

impl VerifyEmailAction {
    /// Creates a link and mails it. On failure the link is forgotten and the message key
    /// for the member is returned.
    fn send_link(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
    ) -> Result<Option<&'static str>, FlowError> {
        let email = address(user)?;
        if ctx.mailer.is_none() {
            return Ok(Some("mail_unavailable"));
        }
        let now = ctx.clock.now();
        let seconds = ctx.realm.mail.verify_email_link_seconds;
        let key = random_token();
        let key_digest = digest(&key);
        ctx.store
            .insert_email_verification(&key_digest, &user.id, email, now, now + seconds)?;
        let link = format!(
            "{}{VERIFY_EMAIL_PATH}?key={key}",
            ctx.provider.issuer(&ctx.realm.name)
        );
        let extra = json!({ "link": link, "minutes": (seconds + 59) / 60 });
        match send_to_member(ctx, MailKind::VerifyEmail, email, extra) {
            Ok(()) => Ok(None),
            Err(problem) => {
                ctx.store.delete_email_verification(&key_digest)?;
                Ok(Some(problem))
            }
        }
    }

    /// The page, mailing a link first unless a recent one is still usable.
    fn show(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        resend: bool,
    ) -> Result<StepView, FlowError> {
        let email = address(user)?;
        let now = ctx.clock.now();
        let last = ctx.store.live_email_verification(&user.id, email, now)?;
        let recent = last.is_some_and(|at| now - at < RESEND_COOL_DOWN_SECONDS);
        if last.is_some() && (!resend || recent) {
            return Ok(view(email, true, None));
        }
        match self.send_link(ctx, user)? {
            None => Ok(view(email, true, None)),
            Some(problem) => Ok(view(email, false, Some(problem))),
        }
    }
}

impl RequiredAction for VerifyEmailAction {
    fn name(&self) -> &'static str {
        "verify-email"
    }

    fn applies(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(user.email.is_some() && !user.email_verified)
    }

    fn possible(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(user.email.is_some())
    }

    fn page(&self, ctx: &StepContext<'_>, user: &User) -> Result<StepView, FlowError> {
        self.show(ctx, user, false)
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        if user.email_verified {
            return Ok(StepOutcome::Done { amr: Vec::new() });
        }
        match form.get("action") {
            Some("resend") => Ok(StepOutcome::Retry(self.show(ctx, user, true)?)),
            Some("change-email") => Ok(StepOutcome::Detour("update-email")),
            _ => {
                let mut page = self.show(ctx, user, false)?;
                if let Some(fields) = page.model.as_object_mut() {
                    if fields["error"].is_null() {
                        fields.insert("error".into(), json!("email_not_verified_yet"));
                    }
                }
                Ok(StepOutcome::Retry(page))
            }
        }
    }
}
