//! Issued tokens, gathered in memory by the token endpoint and recorded in batches, so an
//! administrator can list and revoke an account's sessions without a write per token.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::sessions::{self, KEPT_PER_ACCOUNT, SessionRow};
use crate::store::{Store, StoreError};

/// Pending sessions by account id, newest last, at most [`KEPT_PER_ACCOUNT`] each.
#[derive(Default)]
pub struct SessionRecorder {
    pending: Mutex<HashMap<String, Vec<SessionRow>>>,
}

impl SessionRecorder {
    /// Notes an issued token.
    pub fn record(&self, session: SessionRow) {
        let mut p = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = p.entry(session.account_id.clone()).or_default();
        if list.len() >= usize::try_from(KEPT_PER_ACCOUNT).unwrap_or(100) {
            list.remove(0);
        }
        list.push(session);
    }

    /// Writes everything pending in one transaction.
    pub async fn flush(&self, store: &Store) -> Result<(), StoreError> {
        let batch: Vec<SessionRow> = {
            let mut p = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if p.is_empty() {
                return Ok(());
            }
            p.drain().flat_map(|(_, v)| v).collect()
        };
        let mut tx = store.begin().await?;
        sessions::record(&mut tx, &batch).await?;
        tx.commit().await?;
        Ok(())
    }
}
