//! `register-passkey`: "セキュリティの設定" → the browser creates a passkey → the member names
//! it ("パスキー" unless they choose otherwise; a name they already use is refused). Asked of a
//! member who chose 生体認証 and has no passkey yet.

use super::{ceremony_view, credential_key, webauthn};
use crate::second_factor::{
    chose, device_name_problem, enrolment_action, method_not_chosen, typed_device_name,
    DEVICE_NAME_LIMIT,
};
use crate::sign_out::{sign_out_everywhere, sign_out_requested};
use crate::step::{Form, Problem, RequiredAction, StepContext, StepOutcome, StepView};
use crate::{step_state, FlowError};
use monban_core::config::{SecondFactorMethod, UserVerification};
use monban_store::sealed::digest;
use monban_store::{PasskeyRefused, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use webauthn_rs::prelude::{
    Credential, PasskeyRegistration, RegisterPublicKeyCredential, SecurityKeyRegistration, Uuid,
};

pub struct RegisterPasskeyAction;

const STEP: &str = "register-passkey";
/// The default name (SPEC §4.1).
const DEFAULT_NAME: &str = "パスキー";

/// A ceremony of the realm's user-verification policy.
#[derive(Serialize, Deserialize)]
enum Ceremony {
    Passkey(PasskeyRegistration),
    SecurityKey(SecurityKeyRegistration),
}

/// Where the enrolment stands, kept server-side for this login.
#[derive(Serialize, Deserialize)]
enum Enrolment {
    /// Waiting for the browser's answer to this ceremony.
    Ceremony(Ceremony),
    /// The passkey is made and verified; it is saved once named.
    Naming {
        credential: Credential,
        sign_out: bool,
    },
}

/// A stable WebAuthn user handle for the member (their internal id, not the user ID they may
/// change).
fn user_handle(user: &User) -> Uuid {
    Uuid::parse_str(&user.id)
        .or_else(|_| Uuid::parse_str(&digest(&user.id)[..32]))
        .unwrap_or_default()
}

/// Starts a ceremony (replacing any earlier one of this login) and shows its page.
fn start(
    ctx: &StepContext<'_>,
    user: &User,
    failed: Option<&'static str>,
    sign_out: bool,
) -> Result<StepView, FlowError> {
    let webauthn = webauthn(ctx)?;
    let mut existing = Vec::new();
    for passkey in ctx.store.passkeys_of(&user.id)? {
        let credential: Credential = serde_json::from_str(&passkey.credential)
            .map_err(|e| FlowError::Corrupt(format!("stored passkey: {e}")))?;
        existing.push(credential.cred_id.clone());
    }
    let exclude = (!existing.is_empty()).then_some(existing);
    let handle = user_handle(user);
    let name = &user.user_id;
    let display = &user.display_name;
    let started = match ctx.realm.passkey.user_verification {
        UserVerification::Required => webauthn
            .start_passkey_registration(handle, name, display, exclude)
            .map(|(options, state)| (options, Ceremony::Passkey(state))),
        UserVerification::Preferred => webauthn
            .start_securitykey_registration(handle, name, display, exclude, None, None)
            .map(|(options, state)| (options, Ceremony::SecurityKey(state))),
    };
    let (options, ceremony) =
        started.map_err(|e| FlowError::Corrupt(format!("starting a passkey ceremony: {e}")))?;
    step_state::keep(ctx, STEP, &Enrolment::Ceremony(ceremony))?;
    let options = serde_json::to_value(&options).map_err(|e| FlowError::Corrupt(e.to_string()))?;
    Ok(ceremony_view(
        "register_passkey",
        options,
        failed,
        json!({ "naming": false, "sign_out_all": sign_out }),
    ))
}

fn naming_view(name: &str, errors: &[Problem]) -> StepView {
    StepView {
        template: "register_passkey",
        model: json!({ "naming": true, "name": name, "errors": errors, "uses_script": false }),
    }
}

/// Verifies the browser's answer; `None` when it is not a valid new passkey for this member.
fn finish(
    ctx: &StepContext<'_>,
    ceremony: &Ceremony,
    answer: &str,
) -> Result<Option<Credential>, FlowError> {
    let Ok(answer) = serde_json::from_str::<RegisterPublicKeyCredential>(answer) else {
        return Ok(None);
    };
    let webauthn = webauthn(ctx)?;
    let made = match ceremony {
        Ceremony::Passkey(state) => webauthn
            .finish_passkey_registration(&answer, state)
            .map(Credential::from),
        Ceremony::SecurityKey(state) => webauthn
            .finish_securitykey_registration(&answer, state)
            .map(Credential::from),
    };
    match made {
        Ok(credential) => Ok(Some(credential)),
        Err(error) => {
            tracing::info!(%error, "a passkey registration was refused");
            Ok(None)
        }
    }
}

impl RegisterPasskeyAction {
    fn register(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let sign_out = sign_out_requested(form);
        const INVALID: Option<&str> = Some("passkey_register_failed");
        let Some(Enrolment::Ceremony(ceremony)) = step_state::take::<Enrolment>(ctx, STEP)? else {
            // Answered already, or the login's time ran out: a fresh ceremony.
            return Ok(StepOutcome::Retry(start(ctx, user, INVALID, sign_out)?));
        };
        let answer = form.get("credential").unwrap_or("");
        let Some(credential) = finish(ctx, &ceremony, answer)? else {
            return Ok(StepOutcome::Retry(start(ctx, user, INVALID, sign_out)?));
        };
        if ctx
            .store
            .passkey_credential_registered(&credential_key(&credential.cred_id))?
        {
            return Ok(StepOutcome::Retry(start(ctx, user, INVALID, sign_out)?));
        }
        step_state::keep(
            ctx,
            STEP,
            &Enrolment::Naming {
                credential,
                sign_out,
            },
        )?;
        Ok(StepOutcome::Retry(naming_view(DEFAULT_NAME, &[])))
    }

    fn name(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let Some(Enrolment::Naming {
            credential,
            sign_out,
        }) = step_state::recall::<Enrolment>(ctx, STEP)?
        else {
            return Ok(StepOutcome::Retry(start(ctx, user, None, false)?));
        };
        let typed = typed_device_name(form, "name");
        if let Some(problem) =
            device_name_problem(&typed, "passkey_name_missing", "passkey_name_too_long")
        {
            let shown: String = typed.chars().take(DEVICE_NAME_LIMIT).collect();
            return Ok(StepOutcome::Retry(naming_view(&shown, &[problem])));
        }
        let name = typed.as_str();
        let stored =
            serde_json::to_string(&credential).map_err(|e| FlowError::Corrupt(e.to_string()))?;
        let now = ctx.clock.now();
        let added = ctx.store.add_passkey(
            &user.id,
            name,
            &credential_key(&credential.cred_id),
            &stored,
            now,
        )?;
        match added {
            Err(PasskeyRefused::NameTaken) => {
                return Ok(StepOutcome::Retry(naming_view(
                    name,
                    &[Problem::new("passkey_name_taken")],
                )))
            }
            Err(PasskeyRefused::CredentialTaken) => {
                step_state::forget(ctx, STEP)?;
                return Ok(StepOutcome::Retry(start(
                    ctx,
                    user,
                    Some("passkey_register_failed"),
                    sign_out,
                )?));
            }
            Ok(_) => {}
        }
        step_state::forget(ctx, STEP)?;
        ctx.audit(user, "REGISTER_PASSKEY", None)?;
        if sign_out {
            sign_out_everywhere(ctx, user)?;
        }
        Ok(StepOutcome::Done { amr: Vec::new() })
    }
}

impl RequiredAction for RegisterPasskeyAction {
    fn name(&self) -> &'static str {
        enrolment_action(SecondFactorMethod::Passkey).unwrap_or(STEP)
    }

    fn applies(&self, ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(chose(user, SecondFactorMethod::Passkey) && !ctx.store.has_passkey(&user.id)?)
    }

    fn may_apply_later(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(method_not_chosen(user))
    }

    fn page(&self, ctx: &StepContext<'_>, user: &User) -> Result<StepView, FlowError> {
        // A reload while naming keeps the passkey just made.
        if let Some(Enrolment::Naming { .. }) = step_state::recall::<Enrolment>(ctx, STEP)? {
            return Ok(naming_view(DEFAULT_NAME, &[]));
        }
        start(ctx, user, None, false)
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        match form.get("action") {
            Some("register") => self.register(ctx, user, form),
            Some("name") => self.name(ctx, user, form),
            // The browser reported a cancelled or failed ceremony.
            Some("failed") => Ok(StepOutcome::Retry(start(
                ctx,
                user,
                Some("passkey_register_failed"),
                sign_out_requested(form),
            )?)),
            _ => Ok(StepOutcome::Retry(self.page(ctx, user)?)),
        }
    }
}
