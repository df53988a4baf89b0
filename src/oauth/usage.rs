//! Last-used times, gathered in memory by the token endpoint and written in batches, so
//! issuing a token never waits for a database write.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::{Store, StoreError, accounts};

/// Pending last-used times by account id.
#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<HashMap<String, i64>>,
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

    /// Writes everything pending in one transaction.
    pub async fn flush(&self, store: &Store) -> Result<(), StoreError> {
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
