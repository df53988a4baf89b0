//! What the operations surface needs from the database below the admin operations: the
//! pool gauges for `/metrics`, the minute's audit of failed client authentications, and the
//! SQLite backup, so `web/` and `cli/` reach the database only through `admin`.

use std::path::PathBuf;

use super::{Admin, AdminError};
use crate::oauth::backoff::Backoff;
use crate::store::{Backend, Store, StoreError};

/// The connection pool as `/metrics` shows it (`keygate_db_pool_connections{state}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGauges {
    /// Connections handed out now.
    pub in_use: usize,
    /// Open connections waiting for work.
    pub idle: usize,
    /// The most the pool opens.
    pub max: usize,
}

impl Admin {
    /// The pool's connections now.
    pub fn pool_gauges(&self) -> PoolGauges {
        let pool = self.store.pool();
        let size = pool.size() as usize;
        let idle = pool.num_idle();
        PoolGauges {
            in_use: size.saturating_sub(idle),
            idle,
            max: pool.options().get_max_connections() as usize,
        }
    }

    /// Writes the `client_auth.failed` events of the failures `backoff` counted since the
    /// last call (one per account, with the counts and the addresses); how many it wrote.
    pub async fn audit_failed_authentications(
        &self,
        backoff: &Backoff,
    ) -> Result<usize, AdminError> {
        Ok(crate::oauth::backoff::audit_failures(backoff, &self.oauth, &self.store).await?)
    }
}

/// Whether `database_url` names a PostgreSQL database (else SQLite).
pub fn is_postgres(database_url: &str) -> Result<bool, StoreError> {
    Ok(Store::backend_of(database_url)? == Backend::Postgres)
}

/// The file of a SQLite `database_url`; `None` for an in-memory database.
pub fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    Store::sqlite_path(database_url)
}

/// Writes a consistent copy of the live SQLite database at `database_url` to `to` (one read
/// transaction: writers go on meanwhile).
pub async fn backup_sqlite(database_url: &str, to: &str) -> Result<(), StoreError> {
    let store = Store::connect(database_url).await?;
    let result = crate::store::backup::vacuum_into(&store, to).await;
    store.close().await;
    result
}
