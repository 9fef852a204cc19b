//! `configure-otp` (SPEC §4.2): "ワンタイムパスワードの設定" — the member adds an authenticator
//! app: scans the QR code of a fresh key (or, after "スキャンできませんか？", types the key and
//! settings), then proves it with a code of the app and names the device.
//!
//! Pending for members who chose the OTP app and have no device yet; before any method is
//! chosen it keeps its place, since "認証方法" earlier in the same login may choose it. An admin
//! may require it (`monban user require-action … configure-otp`) to add another device.

use crate::second_factor::{
    chose, device_name_problem, method_not_chosen, typed_code, typed_device_name, well_formed,
};
use crate::sign_out::{sign_out_everywhere, sign_out_requested};
use crate::step::{Form, Problem, RequiredAction, StepContext, StepOutcome, StepView};
use crate::step_state;
use crate::totp::{qr_svg, OtpKey, KEY_BYTES};
use crate::FlowError;
use monban_core::config::{OtpAlgorithm, SecondFactorMethod};
use monban_store::{NewOtpDevice, User};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub struct ConfigureOtpAction;

/// The name the step's state is kept under.
const STATE: &str = "configure-otp";
/// The key being set up, with the realm's settings at the time it was shown: kept sealed for
/// this login until the set-up succeeds, so that a reload shows the same key and nothing
/// secret passes through the form.
#[derive(Serialize, Deserialize)]
struct Setup {
    secret: Vec<u8>,
    algorithm: String,
    digits: u32,
    period: u32,
}

impl Setup {
    fn key(&self) -> Result<OtpKey, FlowError> {
        let algorithm = OtpAlgorithm::parse(&self.algorithm).ok_or_else(|| {
            FlowError::Corrupt(format!("OTP algorithm {:?} in step state", self.algorithm))
        })?;
        Ok(OtpKey {
            secret: self.secret.clone(),
            algorithm,
            digits: self.digits,
            period: self.period,
        })
    }
}

/// The key kept for this login, or a new one (kept from now on); `true` when it is new.
fn setup(ctx: &StepContext<'_>) -> Result<(Setup, bool), FlowError> {
    if let Some(kept) = step_state::recall::<Setup>(ctx, STATE)? {
        return Ok((kept, false));
    }
    let policy = &ctx.realm.otp_app;
    let fresh = Setup {
        secret: monban_oidc::random_bytes::<KEY_BYTES>().to_vec(),
        algorithm: policy.algorithm.as_str().to_string(),
        digits: policy.digits,
        period: policy.period,
    };
    step_state::keep(ctx, STATE, &fresh)?;
    Ok((fresh, true))
}

/// "スキャンできませんか？" switches to typing the key; "バーコードをスキャンしますか？" back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Scan,
    Manual,
}

impl Mode {
    fn of(value: Option<&str>) -> Mode {
        if value == Some("manual") {
            Mode::Manual
        } else {
            Mode::Scan
        }
    }
}

/// What the member typed that goes back into the page: never the code.
struct Typed<'a> {
    device_name: &'a str,
    sign_out: bool,
}

const NOTHING_TYPED: Typed<'static> = Typed {
    device_name: "",
    sign_out: false,
};

/// The page: the QR code in scan mode, the key in groups of four in manual mode (each carries
/// the key, so only one is on the page).
fn view(
    ctx: &StepContext<'_>,
    user: &User,
    setup: &Setup,
    mode: Mode,
    typed: &Typed<'_>,
    errors: &[Problem],
) -> Result<StepView, FlowError> {
    let key = setup.key()?;
    let (qr, grouped) = match mode {
        Mode::Scan => {
            let uri = key.otpauth_uri(&ctx.realm.display_title, &user.user_id)?;
            (Some(qr_svg(&uri)?), None)
        }
        Mode::Manual => (None, Some(key.grouped_base32())),
    };
    Ok(StepView {
        template: "configure_otp",
        model: json!({
            "mode": if mode == Mode::Manual { "manual" } else { "scan" },
            "qr_svg": qr,
            "key": grouped,
            "algorithm": setup.algorithm,
            "digits": setup.digits,
            "period": setup.period,
            "device_name": typed.device_name,
            "sign_out_all": typed.sign_out,
            "errors": errors,
        }),
    })
}

