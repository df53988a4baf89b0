//! Token-signing keys, stored encrypted under the master key.
//!
//! A key is *current* while `retired_at` is null: the oldest current key signs. Rotation
//! adds a new key and gives every current one a `retired_at` in the future, the moment no
//! token it signed can still be alive; until then it is published and verifies.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, Tx};

/// A signing key as stored.
#[derive(Clone)]
pub struct KeyRow {
    /// Key id (`kid`).
    pub kid: String,
    /// JWS algorithm, e.g. `ES256`.
    pub alg: String,
    /// Nonce and AES-256-GCM ciphertext of the PKCS#8 private key, base64.
    pub private_key_enc: String,
    /// Public key as a JWK (JSON text).
    pub public_jwk: String,
    /// Created (epoch ms).
    pub created_at: i64,
    /// When it leaves the JWKS (epoch ms); `None` while it is current.
    pub retired_at: Option<i64>,
}

/// Keys still published at `now` (current, or retiring later), oldest first.
#[instrument(skip_all)]
pub async fn published(pool: &AnyPool, now: i64) -> Result<Vec<KeyRow>, StoreError> {
    let rows = sqlx::query(
        "select kid, alg, private_key_enc, public_jwk, created_at, retired_at from signing_keys \
         where retired_at is null or retired_at > $1 order by created_at, kid",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KeyRow {
                kid: r.try_get("kid")?,
                alg: r.try_get("alg")?,
                private_key_enc: r.try_get("private_key_enc")?,
                public_jwk: r.try_get("public_jwk")?,
                created_at: r.try_get("created_at")?,
                retired_at: r.try_get("retired_at")?,
            })
        })
        .collect()
}

/// Stores a new key.
#[instrument(skip_all)]
pub async fn insert(pool: &AnyPool, key: &KeyRow) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    insert_in(&mut tx, key).await?;
    tx.commit().await?;
    Ok(())
}

/// Stores a new key in the caller's transaction.
#[instrument(skip_all)]
pub async fn insert_in(tx: &mut Tx, key: &KeyRow) -> Result<(), StoreError> {
    sqlx::query(
        "insert into signing_keys (kid, alg, private_key_enc, public_jwk, created_at, retired_at) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(&key.private_key_enc)
    .bind(&key.public_jwk)
    .bind(key.created_at)
    .bind(key.retired_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives every current key except `keep` the retirement time `at` (epoch ms); the kids
/// retired.
#[instrument(skip_all)]
pub async fn retire_current(tx: &mut Tx, keep: &str, at: i64) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "update signing_keys set retired_at = $1 where retired_at is null and kid <> $2 \
         returning kid",
    )
    .bind(at)
    .bind(keep)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("kid")?)).collect()
}

/// The longest token lifetime of any account (seconds; 0 without accounts): no token can
/// outlive it.
#[instrument(skip_all)]
pub async fn longest_token_lifetime(tx: &mut Tx) -> Result<i64, StoreError> {
    Ok(
        sqlx::query("select coalesce(max(token_lifetime_secs), 0) as secs from service_accounts")
            .fetch_one(&mut **tx)
            .await?
            .try_get("secs")?,
    )
}
