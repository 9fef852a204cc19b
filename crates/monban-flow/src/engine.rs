//! Runs a realm's flow: its authenticators in order, then the identified member's pending
//! required actions in the realm's order. The state lives in the auth session (database), so
//! any instance can take the next request.
//!
//! Which required actions are pending is decided here, the same way for every step:
//! - an action an admin set on the member (`monban user require-action`) is pending until done;
//! - otherwise an action is pending when the step says it `applies` (or `may_apply_later`,
//!   through the member's answers to earlier steps) — except that a step the member already
//!   did during an unfinished first login is not asked again (a closed tab does not start the
//!   set-up over). When the login reaches an action that does not apply, it is passed over.
//!
//! Admin-set actions the realm's list does not name run after the listed ones.

use crate::session::{AuthSession, AuthSessionState, FlowStore};
use crate::step::{
    Authenticator, Form, Member, RequiredAction, StepContext, StepOutcome, StepView,
};
use crate::{FlowError, Steps};
use monban_store::User;
use std::sync::Arc;

/// Where a login stands after a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Show this page: the login's current page, or the same step's page answering a form
    /// (its errors).
    Show(StepView),
    /// A form moved the login on. Its next page is shown by asking for the current page
    /// again, so the answer to the post is a redirect and a reload does not post again (the
    /// member reloads the tab after verifying the address elsewhere, SPEC §3.4).
    Moved,
    /// Every step is done: open the SSO session for this member.
    Complete(Member),
    /// The member declined: end the login with `access_denied`.
    Denied,
}

/// What moving the login on came to.
enum Advanced {
    /// The next step is saved in the auth session; its page is not made yet.
    Saved,
    Complete(Member),
}

pub struct Engine<'a> {
    pub steps: &'a Steps,
    pub ctx: StepContext<'a>,
}

/// What the member owes besides what each step decides for itself.
struct Obligations {
    /// Set by an admin.
    required: Vec<String>,
    /// Done during the unfinished first login.
    done: Vec<String>,
}