impl RequiredAction for ConfigureOtpAction {
    fn name(&self) -> &'static str {
        "configure-otp"
    }

    fn applies(&self, ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(chose(user, SecondFactorMethod::OtpApp) && !ctx.store.has_otp_device(&user.id)?)
    }

    fn may_apply_later(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(method_not_chosen(user))
    }

    /// Required by an admin, it waits for a member who uses the app: a device of a member who
    /// chose another method would never be asked for.
    fn possible(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(chose(user, SecondFactorMethod::OtpApp))
    }

    fn page(&self, ctx: &StepContext<'_>, user: &User) -> Result<StepView, FlowError> {
        let (setup, _) = setup(ctx)?;
        view(ctx, user, &setup, Mode::Scan, &NOTHING_TYPED, &[])
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let device_name = typed_device_name(form, "userLabel");
        let typed = Typed {
            device_name: &device_name,
            sign_out: sign_out_requested(form),
        };
        let (setup, new) = setup(ctx)?;
        match form.get("action") {
            Some("manual") => {
                let page = view(ctx, user, &setup, Mode::Manual, &typed, &[])?;
                return Ok(StepOutcome::Retry(page));
            }
            Some("scan") => {
                let page = view(ctx, user, &setup, Mode::Scan, &typed, &[])?;
                return Ok(StepOutcome::Retry(page));
            }
            _ => {}
        }
        let mode = Mode::of(form.get("mode"));
        if new {
            // The kept key outlived the login's time (or never was): the app holds a key
            // that is no more, so the member starts over with the new one.
            let problem = [Problem::new("otp_setup_restarted")];
            let page = view(ctx, user, &setup, Mode::Scan, &typed, &problem)?;
            return Ok(StepOutcome::Retry(page));
        }

        let key = setup.key()?;
        let code = typed_code(form, "totp");
        let now = ctx.clock.now();
        let mut problems = Vec::new();
        let mut step = None;
        if code.is_empty() {
            problems.push(Problem::new("otp_setup_code_empty"));
        } else if well_formed(&code, key.digits) {
            step = key.matching_step(&code, now, ctx.realm.otp_app.look_around)?;
        }
        if !code.is_empty() && step.is_none() {
            problems.push(Problem::new("otp_setup_wrong"));
        }
        if let Some(problem) = device_name_problem(
            &device_name,
            "otp_device_name_empty",
            "otp_device_name_too_long",
        ) {
            problems.push(problem);
        } else if ctx
            .store
            .otp_devices_of(&user.id)?
            .iter()
            .any(|d| d.name == device_name)
        {
            problems.push(Problem::new("otp_device_name_taken"));
        }
        let Some(step) = step.filter(|_| problems.is_empty()) else {
            let page = view(ctx, user, &setup, mode, &typed, &problems)?;
            return Ok(StepOutcome::Retry(page));
        };

        let id = uuid::Uuid::new_v4().to_string();
        // Bound to the row: a sealed key copied to another device's row does not open.
        let sealed = ctx
            .secrets
            .seal(&format!("otp-device:{id}"), &setup.secret)?;
        let added = ctx.store.add_otp_device(
            &NewOtpDevice {
                id: &id,
                user_pk: &user.id,
                name: &device_name,
                secret: &sealed,
                algorithm: &setup.algorithm,
                digits: setup.digits as i32,
                period: setup.period as i32,
                // The code that proved the set-up cannot log in afterwards.
                used_step: step,
            },
            now,
        )?;
        if added.is_err() {
            // Another request of the member's took the name meanwhile.
            let problem = [Problem::new("otp_device_name_taken")];
            let page = view(ctx, user, &setup, mode, &typed, &problem)?;
            return Ok(StepOutcome::Retry(page));
        }
        ctx.audit(user, "UPDATE_TOTP", Some(format!("device_id={id}")))?;
        if typed.sign_out {
            sign_out_everywhere(ctx, user)?;
        }
        step_state::forget(ctx, STATE)?;
        Ok(StepOutcome::Done { amr: Vec::new() })
    }
}
