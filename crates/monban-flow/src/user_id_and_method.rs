//! `user-id-and-method` (SPEC §3.5): the member may replace the temporary user ID (the realm's
//! policy; uppercase becomes lowercase; unique in the realm) and must choose the second factor
//! they will use, among the methods the realm offers.

use crate::step::{Form, Problem, RequiredAction, StepContext, StepOutcome, StepView};
use crate::FlowError;
use monban_core::config::SecondFactorMethod;
use monban_core::policy::{UserIdPolicy, LISTED_FORBIDDEN_CHARACTERS};
use monban_store::User;
use serde_json::{json, Value};

pub struct UserIdAndMethodAction;

/// How each listed character is written on the page, and the message key naming it.
fn shown_as(listed: &str) -> (&str, String) {
    let (shown, name) = match listed {
        "space" => ("\\s", "whitespace"),
        "tab" => ("\\t", "tab"),
        "newline" => ("\\n", "newline"),
        "vertical tab" => ("\\v", "vertical_tab"),
        "<" => ("<", "lt"),
        ">" => (">", "gt"),
        "&" => ("&", "ampersand"),
        "\"" => ("\"", "double_quote"),
        "'" => ("'", "single_quote"),
        "$" => ("$", "dollar"),
        "%" => ("%", "percent"),
        "!" => ("!", "exclamation"),
        "#" => ("#", "hash"),
        "?" => ("?", "question"),
        "§" => ("§", "section"),
        "," => (",", "comma"),
        ";" => (";", "semicolon"),
        ":" => (":", "colon"),
        "*" => ("*", "asterisk"),
        "~" => ("~", "tilde"),
        "/" => ("/", "slash"),
        "\\" => ("\\", "backslash"),
        "|" => ("|", "pipe"),
        "^" => ("^", "caret"),
        "=" => ("=", "equals"),
        "[" => ("[", "left_bracket"),
        "]" => ("]", "right_bracket"),
        "{" => ("{", "left_brace"),
        "}" => ("}", "right_brace"),
        "(" => ("(", "left_paren"),
        ")" => (")", "right_paren"),
        "`" => ("`", "backquote"),
        other => (other, "other"),
    };
    (shown, format!("char_{name}"))
}

fn forbidden_list() -> Value {
    LISTED_FORBIDDEN_CHARACTERS
        .iter()
        .map(|listed| {
            let (shown, key) = shown_as(listed);
            json!({ "shown": shown, "name_key": key })
        })
        .collect()
}

fn methods(ctx: &StepContext<'_>) -> Value {
    ctx.realm
        .second_factors
        .offered
        .iter()
        .map(|m| json!({ "value": m.as_str(), "label_key": format!("method_{}", m.as_str().replace('-', "_")) }))
        .collect()
}

fn view(ctx: &StepContext<'_>, user_id: &str, method: &str, errors: &[Problem]) -> StepView {
    StepView {
        template: "user_id_and_method",
        model: json!({
            "user_id": user_id,
            "method": method,
            "methods": methods(ctx),
            "forbidden_characters": forbidden_list(),
            "min_length": ctx.realm.user_id_policy.min_length,
            "max_length": ctx.realm.user_id_policy.max_length,
            "allowed_symbols": ctx.realm.user_id_policy.allowed_symbols.chars().map(String::from).collect::<Vec<_>>().join(" "),
            "errors": errors,
        }),
    }
}

impl RequiredAction for UserIdAndMethodAction {
    fn name(&self) -> &'static str {
        "user-id-and-method"
    }

    fn applies(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(!user.first_login_completed)
    }

    fn page(&self, ctx: &StepContext<'_>, user: &User) -> Result<StepView, FlowError> {
        Ok(view(
            ctx,
            &user.user_id,
            user.second_factor_method.as_deref().unwrap_or(""),
            &[],
        ))
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let typed: String = form
            .get("user_id")
            .unwrap_or("")
            .chars()
            .take(256)
            .collect();
        let chosen = form.get("method").unwrap_or("");
        let user_id = UserIdPolicy::normalize(&typed);
        let mut problems: Vec<Problem> = ctx
            .realm
            .user_id_policy
            .violations(&user_id)
            .into_iter()
            .map(|v| match v {
                monban_core::policy::UserIdViolation::TooShort { min } => {
                    Problem::with(v.message_key(), min)
                }
                monban_core::policy::UserIdViolation::TooLong { max } => {
                    Problem::with(v.message_key(), max)
                }
                _ => Problem::new(v.message_key()),
            })
            .collect();
        let offered = &ctx.realm.second_factors.offered;
        let method = SecondFactorMethod::parse(chosen).filter(|m| offered.contains(m));
        if method.is_none() && !offered.is_empty() {
            problems.push(Problem::new("method_required"));
        }
        if !problems.is_empty() {
            return Ok(StepOutcome::Retry(view(ctx, &typed, chosen, &problems)));
        }
        let now = ctx.clock.now();
        let method_name = method.map(SecondFactorMethod::as_str);
        if ctx
            .store
            .set_user_id_and_method(&user.id, &user_id, method_name, now)?
            .is_err()
        {
            return Ok(StepOutcome::Retry(view(
                ctx,
                &typed,
                chosen,
                &[Problem::new("user_id_taken")],
            )));
        }
        ctx.audit(
            user,
            "UPDATE_USER_ID",
            method_name.map(|m| format!("second_factor={m}")),
        )?;
        Ok(StepOutcome::Done { amr: Vec::new() })
    }
}
