//! `otp-app` (SPEC §4.2): the second factor of members who chose "ワンタイムパスワード (OTP)
//! アプリ認証" — "ワンタイムパスワードの入力", a code of their authenticator app (chosen by
//! device name when they have several). Codes a little early or late are accepted
//! (`[otp_app] look_around`); a code, once accepted, never is again (each device remembers the
//! time step of its last accepted code). Wrong codes count toward the account lockout, like
//! wrong passwords.

use crate::second_factor::{
    asks, is_locked, member_user, record_wrong_code, typed_code, well_formed, WrongCode,
};
use crate::step::{Authenticator, Form, Member, StepContext, StepOutcome, StepView};
use crate::totp::OtpKey;
use crate::FlowError;
use monban_core::config::{OtpAlgorithm, SecondFactorMethod};
use monban_store::StoredOtpDevice;
use serde_json::json;

pub struct OtpAppAuthenticator;

/// The page. `selected` is the device whose code is asked for (the first by default);
/// `message` an error, with its argument.
fn view(
    devices: &[StoredOtpDevice],
    selected: Option<&str>,
    message: Option<(&'static str, String)>,
) -> StepView {
    let selected = selected
        .filter(|id| devices.iter().any(|d| d.id == *id))
        .or(devices.first().map(|d| d.id.as_str()));
    let listed: Vec<_> = devices
        .iter()
        .map(|d| json!({ "id": d.id, "name": d.name, "selected": Some(d.id.as_str()) == selected }))
        .collect();
    let digits = devices.iter().map(|d| d.digits).max().unwrap_or(6);
    let (error, error_arg) = match message {
        Some((key, arg)) => (Some(key), arg),
        None => (None, String::new()),
    };
    StepView {
        template: "otp_app",
        model: json!({
            "choose_device": devices.len() > 1,
            "devices": listed,
            "digits": digits,
            "error": error,
            "error_arg": error_arg,
        }),
    }
}

/// The key and settings of `device`, its key opened with the at-rest key.
fn key_of(ctx: &StepContext<'_>, device: &StoredOtpDevice) -> Result<OtpKey, FlowError> {
    let secret = ctx
        .secrets
        .open(&format!("otp-device:{}", device.id), &device.secret)?;
    let algorithm = OtpAlgorithm::parse(&device.algorithm).ok_or_else(|| {
        FlowError::Corrupt(format!("OTP device algorithm {:?}", device.algorithm))
    })?;
    let number = |value: i32, what: &str| {
        u32::try_from(value).map_err(|_| FlowError::Corrupt(format!("OTP device {what} {value}")))
    };
    Ok(OtpKey {
        secret,
        algorithm,
        digits: number(device.digits, "digits")?,
        period: number(device.period, "period")?,
    })
}

impl Authenticator for OtpAppAuthenticator {
    fn name(&self) -> &'static str {
        "otp-app"
    }

    /// A member who chose the app but has no device yet enrols one (`configure-otp`) instead.
    fn applies(&self, ctx: &StepContext<'_>, member: Option<&Member>) -> Result<bool, FlowError> {
        asks(ctx, member, SecondFactorMethod::OtpApp, |user| {
            Ok(ctx.store.has_otp_device(&user.id)?)
        })
    }

    fn page(
        &self,
        ctx: &StepContext<'_>,
        member: Option<&Member>,
        _login_hint: Option<&str>,
    ) -> Result<StepView, FlowError> {
        let user = member_user(ctx, member)?;
        Ok(view(&ctx.store.otp_devices_of(&user.id)?, None, None))
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        member: Option<&Member>,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let user = member_user(ctx, member)?;
        let devices = ctx.store.otp_devices_of(&user.id)?;
        let chosen = form.get("device").filter(|id| !id.is_empty());
        let retry = |message: &'static str, arg: String| {
            Ok(StepOutcome::Retry(view(
                &devices,
                chosen,
                Some((message, arg)),
            )))
        };
        if is_locked(ctx, &user)? {
            return retry("account_locked", String::new());
        }
        // Without a choice (a single device: no selector), the first device; a device that is
        // not the member's cannot come from the page, and is a wrong answer like any other.
        let device = match chosen {
            None => devices.first(),
            Some(id) => devices.iter().find(|d| d.id == id),
        };
        let typed = typed_code(form, "otp");
        let mut accepted = false;
        if let Some(device) = device {
            let key = key_of(ctx, device)?;
            if !well_formed(&typed, key.digits) {
                return retry("otp_app_invalid", key.digits.to_string());
            }
            let now = ctx.clock.now();
            if let Some(step) = key.matching_step(&typed, now, ctx.realm.otp_app.look_around)? {
                // Refused when this step's code (or a later one's) was accepted before: a
                // code seen over a shoulder or replayed by malware is worth nothing.
                accepted = ctx.store.spend_otp_step(&device.id, step)?;
            }
        }
        if accepted {
            ctx.store.clear_login_failures(&user.id)?;
            return Ok(StepOutcome::Done {
                amr: vec!["otp".into(), "mfa".into()],
            });
        }
        if record_wrong_code(ctx, &user, "wrong_otp_app_code")? == WrongCode::Locked {
            return retry("account_locked", String::new());
        }
        retry("otp_wrong", String::new())
    }
}
