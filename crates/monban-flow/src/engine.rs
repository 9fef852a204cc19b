//! Runs a realm's flow: its authenticators in order, then the identified member's pending
//! required actions in the realm's order. The state lives in the auth session (database), so
//! any instance can take the next request.

use crate::session::{AuthSession, AuthSessionState, FlowStore};
use crate::step::{Form, Member, StepContext, StepOutcome, StepView};
use crate::{FlowError, Steps};
use monban_store::User;

/// Where a login stands after a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Show this page.
    Show(StepView),
    /// Every step is done: open the SSO session for this member.
    Complete(Member),
    /// The member declined: end the login with `access_denied`.
    Denied,
}

pub struct Engine<'a> {
    pub steps: &'a Steps,
    pub ctx: StepContext<'a>,
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

    fn unknown(name: &str) -> FlowError {
        FlowError::Corrupt(format!("no step named {name}"))
    }

    /// The page the login is on now (or completion, if nothing is left).
    pub fn current(&self, session: &AuthSession) -> Result<Progress, FlowError> {
        match &session.state {
            AuthSessionState::Authenticating { step, member } => {
                let name = &self.browser_flow()[*step];
                let step = self
                    .steps
                    .authenticator(name)
                    .ok_or_else(|| Self::unknown(name))?;
                Ok(Progress::Show(step.page(
                    &self.ctx,
                    member.as_ref(),
                    session.request.login_hint.as_deref(),
                )))
            }
            AuthSessionState::RequiredActions { member, remaining } => {
                let user = self.user(member)?;
                let name = &remaining[0];
                let action = self.steps.action(name).ok_or_else(|| Self::unknown(name))?;
                Ok(Progress::Show(action.page(&self.ctx, &user)))
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
                let authenticator = self
                    .steps
                    .authenticator(name)
                    .ok_or_else(|| Self::unknown(name))?;
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
                };
                if step + 1 < self.browser_flow().len() {
                    flows.save_state(
                        session,
                        AuthSessionState::Authenticating {
                            step: step + 1,
                            member: Some(member),
                        },
                    )?;
                    return self.current(session);
                }
                let remaining =
                    self.pending_actions(&member, self.ctx.realm.flows.first_login.iter())?;
                self.continue_with(flows, session, member, remaining)
            }
            AuthSessionState::RequiredActions { member, remaining } => {
                let user = self.user(&member)?;
                let name = &remaining[0];
                let action = self.steps.action(name).ok_or_else(|| Self::unknown(name))?;
                match action.submit(&self.ctx, &user, form)? {
                    StepOutcome::Retry(view) => Ok(Progress::Show(view)),
                    StepOutcome::Denied => Ok(Progress::Denied),
                    StepOutcome::Identified(_) => Err(FlowError::Corrupt(format!(
                        "{name} cannot identify a member"
                    ))),
                    StepOutcome::Done { amr } => {
                        let mut member = member;
                        member.amr.extend(amr);
                        // What the done step changed may make later steps unnecessary.
                        let rest = self.pending_actions(&member, remaining[1..].iter())?;
                        self.continue_with(flows, session, member, rest)
                    }
                }
            }
        }
    }

    fn pending_actions<'n>(
        &self,
        member: &Member,
        names: impl Iterator<Item = &'n String>,
    ) -> Result<Vec<String>, FlowError> {
        let user = self.user(member)?;
        let mut pending = Vec::new();
        for name in names {
            let action = self.steps.action(name).ok_or_else(|| Self::unknown(name))?;
            if action.applies(&self.ctx, &user)? {
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
    ) -> Result<Progress, FlowError> {
        if remaining.is_empty() {
            // Whatever the first login asked of the member is done.
            self.ctx
                .store
                .complete_first_login(&member.user_pk, self.ctx.clock.now())?;
            return Ok(Progress::Complete(member));
        }
        flows.save_state(
            session,
            AuthSessionState::RequiredActions { member, remaining },
        )?;
        self.current(session)
    }
}