impl Engine<'_> {
    fn browser_flow(&self) -> &[String] {
        &self.ctx.realm.flows.browser
    }

    fn user(&self, member: &Member) -> Result<User, FlowError> {
        self.ctx
            .store
            .find_user(&member.user_pk)?
            .ok_or_else(|| FlowError::Corrupt("the member of this login is gone".into()))
    }

    fn action(&self, name: &str) -> Result<&Arc<dyn RequiredAction>, FlowError> {
        self.steps
            .action(name)
            .ok_or_else(|| FlowError::Corrupt(format!("no step named {name}")))
    }

    fn obligations(&self, user: &User) -> Result<Obligations, FlowError> {
        let store = self.ctx.store;
        let mut required = Vec::new();
        for name in store.required_actions_of(&user.id)? {
            // An admin may set an action this member cannot do (terms where none are
            // published, a verification without an address): it is not asked.
            if let Some(action) = self.steps.action(&name) {
                if action.possible(&self.ctx, user)? {
                    required.push(name);
                }
            }
        }
        Ok(Obligations {
            required,
            done: if user.first_login_completed {
                Vec::new()
            } else {
                store.first_login_steps_done(&user.id)?
            },
        })
    }

    fn is_pending(&self, name: &str, user: &User, owed: &Obligations) -> Result<bool, FlowError> {
        if owed.required.iter().any(|r| r == name) {
            return Ok(true);
        }
        if owed.done.iter().any(|d| d == name) {
            return Ok(false);
        }
        let action = self.action(name)?;
        Ok(action.applies(&self.ctx, user)? || action.may_apply_later(&self.ctx, user)?)
    }

    /// The page the login is on now. A required action that stopped applying meanwhile (the
    /// address was verified from another device, say) is passed over, which may complete the
    /// login.
    pub fn current(
        &self,
        flows: &FlowStore<'_>,
        session: &mut AuthSession,
    ) -> Result<Progress, FlowError> {
        match session.state.clone() {
            AuthSessionState::Authenticating { step, member } => {
                let authenticator = self.authenticator(step)?;
                if !authenticator.applies(&self.ctx, member.as_ref())? {
                    let member = member.ok_or_else(|| {
                        FlowError::Corrupt("the first step must apply to everyone".into())
                    })?;
                    let advanced = self.after_authenticator(flows, session, step, member)?;
                    return self.show(flows, session, advanced);
                }
                Ok(Progress::Show(authenticator.page(
                    &self.ctx,
                    member.as_ref(),
                    session.request.login_hint.as_deref(),
                )?))
            }
            AuthSessionState::RequiredActions { member, remaining } => {
                let user = self.user(&member)?;
                let required = self.obligations(&user)?.required;
                let mut still = Vec::with_capacity(remaining.len());
                for name in &remaining {
                    // Only whether it still applies: the list was settled when it was made
                    // (a step may be there again on purpose, after a detour).
                    if !still.is_empty()
                        || required.contains(name)
                        || self.action(name)?.applies(&self.ctx, &user)?
                    {
                        still.push(name.clone());
                    }
                }
                if still.len() == remaining.len() {
                    return Ok(Progress::Show(
                        self.action(&still[0])?.page(&self.ctx, &user)?,
                    ));
                }
                let advanced = self.continue_with(flows, session, member, still)?;
                self.show(flows, session, advanced)
            }
        }
    }

    /// Handles a submission of the current page and moves the login on.
    pub fn submit(
        &self,
        flows: &FlowStore<'_>,
        session: &mut AuthSession,
        form: &Form<'_>,
    ) -> Result<Progress, FlowError> {
        match session.state.clone() {
            AuthSessionState::Authenticating { step, member } => {
                let name = &self.browser_flow()[step];
                let authenticator = self.authenticator(step)?;
                let member = match authenticator.submit(&self.ctx, member.as_ref(), form)? {
                    StepOutcome::Retry(view) => return Ok(Progress::Show(view)),
                    StepOutcome::Denied => return Ok(Progress::Denied),
                    StepOutcome::Identified(identified) => identified,
                    StepOutcome::Done { amr } => {
                        let mut member = member.ok_or_else(|| {
                            FlowError::Corrupt(format!(
                                "{name} finished before anyone was identified"
                            ))
                        })?;
                        member.amr.extend(amr);
                        member
                    }
                    StepOutcome::Detour(_) => {
                        return Err(FlowError::Corrupt(format!(
                            "{name}: an authenticator cannot make a detour"
                        )))
                    }
                };
                let advanced = self.after_authenticator(flows, session, step, member)?;
                Ok(Self::moved(advanced))
            }
            AuthSessionState::RequiredActions { member, remaining } => {
                let user = self.user(&member)?;
                let name = &remaining[0];
                match self.action(name)?.submit(&self.ctx, &user, form)? {
                    StepOutcome::Retry(view) => Ok(Progress::Show(view)),
                    StepOutcome::Denied => Ok(Progress::Denied),
                    StepOutcome::Identified(_) => Err(FlowError::Corrupt(format!(
                        "{name} cannot identify a member"
                    ))),
                    StepOutcome::Detour(first) => {
                        self.action(first)?;
                        // Owed until done, even where it would not apply by itself (a member
                        // past the first login correcting the address to verify).
                        self.ctx
                            .store
                            .require_action(&user.id, first, self.ctx.clock.now())?;
                        let mut rest = vec![first.to_string()];
                        rest.extend(remaining.iter().cloned());
                        let advanced = self.continue_with(flows, session, member, rest)?;
                        Ok(Self::moved(advanced))
                    }
                    StepOutcome::Done { amr } => {
                        let now = self.ctx.clock.now();
                        self.ctx.store.clear_required_action(&user.id, name)?;
                        if !user.first_login_completed {
                            self.ctx
                                .store
                                .record_first_login_step(&user.id, name, now)?;
                        }
                        let mut member = member;
                        member.amr.extend(amr);
                        // What the done step changed may make later steps unnecessary.
                        let user = self.user(&member)?;
                        let owed = self.obligations(&user)?;
                        let mut rest = Vec::new();
                        for later in &remaining[1..] {
                            if later != name && self.is_pending(later, &user, &owed)? {
                                rest.push(later.clone());
                            }
                        }
                        let advanced = self.continue_with(flows, session, member, rest)?;
                        Ok(Self::moved(advanced))
                    }
                }
            }
        }
    }

    /// The answer to a form that moved the login on: no page yet (see [`Progress::Moved`]).
    fn moved(advanced: Advanced) -> Progress {
        match advanced {
            Advanced::Saved => Progress::Moved,
            Advanced::Complete(member) => Progress::Complete(member),
        }
    }

    /// The page after moving on while showing the current page (a step passed over).
    fn show(
        &self,
        flows: &FlowStore<'_>,
        session: &mut AuthSession,
        advanced: Advanced,
    ) -> Result<Progress, FlowError> {
        match advanced {
            Advanced::Saved => self.current(flows, session),
            Advanced::Complete(member) => Ok(Progress::Complete(member)),
        }
    }

    /// A login that moved on may stay open the realm's full login time from now.
    fn deadline(&self) -> i64 {
        self.ctx.clock.now() + self.ctx.realm.tokens.login_seconds
    }

    fn authenticator(&self, step: usize) -> Result<&Arc<dyn Authenticator>, FlowError> {
        let name = &self.browser_flow()[step];
        self.steps
            .authenticator(name)
            .ok_or_else(|| FlowError::Corrupt(format!("no step named {name}")))
    }

    /// Authenticator `step` is done (or passed over): on to the next one that applies, or to
    /// the required actions.
    fn after_authenticator(
        &self,
        flows: &FlowStore<'_>,
        session: &mut AuthSession,
        step: usize,
        member: Member,
    ) -> Result<Advanced, FlowError> {
        for next in step + 1..self.browser_flow().len() {
            if self
                .authenticator(next)?
                .applies(&self.ctx, Some(&member))?
            {
                flows.save_state(
                    session,
                    AuthSessionState::Authenticating {
                        step: next,
                        member: Some(member),
                    },
                    self.deadline(),
                )?;
                return Ok(Advanced::Saved);
            }
        }
        let remaining = self.pending_actions(&member)?;
        self.continue_with(flows, session, member, remaining)
    }

    /// The member's pending required actions: the realm's, in its order, then any other an
    /// admin set.
    fn pending_actions(&self, member: &Member) -> Result<Vec<String>, FlowError> {
        let user = self.user(member)?;
        let owed = self.obligations(&user)?;
        let listed = &self.ctx.realm.flows.first_login;
        let mut pending = Vec::new();
        for name in listed {
            if self.is_pending(name, &user, &owed)? {
                pending.push(name.clone());
            }
        }
        for name in &owed.required {
            if !listed.contains(name) {
                pending.push(name.clone());
            }
        }
        Ok(pending)
    }

    fn continue_with(
        &self,
        flows: &FlowStore<'_>,
        session: &mut AuthSession,
        member: Member,
        remaining: Vec<String>,
    ) -> Result<Advanced, FlowError> {
        if remaining.is_empty() {
            // Whatever the first login asked of the member is done.
            self.ctx
                .store
                .complete_first_login(&member.user_pk, self.ctx.clock.now())?;
            return Ok(Advanced::Complete(member));
        }
        flows.save_state(
            session,
            AuthSessionState::RequiredActions { member, remaining },
            self.deadline(),
        )?;
        Ok(Advanced::Saved)
    }
}
