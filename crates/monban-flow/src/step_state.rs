//! What a step keeps between its pages within one login (a WebAuthn ceremony, an OTP secret
//! being set up): sealed with the at-rest key, bound to the login and the step, stored in the
//! database so that any instance can take the next request, and gone when the login ends.

use crate::step::StepContext;
use crate::FlowError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The sealed value is bound to this, so it opens only for the same login and step.
fn binding(ctx: &StepContext<'_>, step: &str) -> String {
    format!("login-step:{}:{step}", ctx.login_id)
}

/// Keeps `value` for `step` of this login, for as long as the login may stay open.
pub fn keep<T: Serialize>(ctx: &StepContext<'_>, step: &str, value: &T) -> Result<(), FlowError> {
    let json = serde_json::to_vec(value).map_err(|e| FlowError::Corrupt(e.to_string()))?;
    let sealed = ctx.secrets.seal(&binding(ctx, step), &json)?;
    let expires_at = ctx.clock.now() + ctx.realm.tokens.login_seconds;
    ctx.store
        .put_step_state(ctx.login_id, step, &sealed, expires_at)?;
    Ok(())
}

fn open<T: DeserializeOwned>(
    ctx: &StepContext<'_>,
    step: &str,
    sealed: Option<Vec<u8>>,
) -> Result<Option<T>, FlowError> {
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let json = ctx.secrets.open(&binding(ctx, step), &sealed)?;
    serde_json::from_slice(&json)
        .map(Some)
        .map_err(|e| FlowError::Corrupt(e.to_string()))
}

/// What `step` kept for this login, if anything (it stays kept).
pub fn recall<T: DeserializeOwned>(
    ctx: &StepContext<'_>,
    step: &str,
) -> Result<Option<T>, FlowError> {
    let sealed = ctx.store.step_state(ctx.login_id, step, ctx.clock.now())?;
    open(ctx, step, sealed)
}

/// What `step` kept, taken away: only one request gets it (a challenge is answered once).
// For the passkey ceremonies, which are built separately.
pub fn take<T: DeserializeOwned>(
    ctx: &StepContext<'_>,
    step: &str,
) -> Result<Option<T>, FlowError> {
    let sealed = ctx
        .store
        .take_step_state(ctx.login_id, step, ctx.clock.now())?;
    open(ctx, step, sealed)
}

pub fn forget(ctx: &StepContext<'_>, step: &str) -> Result<(), FlowError> {
    ctx.store.delete_step_state(ctx.login_id, step)?;
    Ok(())
}
