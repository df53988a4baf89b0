//! Named facts an instance records in the database (`settings` table), such as the issuer
//! URL the server runs with, read back by CLI commands, the account policies and leases.

use sqlx::AnyPool;
use tracing::instrument;

use super::{StoreError, Tx};

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

/// Name under which the account policies are kept (JSON, see `domain::policy`).
pub const POLICIES: &str = "policies";

/// The stored policies (JSON text), read in the caller's transaction.
#[instrument(skip_all)]
pub async fn get_in(tx: &mut Tx, name: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar::<_, String>("select value from settings where name = $1")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// Sets `name` to `value` in the caller's transaction, at `now` (epoch ms).
#[instrument(skip_all)]
pub async fn put_in(tx: &mut Tx, name: &str, value: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "insert into settings (name, value, updated_at) values ($1, $2, $3) \
         on conflict (name) do update set value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes the lease `name` for `holder` until `now + for_ms` if nobody holds it (or the
/// holder's lease ran out): true when taken. Both backends run the same upsert, so one
/// instance at a time does the leased work.
#[instrument(skip_all)]
pub async fn take_lease(
    pool: &AnyPool,
    name: &str,
    holder: &str,
    now: i64,
    for_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "insert into settings (name, value, updated_at) values ($1, $2, $3) \
         on conflict (name) do update set value = excluded.value, updated_at = excluded.updated_at \
         where settings.updated_at <= $4",
    )
    .bind(name)
    .bind(holder)
    .bind(now + for_ms)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives lease `name` back, if `holder` holds it.
#[instrument(skip_all)]
pub async fn release_lease(pool: &AnyPool, name: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query("update settings set updated_at = 0 where name = $1 and value = $2")
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(())
}
