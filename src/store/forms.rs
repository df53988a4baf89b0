//! Console forms already sent (`console_forms`), so a reload cannot post one twice.

use sqlx::AnyPool;
use tracing::instrument;

use super::StoreError;

/// How long a sent form's id is remembered (ms): a day.
const REMEMBERED_MS: i64 = 24 * 3_600_000;

/// Records `id` as sent at `now` (epoch ms): true when it was not sent before. Forgets ids
/// older than a day first.
#[instrument(skip_all)]
pub async fn claim(pool: &AnyPool, id: &str, now: i64) -> Result<bool, StoreError> {
    sqlx::query("delete from console_forms where sent_at < $1")
        .bind(now - REMEMBERED_MS)
        .execute(pool)
        .await?;
    let done = sqlx::query(
        "insert into console_forms (id, sent_at) values ($1, $2) on conflict (id) do nothing",
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets `id`, so the same form may be sent again (its action was refused).
#[instrument(skip_all)]
pub async fn release(pool: &AnyPool, id: &str) -> Result<(), StoreError> {
    sqlx::query("delete from console_forms where id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
