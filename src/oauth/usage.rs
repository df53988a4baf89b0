//! Last-used times, gathered in memory by the token endpoint and written in batches, so
//! issuing a token never waits for a database write.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::{Store, StoreError, accounts};

/// Pending last-used times by account id, and of client keys by (account id, kid).
#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<HashMap<String, i64>>,
    keys: Mutex<HashMap<(String, String), i64>>,
    personal: Mutex<HashMap<String, i64>>,
}

impl UsageRecorder {
    /// Notes that account `id` got a token at `at` (epoch ms).
    pub fn record(&self, id: &str, at: i64) {
        let mut p = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match p.get_mut(id) {
            Some(t) => *t = (*t).max(at),
            None => {
                p.insert(id.to_owned(), at);
            }
        }
    }

    /// Notes that key `kid` of account `id` signed an accepted assertion at `at`.
    pub fn record_key(&self, id: &str, kid: &str, at: i64) {
        let mut k = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = k.entry((id.to_owned(), kid.to_owned())).or_insert(at);
        *t = (*t).max(at);
    }

    /// Notes that personal access token `id` was used at `at`.
    pub fn record_personal(&self, id: &str, at: i64) {
        let mut p = self
            .personal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match p.get_mut(id) {
            Some(t) => *t = (*t).max(at),
            None => {
                p.insert(id.to_owned(), at);
            }
        }
    }

    /// Writes everything pending in one transaction.
    pub async fn flush(&self, store: &Store) -> Result<(), StoreError> {
        let personal: Vec<(String, i64)> = self
            .personal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .collect();
        if !personal.is_empty() {
            let mut tx = store.begin().await?;
            crate::store::personal_tokens::record_last_used(&mut tx, &personal).await?;
            tx.commit().await?;
        }
        let keys: Vec<(String, String, i64)> = {
            let mut k = self
                .keys
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            k.drain().map(|((a, kid), t)| (a, kid, t)).collect()
        };
        if !keys.is_empty() {
            let mut tx = store.begin().await?;
            crate::store::client_keys::record_last_used(&mut tx, &keys).await?;
            tx.commit().await?;
        }
        let batch: Vec<(String, i64)> = {
            let mut p = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if p.is_empty() {
                return Ok(());
            }
            p.drain().collect()
        };
        let mut tx = store.begin().await?;
        accounts::record_last_used(&mut tx, &batch).await?;
        tx.commit().await?;
        Ok(())
    }
}
