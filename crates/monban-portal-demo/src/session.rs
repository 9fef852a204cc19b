//! In-memory browser sessions: logins in progress and the signed-in member.
//!
//! A demo keeps this in one process; a restart signs everybody out, which is fine here.
//! Times are passed in by the caller so the expiry rules can be tested.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::CoreIdToken;
use openidconnect::{CsrfToken, Nonce};

/// How long a login may take between `/login` and `/callback`.
pub const PENDING_LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// A session not used for this long is forgotten.
pub const SESSION_IDLE_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// Several tabs may start a login at once; beyond this the oldest are dropped.
const MAX_PENDING_PER_SESSION: usize = 8;

/// What `/callback` needs to finish a login started by `/login`.
#[derive(Clone)]
pub struct PendingLogin {
    pub pkce_verifier: String,
    pub nonce: Nonce,
    pub started: Instant,
}

/// The signed-in member, as shown on the home page.
#[derive(Clone)]
pub struct SignedInUser {
    pub display_name: String,
    /// The ID token's payload, as issued.
    pub id_token_claims: serde_json::Map<String, serde_json::Value>,
    pub userinfo: serde_json::Value,
    /// Kept for `id_token_hint` at logout.
    pub id_token: CoreIdToken,
}

struct Session {
    pending: HashMap<String, PendingLogin>,
    user: Option<SignedInUser>,
    last_seen: Instant,
}

impl Session {
    fn new(now: Instant) -> Self {
        Session {
            pending: HashMap::new(),
            user: None,
            last_seen: now,
        }
    }

    /// A session with nothing left in it is dropped rather than kept until idle expiry, so
    /// anonymous visits to `/login` do not pile up.
    fn is_live(&self, now: Instant) -> bool {
        if now.duration_since(self.last_seen) > SESSION_IDLE_TTL {
            return false;
        }
        self.user.is_some() || !self.pending.is_empty()
    }

    fn prune_pending(&mut self, now: Instant) {
        self.pending
            .retain(|_, p| now.duration_since(p.started) <= PENDING_LOGIN_TTL);
    }
}

/// Sessions keyed by the random value of the session cookie.
#[derive(Default)]
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Session>>,
}

