//! In-memory, read-mostly view of what the token path needs: accounts by client ID and by
//! id, and revoked token ids. Entries are filled on first use and dropped when the change
//! feed says they changed, so the token endpoint reads the database only on a miss.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::domain::access::Catalog;
use crate::store::accounts::{self, AuthRecord};
use crate::store::changes::Change;
use crate::store::personal_tokens::{self, PersonalTokenRow};
use crate::store::{Store, StoreError};

/// Entries kept before the cache starts over (bounds memory with millions of accounts).
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
struct Entries {
    by_client: HashMap<String, Arc<AuthRecord>>,
    by_id: HashMap<String, Arc<AuthRecord>>,
}

/// The cache. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct AuthCache {
    entries: RwLock<Entries>,
    /// Bumped on every invalidation; a fill that raced with one is not stored.
    epoch: AtomicU64,
    revoked: RwLock<HashMap<String, i64>>,
    /// APIs, roles and nodes, loaded on first need and dropped with every account entry
    /// (any change to them is an `AllAccounts` change).
    catalog: RwLock<Option<Arc<Catalog>>>,
    /// `<issuer>/api`, keygate's own API identifier.
    keygate_identifier: String,
    /// Personal access tokens by the keyed hash of their value.
    personal: RwLock<HashMap<String, Arc<PersonalTokenRow>>>,
}

impl AuthCache {
    /// An empty cache for an issuer whose own API identifier is `keygate_identifier`.
    pub fn new(keygate_identifier: String) -> Self {
        Self {
            keygate_identifier,
            ..Self::default()
        }
    }

    /// keygate's own API identifier (`<issuer>/api`).
    pub fn keygate_identifier(&self) -> &str {
        &self.keygate_identifier
    }

    /// The current catalog of APIs, roles and nodes (from memory once loaded).
    pub async fn catalog(&self, store: &Store) -> Result<Arc<Catalog>, StoreError> {
        if let Some(c) = self
            .catalog
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            return Ok(c.clone());
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let loaded =
            Arc::new(crate::store::access::catalog(store.pool(), &self.keygate_identifier).await?);
        let mut slot = self
            .catalog
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.epoch.load(Ordering::Acquire) == epoch {
            *slot = Some(loaded.clone());
        }
        Ok(loaded)
    }

    /// The account whose current or grace-period client ID is `client_id`.
    pub async fn by_client_id(
        &self,
        store: &Store,
        client_id: &str,
    ) -> Result<Option<Arc<AuthRecord>>, StoreError> {
        if let Some(hit) = self.read().by_client.get(client_id) {
            return Ok(Some(hit.clone()));
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let catalog = self.catalog(store).await?;
        let found = accounts::auth_by_client_id(store.pool(), &catalog, client_id).await?;
        Ok(found.map(|rec| self.fill(rec, epoch)))
    }

    /// The account with id `id`.
    pub async fn by_id(
        &self,
        store: &Store,
        id: &str,
    ) -> Result<Option<Arc<AuthRecord>>, StoreError> {
        if let Some(hit) = self.read().by_id.get(id) {
            return Ok(Some(hit.clone()));
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let catalog = self.catalog(store).await?;
        let found = accounts::auth_by_id(store.pool(), &catalog, id).await?;
        Ok(found.map(|rec| self.fill(rec, epoch)))
    }

    /// The personal access token whose keyed hash is `hash`.
    pub async fn personal_token(
        &self,
        store: &Store,
        hash: &str,
    ) -> Result<Option<Arc<PersonalTokenRow>>, StoreError> {
        if let Some(hit) = self
            .personal
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(hash)
        {
            return Ok(Some(hit.clone()));
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let Some(row) = personal_tokens::by_hash(store.pool(), hash).await? else {
            return Ok(None);
        };
        let row = Arc::new(row);
        let mut map = self
            .personal
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.epoch.load(Ordering::Acquire) == epoch {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(hash.to_owned(), row.clone());
        }
        Ok(Some(row))
    }

    fn drop_personal(&self, keep: impl Fn(&PersonalTokenRow) -> bool) {
        self.personal
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, t| keep(t));
    }

    fn fill(&self, rec: AuthRecord, epoch: u64) -> Arc<AuthRecord> {
        let rec = Arc::new(rec);
        let mut e = self.write();
        // Compare under the lock: an invalidation bumps the epoch under the same lock.
        if self.epoch.load(Ordering::Acquire) == epoch {
            if e.by_id.len() >= MAX_ENTRIES {
                *e = Entries::default();
            }
            // A fresher record of the same account replaces the cached one: drop the client
            // IDs only the cached one had (say, the pair a regeneration replaced), or they
            // would outlive the change-feed entry that drops this record.
            if let Some(prev) = e.by_id.remove(&rec.id) {
                e.by_client.remove(&prev.client_id);
                if let Some(old) = &prev.old_client_id {
                    e.by_client.remove(old);
                }
            }
            e.by_client.insert(rec.client_id.clone(), rec.clone());
            if let Some(old) = &rec.old_client_id {
                e.by_client.insert(old.clone(), rec.clone());
            }
            e.by_id.insert(rec.id.clone(), rec.clone());
        }
        rec
    }

    /// Applies one change from the feed (or made by this instance).
    pub fn apply(&self, change: &Change) {
        match change {
            Change::Account(id) => {
                self.drop_personal(|t| t.account_id != *id);
                let mut e = self.write();
                self.epoch.fetch_add(1, Ordering::AcqRel);
                if let Some(rec) = e.by_id.remove(id) {
                    e.by_client.remove(&rec.client_id);
                    if let Some(old) = &rec.old_client_id {
                        e.by_client.remove(old);
                    }
                }
            }
            Change::AllAccounts => {
                let mut e = self.write();
                self.epoch.fetch_add(1, Ordering::AcqRel);
                *e = Entries::default();
                *self
                    .catalog
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            }
            Change::PersonalToken(hash) => {
                self.epoch.fetch_add(1, Ordering::AcqRel);
                self.drop_personal(|t| t.token_hash != *hash);
            }
            // Trusted issuers are not accounts: `OAuth` reloads them.
            Change::TrustedIssuers => {}
            Change::TokenRevoked(jti) => {
                // The expiry is unknown here; keep it until the next reload prunes it.
                self.revoke(jti, i64::MAX);
            }
            // The keys and the policies are the authorization server's, not the cache's.
            Change::SigningKeys | Change::Policies => {}
        }
    }

    /// Marks token `jti` revoked until `expires_at` (epoch ms).
    pub fn revoke(&self, jti: &str, expires_at: i64) {
        self.revoked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(jti.to_owned(), expires_at);
    }

    /// Whether token `jti` is revoked.
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(jti)
    }

    /// Replaces the revocation list with `list` (as loaded from the database).
    pub fn set_revoked(&self, list: Vec<(String, i64)>) {
        *self
            .revoked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = list.into_iter().collect();
    }

    /// Number of cached accounts.
    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    /// Whether no account is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
