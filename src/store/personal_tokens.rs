//! Personal access tokens as stored: a keyed hash of the token, never the token.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, Tx};

pub use crate::domain::personal_token::PersonalTokenRow;

const COLUMNS: &str = "id, account_id, name, prefix, token_hash, api_id, scope, created_at, \
                       expires_at, last_used_at";

fn of_row(r: &sqlx::any::AnyRow) -> Result<PersonalTokenRow, sqlx::Error> {
    Ok(PersonalTokenRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        token_hash: r.try_get("token_hash")?,
        api_id: r.try_get("api_id")?,
        scope: r.try_get("scope")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

/// Stores a new token.
#[instrument(skip_all)]
pub async fn insert(tx: &mut Tx, t: &PersonalTokenRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "insert into personal_tokens ({COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&t.id)
    .bind(&t.account_id)
    .bind(&t.name)
    .bind(&t.prefix)
    .bind(&t.token_hash)
    .bind(&t.api_id)
    .bind(&t.scope)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.last_used_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The tokens of an account, newest first.
#[instrument(skip_all)]
pub async fn of_account(
    pool: &AnyPool,
    account_id: &str,
) -> Result<Vec<PersonalTokenRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "select {COLUMNS} from personal_tokens where account_id = $1 order by created_at desc, id"
    ))
    .bind(account_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(of_row).collect::<Result<_, _>>()?)
}

/// The token whose hash is `hash`.
#[instrument(skip_all)]
pub async fn by_hash(pool: &AnyPool, hash: &str) -> Result<Option<PersonalTokenRow>, StoreError> {
    Ok(sqlx::query(&format!(
        "select {COLUMNS} from personal_tokens where token_hash = $1"
    ))
    .bind(hash)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(of_row)
    .transpose()?)
}

/// Deletes token `id` of account `account_id`; the deleted row, if there was one.
#[instrument(skip_all)]
pub async fn delete(
    tx: &mut Tx,
    account_id: &str,
    id: &str,
) -> Result<Option<PersonalTokenRow>, StoreError> {
    let found = sqlx::query(&format!(
        "select {COLUMNS} from personal_tokens where id = $1 and account_id = $2"
    ))
    .bind(id)
    .bind(account_id)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(of_row)
    .transpose()?;
    if found.is_some() {
        sqlx::query("delete from personal_tokens where id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(found)
}

/// Records last-used times gathered in memory.
#[instrument(skip_all)]
pub async fn record_last_used(tx: &mut Tx, used: &[(String, i64)]) -> Result<(), StoreError> {
    for (id, at) in used {
        sqlx::query(
            "update personal_tokens set last_used_at = $2 \
             where id = $1 and (last_used_at is null or last_used_at < $2)",
        )
        .bind(id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
