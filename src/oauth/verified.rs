//! Tokens whose signature, type, issuer and audience were already checked, keyed by the whole
//! token text, so a client that reuses its token (the usual case) costs one hash lookup
//! instead of an ECDSA verification. Only the cryptographic part is remembered: expiry,
//! revocation, the account's generation and whether it is enabled are checked on every use
//! by the caller ([`super::OAuth::verify`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::token::Claims;

/// Tokens kept at most; past that, expired entries go first, then everything.
pub const MAX_ENTRIES: usize = 4096;

/// The cache. Entries leave when their token expires (pruned when the cache is full).
#[derive(Default)]
pub struct VerifiedTokens {
    entries: RwLock<HashMap<Box<str>, Arc<Claims>>>,
    hits: AtomicU64,
}

impl VerifiedTokens {
    /// The claims of `token` if it was verified before.
    pub fn get(&self, token: &str) -> Option<Arc<Claims>> {
        let found = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .cloned();
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Lookups answered from the cache since start.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Remembers that `token` verified to `claims`; `now` is in epoch seconds.
    pub fn insert(&self, token: &str, claims: Arc<Claims>, now: i64) {
        let mut e = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if e.len() >= MAX_ENTRIES {
            e.retain(|_, c| c.exp >= now);
            if e.len() >= MAX_ENTRIES {
                e.clear();
            }
        }
        e.insert(token.into(), claims);
    }

    /// Number of tokens kept.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no token is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Arc<Claims> {
        Arc::new(Claims {
            iss: "i".into(),
            sub: "s".into(),
            client_id: "c".into(),
            aud: "a".into(),
            iat: 0,
            nbf: 0,
            exp,
            jti: "0.x".into(),
            scope: String::new(),
            authorization_details: Vec::new(),
        })
    }

    #[test]
    fn stays_bounded_and_drops_expired_entries_first() {
        let cache = VerifiedTokens::default();
        cache.insert("old", claims(10), 0);
        for i in 1..MAX_ENTRIES {
            cache.insert(&format!("t{i}"), claims(1000), 0);
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        cache.insert("new", claims(1000), 100);
        assert!(cache.get("old").is_none());
        assert!(cache.get("new").is_some());
        assert!(cache.get("t1").is_some());
        assert!(cache.len() <= MAX_ENTRIES);
    }
}
