//! Client-authentication brute-force backoff, counted in memory.
//!
//! Failures are counted per (client ID, source address) and per source address. Once a key
//! has `per_client_source` (default 10) or `per_source` (default 100) failures within a
//! minute, further attempts from that source (for that client, or for any client) are
//! refused with 429 before the secret is checked, for a wait that doubles with every further
//! failure (1 s, 2 s, 4 s … at most 15 min). A minute without failures, or a success from
//! the source, forgets them. The rightful client, authenticating from another address, is
//! never slowed: no key holds the client ID alone.
//!
//! The maps are bounded ([`MAX_KEYS`] each): quiet keys are pruned first, then keys that are
//! not blocking, and past that new keys are not tracked. Nothing is written to the database
//! per attempt; failures against known clients are tallied per client ID for one aggregated
//! audit event per account per minute ([`Backoff::take_tallies`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// Keys kept at most in each map.
pub const MAX_KEYS: usize = 100_000;

/// Addresses listed at most in one aggregated audit event.
pub const MAX_TALLY_ADDRESSES: usize = 20;

/// The window in which failures are counted, in milliseconds.
const WINDOW_MS: i64 = 60_000;

/// First wait once a limit is reached, and the longest one, in milliseconds.
const FIRST_WAIT_MS: i64 = 1_000;
const MAX_WAIT_MS: i64 = 15 * 60_000;

/// The limits (`--client-auth-failures-per-client-source`, `--client-auth-failures-per-source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failures in a minute for one client ID from one source before backing off.
    pub per_client_source: u32,
    /// Failures in a minute from one source, whatever the client IDs, before backing off.
    pub per_source: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_client_source: 10,
            per_source: 100,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    failures: u32,
    last_failure_ms: i64,
    blocked_until_ms: i64,
    /// Blocks since the count started: the next wait is `FIRST_WAIT_MS << strikes`.
    strikes: u32,
}

impl Counter {
    fn quiet(&self, now: i64) -> bool {
        now - self.last_failure_ms > WINDOW_MS && now >= self.blocked_until_ms
    }

    fn fail(&mut self, now: i64, limit: u32) {
        if self.quiet(now) {
            *self = Self::default();
        }
        self.failures = self.failures.saturating_add(1);
        self.last_failure_ms = now;
        if self.failures >= limit {
            let wait = FIRST_WAIT_MS
                .saturating_mul(1_i64 << self.strikes.min(20))
                .min(MAX_WAIT_MS);
            self.blocked_until_ms = now + wait;
            self.strikes = self.strikes.saturating_add(1);
        }
    }
}

/// Failures against one client ID since the last tally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Failed attempts.
    pub failures: u64,
    /// Attempts refused with 429.
    pub throttled: u64,
    /// Source addresses seen (at most [`MAX_TALLY_ADDRESSES`]).
    pub addresses: BTreeSet<String>,
}

#[derive(Default)]
struct State {
    by_pair: HashMap<(String, String), Counter>,
    by_source: HashMap<String, Counter>,
    tallies: HashMap<String, Tally>,
}

/// The backoff of one instance.
#[derive(Default)]
pub struct Backoff {
    limits: Limits,
    state: Mutex<State>,
}

/// Puts `key` in `map` unless the map is full even after pruning.
fn entry<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Counter>,
    key: K,
    now: i64,
) -> Option<&mut Counter> {
    if map.len() >= MAX_KEYS && !map.contains_key(&key) {
        map.retain(|_, c| !c.quiet(now));
        if map.len() >= MAX_KEYS {
            map.retain(|_, c| c.blocked_until_ms > now);
        }
        if map.len() >= MAX_KEYS {
            return None;
        }
    }
    Some(map.entry(key).or_default())
}

