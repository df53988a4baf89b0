//! Named facts an instance records in the database (`settings` table), such as the issuer
//! URL the server runs with, read back by CLI commands.

use sqlx::AnyPool;
use tracing::instrument;

use super::StoreError;

/// Name under which `serve` records its issuer URL.
pub const ISSUER: &str = "issuer";

/// Sets `name` to `value` (the last writer wins), at `now` (epoch ms).
#[instrument(skip_all)]
pub async fn put(pool: &AnyPool, name: &str, value: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "insert into settings (name, value, updated_at) values ($1, $2, $3) \
         on conflict (name) do update set value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// The value of `name`, if one was recorded.
#[instrument(skip_all)]
pub async fn get(pool: &AnyPool, name: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar::<_, String>("select value from settings where name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?,
    )
}
