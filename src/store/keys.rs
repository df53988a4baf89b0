//! Token-signing keys, stored encrypted under the master key.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::StoreError;

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
}

/// Keys not retired, oldest first: the first signs, all are published in the JWKS.
#[instrument(skip_all)]
pub async fn active(pool: &AnyPool) -> Result<Vec<KeyRow>, StoreError> {
    let rows = sqlx::query(
        "select kid, alg, private_key_enc, public_jwk, created_at from signing_keys \
         where retired_at is null order by created_at, kid",
    )
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
            })
        })
        .collect()
}

/// Stores a new key.
#[instrument(skip_all)]
pub async fn insert(pool: &AnyPool, key: &KeyRow) -> Result<(), StoreError> {
    sqlx::query(
        "insert into signing_keys (kid, alg, private_key_enc, public_jwk, created_at) \
         values ($1, $2, $3, $4, $5)",
    )
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(&key.private_key_enc)
    .bind(&key.public_jwk)
    .bind(key.created_at)
    .execute(pool)
    .await?;
    Ok(())
}
