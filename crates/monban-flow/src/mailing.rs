//! Mailing a member from a step: the realm's theme, sender and names in every mail, the
//! member's language, and a failure turned into the message the member sees (the step keeps
//! them where they are and offers "再送信").

use crate::step::StepContext;
use monban_mail::{MailError, MailKind, MailMessage};
use serde_json::Value;

/// Sends `kind` to `to` with the step's own template variables (`extra`, a JSON object) next
/// to `realm_title` and `realm_short_name`. On failure: the message key for the member —
/// `mail_rejected` when the address itself was refused (they may need to correct it),
/// `mail_unavailable` otherwise (try again later).
pub(crate) fn send_to_member(
    ctx: &StepContext<'_>,
    kind: MailKind,
    to: &str,
    extra: Value,
) -> Result<(), &'static str> {
    let Some(mailer) = ctx.mailer else {
        return Err("mail_unavailable");
    };
    let mut context = serde_json::json!({
        "realm_title": ctx.realm.display_title,
        "realm_short_name": ctx.realm.short_name(),
    });
    if let (Some(all), Value::Object(own)) = (context.as_object_mut(), extra) {
        all.extend(own);
    }
    let message = MailMessage {
        theme: ctx.realm.theme.clone(),
        locale: ctx.locale.to_string(),
        kind,
        from: ctx.realm.mail.from.clone(),
        to: to.to_string(),
        context,
    };
    mailer.send(&message).map_err(|error| match error {
        MailError::Rejected(_) | MailError::InvalidAddress(_) => "mail_rejected",
        _ => "mail_unavailable",
    })
}
