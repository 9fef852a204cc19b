//! Brute-force lockout as a pure function of the stored counters and the time.

use crate::config::LockoutPolicy;
use crate::UnixSeconds;

/// The stored failure counters of one member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockoutState {
    pub failures: u32,
    pub temporary_lockouts: u32,
    pub last_failure_at: UnixSeconds,
    pub locked_until: Option<UnixSeconds>,
    pub permanently_locked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttemptVerdict {
    Allowed,
    /// Locked; the member must wait (or ask their health society).
    Locked,
}

impl LockoutState {
    /// May the member try now? Checked before the password is even looked at, so a locked
    /// account gives nothing away about whether the password was right.
    pub fn verdict(&self, policy: &LockoutPolicy, now: UnixSeconds) -> LoginAttemptVerdict {
        if !policy.enabled {
            return LoginAttemptVerdict::Allowed;
        }
        if self.permanently_locked || self.locked_until.is_some_and(|until| now < until) {
            LoginAttemptVerdict::Locked
        } else {
            LoginAttemptVerdict::Allowed
        }
    }

    /// The counters after one more failed attempt.
    pub fn after_failure(&self, policy: &LockoutPolicy, now: UnixSeconds) -> LockoutState {
        let mut next = self.clone();
        if now - self.last_failure_at > policy.failure_reset_seconds {
            next.failures = 0;
            next.temporary_lockouts = 0;
        }
        next.failures += 1;
        next.last_failure_at = now;
        if policy.enabled && next.failures >= policy.max_failures {
            next.temporary_lockouts += 1;
            if policy.permanent_lockout && next.temporary_lockouts > policy.max_temporary_lockouts {
                next.permanently_locked = true;
            } else {
                // The wait grows with each failure beyond the allowance, as in Keycloak.
                let steps = i64::from(next.failures / policy.max_failures);
                let wait = (policy.wait_increment_seconds * steps).min(policy.max_wait_seconds);
                next.locked_until = Some(now + wait);
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            max_failures: 3,
            wait_increment_seconds: 60,
            max_wait_seconds: 150,
            ..Default::default()
        }
    }

    #[test]
    fn locks_after_the_allowance_and_the_wait_grows() {
        let policy = policy();
        let mut state = LockoutState::default();
        for t in 1..=2 {
            state = state.after_failure(&policy, t);
            assert_eq!(state.verdict(&policy, t), LoginAttemptVerdict::Allowed);
        }
        state = state.after_failure(&policy, 3);
        assert_eq!(state.verdict(&policy, 3), LoginAttemptVerdict::Locked);
        assert_eq!(state.verdict(&policy, 63), LoginAttemptVerdict::Allowed);
        for t in 64..=66 {
            state = state.after_failure(&policy, t);
        }
        assert_eq!(state.locked_until, Some(66 + 120));
        for t in 200..=205 {
            state = state.after_failure(&policy, t);
        }
        assert_eq!(
            state.locked_until,
            Some(205 + 150),
            "capped at max_wait_seconds"
        );
    }

    #[test]
    fn permanent_lockout_after_temporary_ones() {
        let policy = LockoutPolicy {
            permanent_lockout: true,
            max_temporary_lockouts: 1,
            ..policy()
        };
        let mut state = LockoutState::default();
        for t in 1..=3 {
            state = state.after_failure(&policy, t);
        }
        assert!(!state.permanently_locked);
        for t in 100..=102 {
            state = state.after_failure(&policy, t);
        }
        assert!(state.permanently_locked);
        assert_eq!(
            state.verdict(&policy, 1_000_000),
            LoginAttemptVerdict::Locked
        );
    }

    #[test]
    fn old_failures_are_forgotten() {
        let policy = policy();
        let state = LockoutState::default()
            .after_failure(&policy, 0)
            .after_failure(&policy, 1);
        let later = state.after_failure(&policy, 1 + policy.failure_reset_seconds + 1);
        assert_eq!(later.failures, 1);
    }
}