impl SessionStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a login in progress under `state` and returns the session ID the browser must
    /// carry (the existing one if it is still known, else a fresh one).
    pub fn start_login(
        &self,
        session_id: Option<&str>,
        state: String,
        pending: PendingLogin,
        now: Instant,
    ) -> String {
        let mut sessions = self.lock();
        Self::prune(&mut sessions, now);
        let id = match session_id {
            Some(id) if sessions.contains_key(id) => id.to_owned(),
            _ => new_session_id(),
        };
        let session = sessions
            .entry(id.clone())
            .or_insert_with(|| Session::new(now));
        session.last_seen = now;
        if session.pending.len() >= MAX_PENDING_PER_SESSION {
            if let Some(oldest) = session
                .pending
                .iter()
                .min_by_key(|(_, p)| p.started)
                .map(|(k, _)| k.clone())
            {
                session.pending.remove(&oldest);
            }
        }
        session.pending.insert(state, pending);
        id
    }

    /// Removes and returns the login started with `state`, if it has not expired. A state is
    /// usable once, so a replayed callback fails.
    pub fn take_pending(
        &self,
        session_id: &str,
        state: &str,
        now: Instant,
    ) -> Option<PendingLogin> {
        let mut sessions = self.lock();
        let session = sessions.get_mut(session_id)?;
        session.prune_pending(now);
        let pending = session.pending.remove(state)?;
        session.last_seen = now;
        Some(pending)
    }

    /// Signs the member in. The session gets a new ID (the old one is dropped) so an ID
    /// planted before the login cannot be used to ride on it.
    pub fn sign_in(&self, old_session_id: &str, user: SignedInUser, now: Instant) -> String {
        let mut sessions = self.lock();
        Self::prune(&mut sessions, now);
        let mut session = sessions
            .remove(old_session_id)
            .unwrap_or_else(|| Session::new(now));
        session.user = Some(user);
        session.last_seen = now;
        let id = new_session_id();
        sessions.insert(id.clone(), session);
        id
    }

    /// The signed-in member of this session, if any.
    pub fn user(&self, session_id: &str, now: Instant) -> Option<SignedInUser> {
        let mut sessions = self.lock();
        let session = sessions.get_mut(session_id)?;
        if now.duration_since(session.last_seen) > SESSION_IDLE_TTL {
            sessions.remove(session_id);
            return None;
        }
        session.last_seen = now;
        session.user.clone()
    }

    /// Forgets the session and returns the member who was signed in.
    pub fn sign_out(&self, session_id: &str) -> Option<SignedInUser> {
        self.lock().remove(session_id).and_then(|s| s.user)
    }

    fn prune(sessions: &mut HashMap<String, Session>, now: Instant) {
        sessions.retain(|_, s| {
            s.prune_pending(now);
            s.is_live(now)
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// 32 random bytes from the OS generator, base64url.
fn new_session_id() -> String {
    CsrfToken::new_random_len(32).into_secret()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    // A syntactically valid (unsigned, never verified) JWT, only used as a stored value.
    const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwOi8vbG9jYWxob3N0IiwiYXVkIjoicG9ydGFsIiwic3ViIjoiMSIsImV4cCI6MSwiaWF0IjoxfQ.c2ln";

    fn pending(now: Instant) -> PendingLogin {
        PendingLogin {
            pkce_verifier: "verifier".into(),
            nonce: Nonce::new("nonce".into()),
            started: now,
        }
    }

    fn user() -> SignedInUser {
        SignedInUser {
            display_name: "山田 太郎".into(),
            id_token_claims: serde_json::Map::new(),
            userinfo: serde_json::json!({"sub": "1"}),
            id_token: CoreIdToken::from_str(ID_TOKEN).unwrap(),
        }
    }

    #[test]
    fn a_state_is_usable_once() {
        let store = SessionStore::new();
        let now = Instant::now();
        let sid = store.start_login(None, "s1".into(), pending(now), now);
        assert!(store.take_pending(&sid, "other", now).is_none());
        let p = store.take_pending(&sid, "s1", now).expect("pending login");
        assert_eq!(p.pkce_verifier, "verifier");
        assert!(store.take_pending(&sid, "s1", now).is_none());
    }

    #[test]
    fn a_state_belongs_to_its_session() {
        let store = SessionStore::new();
        let now = Instant::now();
        let sid = store.start_login(None, "s1".into(), pending(now), now);
        let other = store.start_login(None, "s2".into(), pending(now), now);
        assert_ne!(sid, other);
        assert!(store.take_pending(&other, "s1", now).is_none());
        assert!(store.take_pending(&sid, "s1", now).is_some());
    }

    #[test]
    fn pending_logins_expire() {
        let store = SessionStore::new();
        let now = Instant::now();
        let sid = store.start_login(None, "s1".into(), pending(now), now);
        let later = now + PENDING_LOGIN_TTL + Duration::from_secs(1);
        assert!(store.take_pending(&sid, "s1", later).is_none());
    }

    #[test]
    fn an_unknown_session_id_is_replaced() {
        let store = SessionStore::new();
        let now = Instant::now();
        let sid = store.start_login(Some("made-up"), "s1".into(), pending(now), now);
        assert_ne!(sid, "made-up");
        let again = store.start_login(Some(&sid), "s2".into(), pending(now), now);
        assert_eq!(sid, again, "a known session keeps its ID");
    }

    #[test]
    fn sign_in_rotates_the_session_id_and_sign_out_forgets_it() {
        let store = SessionStore::new();
        let now = Instant::now();
        let sid = store.start_login(None, "s1".into(), pending(now), now);
        store.take_pending(&sid, "s1", now).unwrap();
        let new_sid = store.sign_in(&sid, user(), now);
        assert_ne!(sid, new_sid);
        assert!(store.user(&sid, now).is_none());
        assert_eq!(store.user(&new_sid, now).unwrap().display_name, "山田 太郎");
        assert!(store.sign_out(&new_sid).is_some());
        assert!(store.user(&new_sid, now).is_none());
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn idle_sessions_and_abandoned_logins_are_pruned() {
        let store = SessionStore::new();
        let now = Instant::now();
        let signed_in = store.sign_in("none", user(), now);
        store.start_login(None, "abandoned".into(), pending(now), now);
        assert_eq!(store.len(), 2);

        let later = now + PENDING_LOGIN_TTL + Duration::from_secs(1);
        store.start_login(None, "fresh".into(), pending(later), later);
        assert_eq!(store.len(), 2, "the abandoned login is gone");
        assert!(store.user(&signed_in, later).is_some());

        let much_later = later + SESSION_IDLE_TTL + Duration::from_secs(1);
        assert!(store.user(&signed_in, much_later).is_none());
    }

    #[test]
    fn pending_logins_per_session_are_bounded() {
        let store = SessionStore::new();
        let now = Instant::now();
        let sid = store.start_login(None, "s0".into(), pending(now), now);
        for i in 1..=MAX_PENDING_PER_SESSION {
            let t = now + Duration::from_secs(i as u64);
            store.start_login(Some(&sid), format!("s{i}"), pending(t), t);
        }
        assert!(
            store.take_pending(&sid, "s0", now).is_none(),
            "oldest dropped"
        );
        let last = format!("s{MAX_PENDING_PER_SESSION}");
        assert!(store.take_pending(&sid, &last, now).is_some());
    }
}