impl Backoff {
    /// A backoff with `limits` (each at least 1).
    pub fn new(limits: Limits) -> Self {
        Self {
            limits: Limits {
                per_client_source: limits.per_client_source.max(1),
                per_source: limits.per_source.max(1),
            },
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Err(wait)` when attempts for `client_id` from `source` must be refused now (`now`
    /// in epoch ms); counted in the client's tally.
    pub fn check(&self, client_id: &str, source: &str, now: i64) -> Result<(), Duration> {
        let mut s = self.state();
        if s.by_pair.is_empty() && s.by_source.is_empty() {
            return Ok(());
        }
        let pair = s
            .by_pair
            .get(&(client_id.to_owned(), source.to_owned()))
            .map_or(0, |c| c.blocked_until_ms);
        let src = s.by_source.get(source).map_or(0, |c| c.blocked_until_ms);
        let until = pair.max(src);
        if until <= now {
            return Ok(());
        }
        if let Some(t) = s.tallies.get_mut(client_id) {
            t.throttled += 1;
        }
        Err(Duration::from_millis(
            u64::try_from(until - now).unwrap_or(0),
        ))
    }

    /// A failed authentication for `client_id` from `source`; `known` is whether the client
    /// ID names an account (only those are tallied for the audit log).
    pub fn failure(&self, client_id: &str, source: &str, known: bool, now: i64) {
        let limits = self.limits;
        let mut s = self.state();
        if let Some(c) = entry(
            &mut s.by_pair,
            (client_id.to_owned(), source.to_owned()),
            now,
        ) {
            c.fail(now, limits.per_client_source);
        }
        if let Some(c) = entry(&mut s.by_source, source.to_owned(), now) {
            c.fail(now, limits.per_source);
        }
        if known && (s.tallies.len() < MAX_KEYS || s.tallies.contains_key(client_id)) {
            let t = s.tallies.entry(client_id.to_owned()).or_default();
            t.failures += 1;
            if t.addresses.len() < MAX_TALLY_ADDRESSES {
                t.addresses.insert(source.to_owned());
            }
        }
    }

    /// A successful authentication from `source`: its counts start over.
    pub fn success(&self, client_id: &str, source: &str) {
        let mut s = self.state();
        if s.by_pair.is_empty() && s.by_source.is_empty() {
            return;
        }
        s.by_pair.remove(&(client_id.to_owned(), source.to_owned()));
        s.by_source.remove(source);
    }

    /// The tallies since the last call, by client ID (for the aggregated audit events).
    pub fn take_tallies(&self) -> HashMap<String, Tally> {
        std::mem::take(&mut self.state().tallies)
    }
}

/// Writes one `client_auth.failed` audit event per account with failures since the last
/// call (every minute from `serve`), naming the counts and the source addresses. Failures
/// against client IDs that no longer name an account are dropped.
pub async fn audit_failures(
    backoff: &Backoff,
    oauth: &super::OAuth,
    store: &crate::store::Store,
) -> Result<usize, crate::store::StoreError> {
    use crate::domain::audit::{Actor, ActorKind, AuditEvent};

    let tallies = backoff.take_tallies();
    if tallies.is_empty() {
        return Ok(0);
    }
    let now = crate::domain::now_ms();
    let mut written = 0;
    let mut tx = store.begin().await?;
    for (client_id, tally) in tallies {
        let Some(account) = oauth.cache().by_client_id(store, &client_id).await? else {
            continue;
        };
        let actor = Actor {
            kind: ActorKind::Anonymous,
            id: String::new(),
            name: "unauthenticated client".into(),
            permissions: BTreeSet::new(),
            source: tally.addresses.iter().next().cloned().unwrap_or_default(),
        };
        let event = AuditEvent {
            action: "client_auth.failed",
            target_kind: "service_account",
            target_id: account.id.clone(),
            target_name: account.name.clone(),
            detail: serde_json::json!({
                "failures": tally.failures,
                "throttled": tally.throttled,
                "addresses": tally.addresses,
            })
            .to_string(),
        };
        crate::store::audit::append(&mut tx, &actor, &event, now).await?;
        written += 1;
    }
    tx.commit().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_client_source: u32, per_source: u32) -> Backoff {
        Backoff::new(Limits {
            per_client_source,
            per_source,
        })
    }

    #[test]
    fn ten_failures_for_one_client_from_one_source_block_that_pair_only() {
        let b = Backoff::default();
        for _ in 0..9 {
            b.failure("c", "1.2.3.4", true, 0);
            assert!(b.check("c", "1.2.3.4", 0).is_ok());
        }
        b.failure("c", "1.2.3.4", true, 0);
        assert_eq!(b.check("c", "1.2.3.4", 0), Err(Duration::from_secs(1)));
        assert!(
            b.check("c", "5.6.7.8", 0).is_ok(),
            "another address is not slowed"
        );
        assert!(b.check("other", "1.2.3.4", 0).is_ok(), "nor another client");
    }

    #[test]
    fn the_wait_grows_while_failures_go_on_and_a_quiet_minute_forgets() {
        let b = limits(2, 1000);
        b.failure("c", "s", true, 0);
        b.failure("c", "s", true, 0);
        assert_eq!(b.check("c", "s", 0), Err(Duration::from_secs(1)));
        b.failure("c", "s", true, 1_000);
        assert_eq!(b.check("c", "s", 1_000), Err(Duration::from_secs(2)));
        b.failure("c", "s", true, 3_000);
        assert_eq!(b.check("c", "s", 3_000), Err(Duration::from_secs(4)));
        assert!(b.check("c", "s", 7_000).is_ok());
        b.failure("c", "s", true, 70_000);
        assert!(b.check("c", "s", 70_000).is_ok(), "counted afresh");
    }

    #[test]
    fn many_clients_from_one_source_block_the_source() {
        let b = limits(1000, 5);
        for i in 0..5 {
            b.failure(&format!("c{i}"), "s", false, 0);
        }
        assert!(b.check("c-new", "s", 0).is_err());
        assert!(b.check("c-new", "t", 0).is_ok());
    }

    #[test]
    fn a_success_resets_the_source() {
        let b = limits(3, 1000);
        b.failure("c", "s", true, 0);
        b.failure("c", "s", true, 0);
        b.success("c", "s");
        b.failure("c", "s", true, 0);
        b.failure("c", "s", true, 0);
        assert!(b.check("c", "s", 0).is_ok());
    }

    #[test]
    fn tallies_count_known_clients_with_their_addresses_and_start_over() {
        let b = limits(2, 1000);
        b.failure("c", "a", true, 0);
        b.failure("c", "a", true, 0);
        b.failure("c", "b", true, 0);
        b.failure("unknown", "a", false, 0);
        let _ = b.check("c", "a", 0);
        let t = b.take_tallies();
        assert_eq!(t.len(), 1);
        assert_eq!(t["c"].failures, 3);
        assert_eq!(t["c"].throttled, 1);
        assert_eq!(t["c"].addresses.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(b.take_tallies().is_empty());
    }

    #[test]
    fn the_maps_stay_bounded() {
        let b = limits(1000, 1000);
        for i in 0..(MAX_KEYS + 10) {
            b.failure("c", &i.to_string(), false, 0);
        }
        assert!(b.state().by_pair.len() <= MAX_KEYS);
        assert!(b.state().by_source.len() <= MAX_KEYS);
    }
}
