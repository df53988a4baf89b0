//! A consistent copy of a live SQLite database.

use tracing::instrument;

use super::{Backend, Store, StoreError};

/// Writes a consistent copy of the SQLite database to `path` (`VACUUM INTO`: one read
/// transaction, so writers may go on meanwhile). The file must not exist yet.
#[instrument(skip_all)]
pub async fn vacuum_into(store: &Store, path: &str) -> Result<(), StoreError> {
    if store.backend() != Backend::Sqlite {
        return Err(StoreError::Unsupported(
            "VACUUM INTO copies SQLite databases only".into(),
        ));
    }
    sqlx::query("vacuum into $1")
        .bind(path)
        .execute(store.pool())
        .await?;
    Ok(())
}
