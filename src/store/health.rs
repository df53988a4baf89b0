//! The readiness probe's question to the database.

use sqlx::AnyPool;

use super::StoreError;

/// Runs the cheapest query there is, to learn whether the database answers.
#[tracing::instrument(skip_all)]
pub async fn ping(pool: &AnyPool) -> Result<(), StoreError> {
    sqlx::query("select 1").execute(pool).await?;
    Ok(())
}
