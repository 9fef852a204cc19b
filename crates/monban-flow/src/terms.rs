//! `terms` (SPEC §3.2): the realm's terms of use in force, "同意する" or "同意しない". Acceptance
//! is recorded with the version and time; a newly published version applies to every member
//! again, after they have authenticated (so after the second factor).

use crate::step::{Form, RequiredAction, StepContext, StepOutcome, StepView};
use crate::FlowError;
use monban_store::User;
use serde_json::json;

pub struct TermsAction;

impl TermsAction {
    fn view(version: i32, body: &str, error: Option<&'static str>) -> StepView {
        StepView {
            template: "terms",
            model: json!({ "terms_version": version, "terms_body": body, "error": error }),
        }
    }
}

impl RequiredAction for TermsAction {
    fn name(&self) -> &'static str {
        "terms"
    }

    fn applies(&self, ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        match ctx.store.current_terms(&ctx.realm.name)? {
            Some(terms) => Ok(!ctx.store.has_accepted_terms(&user.id, terms.version)?),
            // Nothing published (no [terms] in the realm file): nothing to accept.
            None => Ok(false),
        }
    }

    fn possible(&self, ctx: &StepContext<'_>, _user: &User) -> Result<bool, FlowError> {
        Ok(ctx.store.current_terms(&ctx.realm.name)?.is_some())
    }

    fn page(&self, ctx: &StepContext<'_>, _user: &User) -> Result<StepView, FlowError> {
        let terms = ctx
            .store
            .current_terms(&ctx.realm.name)?
            .ok_or_else(|| FlowError::Corrupt("no terms are published".into()))?;
        Ok(Self::view(terms.version, &terms.body, None))
    }

    fn submit(
        &self,
        ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        let terms = ctx
            .store
            .current_terms(&ctx.realm.name)?
            .ok_or_else(|| FlowError::Corrupt("no terms are published".into()))?;
        let now = ctx.clock.now();
        let audit = |kind: &str, detail: String| ctx.audit(user, kind, Some(detail));
        match form.get("decision") {
            Some("accept") => {
                // The member agrees to the text they saw: if a new version was published
                // while the page was open, they must read that one first.
                if form.get("terms_version") != Some(terms.version.to_string().as_str()) {
                    return Ok(StepOutcome::Retry(Self::view(
                        terms.version,
                        &terms.body,
                        Some("terms_changed"),
                    )));
                }
                ctx.store.accept_terms(&user.id, terms.version, now)?;
                audit("TERMS_ACCEPTED", format!("version={}", terms.version))?;
                Ok(StepOutcome::Done { amr: Vec::new() })
            }
            Some("decline") => {
                audit("TERMS_DECLINED", format!("version={}", terms.version))?;
                Ok(StepOutcome::Denied)
            }
            _ => Ok(StepOutcome::Retry(Self::view(
                terms.version,
                &terms.body,
                None,
            ))),
        }
    }
}
