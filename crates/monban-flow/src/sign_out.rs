//! "全てのデバイスからサインアウトする": the checkbox on the pages that change a credential or
//! the address. Ticked, the member's other sessions end (their clients hear of it by
//! back-channel logout) and their offline tokens stop working.

use crate::step::{Form, StepContext};
use crate::FlowError;
use monban_store::User;

/// The checkbox's field name.
pub const SIGN_OUT_ALL_FIELD: &str = "logout-sessions";

/// Whether the member ticked the checkbox.
pub fn sign_out_requested(form: &Form<'_>) -> bool {
    matches!(form.get(SIGN_OUT_ALL_FIELD), Some("on" | "true"))
}

/// Ends every session of the member. The login in progress has no session yet, so it goes on.
pub fn sign_out_everywhere(ctx: &StepContext<'_>, user: &User) -> Result<(), FlowError> {
    ctx.provider
        .log_out_everywhere(ctx.realm, &user.id, ctx.ip)?;
    ctx.audit(user, "LOGOUT_ALL_SESSIONS", None)?;
    Ok(())
}
