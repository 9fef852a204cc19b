//! Passkeys (SPEC §4.1, "生体認証"): enrolment (`register-passkey`) and login (`passkey`).
//!
//! Both pages run a WebAuthn ceremony in the browser: the page carries the options, a small
//! script of the theme runs `navigator.credentials` when the member presses the button and
//! posts the answer. The challenge lives only on the server (sealed step state), is answered
//! once, and a failed or cancelled ceremony shows "セキュリティーキー・エラー" with
//! "再試行してください", which runs a fresh one.
//!
//! The realm's `[passkey] user_verification` picks webauthn-rs's ceremony: `required` is its
//! passkey ceremony (the authenticator must verify the member), `preferred` its security-key
//! ceremony (verification where the authenticator can). Credentials are stored in the generic
//! form both share, so a realm can change its policy without stranding enrolled passkeys.

mod authenticate;
mod register;
mod relying_party;

pub use authenticate::PasskeyAuthenticator;
pub use register::RegisterPasskeyAction;
pub use relying_party::{relying_party, RelyingPartyProblem};

use crate::step::{StepContext, StepView};
use crate::FlowError;
use base64::Engine as _;
use serde_json::{json, Value};
use webauthn_rs::Webauthn;

/// The realm's relying party for this request.
fn webauthn(ctx: &StepContext<'_>) -> Result<Webauthn, FlowError> {
    relying_party(ctx.realm, &ctx.provider.public_url)
        .map_err(|p| FlowError::Corrupt(format!("passkey.{}: {}", p.field, p.message)))
}

/// How a credential is looked up: its id, base64url as browsers report it.
fn credential_key(id: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// A ceremony page: `options` for the browser, and whether the last attempt failed (the
/// error page of the manual, whose retry button runs the ceremony again).
fn ceremony_view(
    template: &'static str,
    options: Value,
    failed: Option<&'static str>,
    extra: Value,
) -> StepView {
    let mut model = json!({
        "options": options.to_string(),
        "failed": failed,
        "uses_script": true,
    });
    if let (Value::Object(model), Value::Object(extra)) = (&mut model, extra) {
        model.extend(extra);
    }
    StepView { template, model }
}
