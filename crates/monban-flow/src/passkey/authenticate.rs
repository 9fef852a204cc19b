//! `passkey`: "パスキーでログイン" after the password, for a member who chose 生体認証 and has a
//! passkey. The browser may use any of the member's passkeys; the sign counter and (per the
//! realm) user verification are checked by webauthn-rs, and the updated counter is stored only
//! if no other login used the passkey meanwhile.

use super::{ceremony_view, credential_key, webauthn};
use crate::second_factor::{asks, is_locked, member_user};
use crate::step::{Authenticator, Form, Member, StepContext, StepOutcome, StepView};
use crate::{step_state, FlowError};
use monban_core::config::{SecondFactorMethod, UserVerification};
use monban_store::{StoredPasskey, User};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    AuthenticationResult, Credential, Passkey, PasskeyAuthentication, PublicKeyCredential,
    SecurityKey, SecurityKeyAuthentication,
};

pub struct PasskeyAuthenticator;

const STEP: &str = "passkey";
const FAILED: Option<&str> = Some("passkey_login_failed");

/// A ceremony of the realm's user-verification policy, kept server-side for this login.
#[derive(Serialize, Deserialize)]
enum Ceremony {
    Passkey(PasskeyAuthentication),
    SecurityKey(SecurityKeyAuthentication),
}

fn stored_credential(passkey: &StoredPasskey) -> Result<Credential, FlowError> {
    serde_json::from_str(&passkey.credential)
        .map_err(|e| FlowError::Corrupt(format!("stored passkey: {e}")))
}

/// Starts a ceremony over the member's passkeys and shows its page.
fn start(
    ctx: &StepContext<'_>,
    user: &User,
    failed: Option<&'static str>,
) -> Result<StepView, FlowError> {
    let webauthn = webauthn(ctx)?;
    let mut credentials = Vec::new();
    for passkey in ctx.store.passkeys_of(&user.id)? {
        credentials.push(stored_credential(&passkey)?);
    }
    let started = match ctx.realm.passkey.user_verification {
        UserVerification::Required => {
            let passkeys: Vec<Passkey> = credentials.into_iter().map(Passkey::from).collect();
            webauthn
                .start_passkey_authentication(&passkeys)
                .map(|(options, state)| (options, Ceremony::Passkey(state)))
        }
        UserVerification::Preferred => {
            let keys: Vec<SecurityKey> = credentials.into_iter().map(SecurityKey::from).collect();
            webauthn
                .start_securitykey_authentication(&keys)
                .map(|(options, state)| (options, Ceremony::SecurityKey(state)))
        }
    };
    let (options, ceremony) =
        started.map_err(|e| FlowError::Corrupt(format!("starting a passkey ceremony: {e}")))?;
    step_state::keep(ctx, STEP, &ceremony)?;
    let options = serde_json::to_value(&options).map_err(|e| FlowError::Corrupt(e.to_string()))?;
    Ok(ceremony_view(
        "passkey",
        options,
        failed,
        serde_json::json!({}),
    ))
}

/// Verifies the browser's answer against the ceremony; `None` when it does not prove the member.
fn finish(
    ctx: &StepContext<'_>,
    ceremony: &Ceremony,
    answer: &str,
) -> Result<Option<AuthenticationResult>, FlowError> {
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(answer) else {
        return Ok(None);
    };
    let webauthn = webauthn(ctx)?;
    let verified = match ceremony {
        Ceremony::Passkey(state) => webauthn.finish_passkey_authentication(&answer, state),
        Ceremony::SecurityKey(state) => webauthn.finish_securitykey_authentication(&answer, state),
    };
    match verified {
        Ok(result) => Ok(Some(result)),
        Err(error) => {
            tracing::info!(%error, "a passkey assertion was refused");
            Ok(None)
        }
    }
}

/// Stores the passkey's new sign counter; false when another login used it meanwhile.
fn record_use(
    ctx: &StepContext<'_>,
    user: &User,
    result: &AuthenticationResult,
) -> Result<bool, FlowError> {
    let key = credential_key(result.cred_id());
    let Some(stored) = ctx
        .store
        .passkeys_of(&user.id)?
        .into_iter()
        .find(|p| p.credential_id == key)
    else {
        return Ok(false);
    };
    let mut passkey = Passkey::from(stored_credential(&stored)?);
    passkey.update_credential(result);
    let updated = serde_json::to_string(&Credential::from(passkey))
        .map_err(|e| FlowError::Corrupt(e.to_string()))?;
    Ok(ctx
        .store
        .record_passkey_use(&stored.id, &stored.credential, &updated, ctx.clock.now())?)
}

impl PasskeyAuthenticator {
    fn authenticate(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        if is_locked(ctx, user)? {
            return Ok(StepOutcome::Retry(start(
                ctx,
                user,
                Some("account_locked"),
            )?));
        }
        let Some(ceremony) = step_state::take::<Ceremony>(ctx, STEP)? else {
            return Ok(StepOutcome::Retry(start(ctx, user, FAILED)?));
        };
        let answer = form.get("credential").unwrap_or("");
        let Some(result) = finish(ctx, &ceremony, answer)? else {
            return Ok(StepOutcome::Retry(start(ctx, user, FAILED)?));
        };
        if !record_use(ctx, user, &result)? {
            return Ok(StepOutcome::Retry(start(ctx, user, FAILED)?));
        }
        ctx.store.clear_login_failures(&user.id)?;
        // RFC 8176: a synced passkey is a software-secured key, a device-bound one hardware.
        let key = if result.backup_eligible() {
            "swk"
        } else {
            "hwk"
        };
        let mut amr = vec![key.to_string()];
        if result.user_verified() {
            amr.push("user".into());
        }
        amr.push("mfa".into());
        Ok(StepOutcome::Done { amr })
    }
}

impl Authenticator for PasskeyAuthenticator {
    fn name(&self) -> &'static str {
        SecondFactorMethod::Passkey.as_str()
    }

    fn applies(&self, ctx: &StepContext<'_>, member: Option<&Member>) -> Result<bool, FlowError> {
        // A member who chose passkeys but has none enrols one instead (`register-passkey`).
        asks(ctx, member, SecondFactorMethod::Passkey, |user| {
            Ok(ctx.store.has_passkey(&user.id)?)
        })
    }

    fn page(
        &self,
        ctx: &StepContext<'_>,
        member: Option<&Member>,
        _login_hint: Option<&str>,
    ) -> Result<StepView, FlowError> {
        start(ctx, &member_user(ctx, member)?, None)
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        member: Option<&Member>,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let user = member_user(ctx, member)?;
        match form.get("action") {
            Some("authenticate") => self.authenticate(ctx, &user, form),
            // The browser reported a cancelled or failed ceremony.
            Some("failed") => Ok(StepOutcome::Retry(start(ctx, &user, FAILED)?)),
            _ => Ok(StepOutcome::Retry(start(ctx, &user, None)?)),
        }
    }
}
