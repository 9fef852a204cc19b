//! Whether every realm's flows can run: each step it names exists and has what it needs (a way
//! to send mail, a relying party for passkeys), and each second factor it offers can be both
//! enrolled and asked for. Run at start and by `monban check-config`.

use crate::settings::Settings;
use monban_core::config::{RealmConfig, SecondFactorMethod};
use monban_flow::{enrolment_action, relying_party, Steps};

/// Steps that send mail cannot run without a way to send it.
const MAILING_STEPS: [&str; 2] = ["verify-email", "otp-mail"];

/// Every problem of every realm, one `file: field: message` line each.
pub fn check_flows(settings: &Settings, steps: &Steps) -> anyhow::Result<()> {
    let can_mail = settings.server.smtp.is_some() || settings.server.mail_drop_dir.is_some();
    let mut problems = Vec::new();
    for realm in settings.realms.values() {
        let file = settings
            .config_dir
            .join("realms")
            .join(format!("{}.toml", realm.name));
        let mut report = |field: String, message: String| {
            problems.push(format!("{}: {field}: {message}", file.display()));
        };
        for (index, name) in realm.flows.browser.iter().enumerate() {
            let field = format!("flows.browser[{index}]");
            if steps.authenticator(name).is_none() {
                let known = steps.authenticator_names().join(", ");
                report(
                    field,
                    format!("no authenticator \"{name}\" (known: {known})"),
                );
            } else if MAILING_STEPS.contains(&name.as_str()) && !can_mail {
                report(field, format!("\"{name}\" sends mail, but monban.toml has neither [smtp] nor mail_drop_dir"));
            } else if index == 0 && SecondFactorMethod::parse(name).is_some() {
                // A second factor needs someone to be second for.
                report(field, format!("\"{name}\" must come after a step that identifies the member, e.g. \"password\""));
            }
        }
        for (index, name) in realm.flows.first_login.iter().enumerate() {
            let field = format!("flows.first_login[{index}]");
            if steps.action(name).is_none() {
                let known = steps.action_names().join(", ");
                report(
                    field,
                    format!("no required action \"{name}\" (known: {known})"),
                );
            } else if MAILING_STEPS.contains(&name.as_str()) && !can_mail {
                report(field, format!("\"{name}\" sends mail, but monban.toml has neither [smtp] nor mail_drop_dir"));
            }
        }
        for (field, message) in second_factor_problems(realm) {
            report(field, message);
        }
        let uses_passkeys = realm.flows.browser.iter().any(|s| s == "passkey")
            || realm
                .flows
                .first_login
                .iter()
                .any(|s| s == "register-passkey");
        if uses_passkeys {
            if let Err(problem) = relying_party(realm, &settings.server.public_url) {
                report(format!("passkey.{}", problem.field), problem.message);
            }
        }
        if let Some(from) = &realm.mail.from {
            if !monban_mail::valid_sender(from) {
                report(
                    "mail.from".into(),
                    format!("{from:?} is not a mail address (e.g. \"健保 <no-reply@example.jp>\")"),
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", problems.join("\n"))
    }
}

/// Where members choose a method ("user-id-and-method"), every method offered must be asked
/// for at login, and enrolled before it is needed (SPEC §3: no member reaches the portal with a
/// method chosen but never enrolled).
fn second_factor_problems(realm: &RealmConfig) -> Vec<(String, String)> {
    let flows = &realm.flows;
    if !flows.first_login.iter().any(|s| s == "user-id-and-method") {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for method in &realm.second_factors.offered {
        let name = method.as_str();
        if !flows.browser.iter().any(|s| s == name) {
            problems.push((
                "second_factors.offered".to_string(),
                format!(
                    "\"{name}\" is offered, but flows.browser has no \"{name}\" step to ask for it"
                ),
            ));
        }
        if let Some(enrol) = enrolment_action(*method) {
            if !flows.first_login.iter().any(|s| s == enrol) {
                problems.push((
                    "second_factors.offered".to_string(),
                    format!("\"{name}\" is offered, but flows.first_login has no \"{enrol}\" step to enrol it"),
                ));
            }
        }
    }
    problems
}
