//! argon2id password hashing with a bound on how many hashes run at once: each takes
//! `memory_kib` of memory, so an unbounded burst of logins could exhaust the machine.

use crate::config::Argon2Settings;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, Condvar, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid argon2 parameters: {0}")]
    Parameters(String),
    #[error("hashing failed: {0}")]
    Hashing(String),
}

/// Hashes and verifies passwords. Cheap to clone; clones share the concurrency bound.
/// Calls block: run them off the async executor.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    permits: Arc<(Mutex<usize>, Condvar)>,
    /// A hash of a random password, verified against when the member does not exist, so that
    /// "no such member" costs the same time as "wrong password".
    decoy_hash: Arc<String>,
}

impl PasswordHasher {
    pub fn new(settings: &Argon2Settings) -> Result<Self, HashError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| HashError::Parameters(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let permits = match settings.max_concurrent {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut hasher = Self {
            argon2,
            permits: Arc::new((Mutex::new(permits), Condvar::new())),
            decoy_hash: Arc::new(String::new()),
        };
        let decoy_password = SaltString::generate(&mut OsRng);
        hasher.decoy_hash = Arc::new(hasher.hash(decoy_password.as_str())?);
        Ok(hasher)
    }

    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let _permit = self.acquire();
        let salt = SaltString::generate(&mut OsRng);
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| HashError::Hashing(e.to_string()))
    }

    /// True when `password` matches `stored`. With no stored hash (unknown member) the same
    /// work is done against a decoy and the answer is false.
    pub fn verify(&self, stored: Option<&str>, password: &str) -> bool {
        let _permit = self.acquire();
        let (hash, known) = match stored {
            Some(hash) => (hash, true),
            None => (self.decoy_hash.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        // `verify_password` uses the parameters recorded in the hash and compares in constant time.
        let matches = self
            .argon2
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && known
    }

    fn acquire(&self) -> Permit<'_> {
        let (count, available) = &*self.permits;
        let mut free = count
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while *free == 0 {
            free = available
                .wait(free)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *free -= 1;
        Permit(&self.permits)
    }
}

struct Permit<'a>(&'a (Mutex<usize>, Condvar));

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let (count, available) = self.0;
        *count
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) += 1;
        available.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(&Argon2Settings {
            memory_kib: 8192,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
        })
        .unwrap()
    }

    #[test]
    fn verifies_only_the_right_password() {
        let hasher = cheap();
        let hash = hasher.hash("d00000000").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify(Some(&hash), "d00000000"));
        assert!(!hasher.verify(Some(&hash), "d00000001"));
        assert!(!hasher.verify(None, "d00000000"));
        assert!(!hasher.verify(Some("not a hash"), "x"));
    }

    #[test]
    fn concurrent_use_shares_the_bound() {
        let hasher = cheap();
        let threads: Vec<_> = (0..4)
            .map(|n| {
                let hasher = hasher.clone();
                std::thread::spawn(move || hasher.hash(&format!("pw{n}")).unwrap())
            })
            .collect();
        for thread in threads {
            assert!(thread.join().unwrap().starts_with("$argon2id$"));
        }
    }
}
