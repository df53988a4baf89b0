//! The public keys of `private_key_jwt` accounts, and the replay guard of their assertions.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{Backend, Store, StoreError, Tx};

pub use crate::domain::client_key::ClientKeyRow;

fn key_from_row(r: &sqlx::any::AnyRow) -> Result<ClientKeyRow, sqlx::Error> {
    Ok(ClientKeyRow {
        account_id: r.try_get("account_id")?,
        kid: r.try_get("kid")?,
        algs: r.try_get("algs")?,
        public_jwk: r.try_get("public_jwk")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

const COLUMNS: &str = "account_id, kid, algs, public_jwk, created_at, expires_at, last_used_at";

/// Adds a key to an account.
#[instrument(skip_all)]
pub async fn insert(tx: &mut Tx, key: &ClientKeyRow) -> Result<(), StoreError> {
    sqlx::query(
        "insert into client_keys (account_id, kid, algs, public_jwk, created_at, expires_at) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&key.account_id)
    .bind(&key.kid)
    .bind(&key.algs)
    .bind(&key.public_jwk)
    .bind(key.created_at)
    .bind(key.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The keys of an account, oldest first.
#[instrument(skip_all)]
pub async fn of_account(pool: &AnyPool, account_id: &str) -> Result<Vec<ClientKeyRow>, StoreError> {
    let sql =
        format!("select {COLUMNS} from client_keys where account_id = $1 order by created_at, kid");
    let rows = sqlx::query(&sql).bind(account_id).fetch_all(pool).await?;
    Ok(rows.iter().map(key_from_row).collect::<Result<_, _>>()?)
}

/// Deletes one key of an account; false if it has no such key.
#[instrument(skip_all)]
pub async fn delete(tx: &mut Tx, account_id: &str, kid: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("delete from client_keys where account_id = $1 and kid = $2")
        .bind(account_id)
        .bind(kid)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// How many keys an account has, seen from inside a transaction.
#[instrument(skip_all)]
pub async fn count(tx: &mut Tx, account_id: &str) -> Result<i64, StoreError> {
    Ok(
        sqlx::query("select count(*) as n from client_keys where account_id = $1")
            .bind(account_id)
            .fetch_one(&mut **tx)
            .await?
            .try_get("n")?,
    )
}

/// Records last-used times of keys gathered by the token endpoint: `(account, kid, at)`.
#[instrument(skip_all)]
pub async fn record_last_used(
    tx: &mut Tx,
    used: &[(String, String, i64)],
) -> Result<(), StoreError> {
    for (account, kid, at) in used {
        sqlx::query(
            "update client_keys set last_used_at = $3 where account_id = $1 and kid = $2 \
             and (last_used_at is null or last_used_at < $3)",
        )
        .bind(account)
        .bind(kid)
        .bind(*at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The replay guard, for a batch of accepted assertions `(client_id, jti, expires_at)`
/// (epoch ms): records them all in one statement (one commit) and answers, for each, whether
/// it was new. An assertion recorded before, by any instance sharing the database, is not
/// (insert-if-absent on the primary key; `returning` names the rows actually inserted).
/// A pair repeated within the batch is new at most once.
#[instrument(skip_all)]
pub async fn use_assertions(
    conn: &mut sqlx::AnyConnection,
    batch: &[(String, String, i64)],
) -> Result<Vec<bool>, StoreError> {
    let mut first = std::collections::HashSet::new();
    let unique: Vec<&(String, String, i64)> = batch
        .iter()
        .filter(|(c, j, _)| first.insert((c.as_str(), j.as_str())))
        .collect();
    if unique.is_empty() {
        return Ok(Vec::new());
    }
    // A few statement shapes, each prepared once per connection: the batch is padded to the
    // next power of two by repeating its last row, which the conflict clause absorbs.
    let shape = unique.len().next_power_of_two();
    let sql = assertion_insert(shape);
    let mut query = sqlx::query(&sql);
    for i in 0..shape {
        let (client_id, jti, expires_at) = unique[i.min(unique.len() - 1)];
        query = query.bind(client_id).bind(jti).bind(*expires_at);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut inserted = std::collections::HashSet::with_capacity(rows.len());
    for r in &rows {
        inserted.insert((
            r.try_get::<String, _>("client_id")?,
            r.try_get::<String, _>("jti")?,
        ));
    }
    // Each inserted pair answers true once: to its first occurrence in the batch.
    Ok(batch
        .iter()
        .map(|(c, j, _)| inserted.remove(&(c.clone(), j.clone())))
        .collect())
}

/// A connection of the replay guard's own, taken out of the pool (which opens another in
/// its place), so its session settings never reach other work. On PostgreSQL its commits
/// do not wait for the WAL flush: a row is visible to every instance at commit all the same
/// (so a replay elsewhere is refused); what a crash of the PostgreSQL server itself could
/// lose is the last fraction of a second of rows, the guarantee SQLite gives here with
/// `synchronous = normal`. It is named `keygate replay guard` in `pg_stat_activity`.
pub async fn guard_connection(store: &Store) -> Result<sqlx::AnyConnection, StoreError> {
    let mut conn = store.pool().acquire().await?.detach();
    if store.backend() == Backend::Postgres {
        for setting in [
            "set synchronous_commit = off",
            "set application_name = 'keygate replay guard'",
        ] {
            sqlx::Executor::execute(&mut conn, setting).await?;
        }
    }
    Ok(conn)
}

/// The insert of `n` used assertions (the placeholders `$1`…`$3n`, three per row).
fn assertion_insert(n: usize) -> String {
    let mut sql = String::from("insert into used_assertions (client_id, jti, expires_at) values ");
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        let p = 3 * i;
        sql.push_str(&format!("(${}, ${}, ${})", p + 1, p + 2, p + 3));
    }
    sql.push_str(" on conflict (client_id, jti) do nothing returning client_id, jti");
    sql
}

/// Forgets assertions that expired before `before` (epoch ms): they cannot be replayed.
#[instrument(skip_all)]
pub async fn prune_assertions(pool: &AnyPool, before: i64) -> Result<(), StoreError> {
    sqlx::query("delete from used_assertions where expires_at < $1")
        .bind(before)
        .execute(pool)
        .await?;
    Ok(())
}
