//! The change feed that keeps every instance's in-memory caches coherent, and the list of
//! revoked tokens. Every change that affects authentication appends a row in the same
//! transaction; on PostgreSQL it also notifies `keygate_changes`, delivered at commit.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{Backend, StoreError, Tx};

/// PostgreSQL channel that wakes other instances when the feed grows.
pub const CHANNEL: &str = "keygate_changes";

/// What a change invalidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An account's credentials, status, roles or token cut-off changed: drop its cache entry.
    Account(String),
    /// A role or group changed: drop every cached account (permissions may differ).
    AllAccounts,
    /// A token (by `jti`) was revoked.
    TokenRevoked(String),
    /// A trusted issuer was added, changed or deleted: reload them.
    TrustedIssuers,
    /// A signing key was rotated in: load the published keys again.
    SigningKeys,
    /// A personal access token (by the hash of its value) was deleted.
    PersonalToken(String),
    /// The account policies changed: load them again.
    Policies,
}

impl Change {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Account(id) => ("account", id),
            Self::AllAccounts => ("all_accounts", ""),
            Self::TokenRevoked(jti) => ("token_revoked", jti),
            Self::TrustedIssuers => ("trusted_issuers", ""),
            Self::SigningKeys => ("signing_keys", ""),
            Self::PersonalToken(hash) => ("personal_token", hash),
            Self::Policies => ("policies", ""),
        }
    }

    fn from_parts(kind: &str, key: String) -> Option<Self> {
        match kind {
            "account" => Some(Self::Account(key)),
            "all_accounts" => Some(Self::AllAccounts),
            "token_revoked" => Some(Self::TokenRevoked(key)),
            "trusted_issuers" => Some(Self::TrustedIssuers),
            "signing_keys" => Some(Self::SigningKeys),
            "personal_token" => Some(Self::PersonalToken(key)),
            "policies" => Some(Self::Policies),
            _ => None,
        }
    }
}

/// Appends a change in the caller's transaction.
#[instrument(skip_all)]
pub async fn append(
    tx: &mut Tx,
    backend: Backend,
    change: &Change,
    at: i64,
) -> Result<(), StoreError> {
    let (kind, key) = change.parts();
    sqlx::query("insert into changes (at, kind, key) values ($1, $2, $3)")
        .bind(at)
        .bind(kind)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    if backend == Backend::Postgres {
        sqlx::query("select pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Changes after sequence number `after`, and any made at or after `recent_at` (epoch ms),
/// oldest first, at most `limit`.
///
/// On PostgreSQL, sequence numbers are taken when a transaction inserts, not when it
/// commits, so a change can become visible after a later-numbered one has been read. Reading
/// the last few seconds again catches it; applying a change twice only drops a cache entry
/// twice.
#[instrument(skip_all)]
pub async fn since(
    pool: &AnyPool,
    after: i64,
    recent_at: i64,
    limit: i64,
) -> Result<Vec<(i64, Change)>, StoreError> {
    let rows = sqlx::query(
        "select seq, kind, key from changes where seq > $1 or at >= $2 order by seq limit $3",
    )
    .bind(after)
    .bind(recent_at)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let seq: i64 = r.try_get("seq")?;
        let kind: String = r.try_get("kind")?;
        if let Some(c) = Change::from_parts(&kind, r.try_get("key")?) {
            out.push((seq, c));
        }
    }
    Ok(out)
}

/// The newest sequence number (0 when the feed is empty).
#[instrument(skip_all)]
pub async fn last_seq(pool: &AnyPool) -> Result<i64, StoreError> {
    Ok(
        sqlx::query("select coalesce(max(seq), 0) as seq from changes")
            .fetch_one(pool)
            .await?
            .try_get("seq")?,
    )
}

/// Deletes feed rows older than `before` (epoch ms), and revocations of expired tokens.
#[instrument(skip_all)]
pub async fn prune(pool: &AnyPool, before: i64, now: i64) -> Result<(), StoreError> {
    sqlx::query("delete from changes where at < $1")
        .bind(before)
        .execute(pool)
        .await?;
    sqlx::query("delete from revoked_tokens where expires_at < $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Records that token `jti` of `account_id` is revoked until it expires.
#[instrument(skip_all)]
pub async fn revoke_token(
    tx: &mut Tx,
    jti: &str,
    account_id: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into revoked_tokens (jti, account_id, expires_at) values ($1, $2, $3) \
         on conflict (jti) do nothing",
    )
    .bind(jti)
    .bind(account_id)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Revoked tokens that have not expired yet: `(jti, expires_at)`.
#[instrument(skip_all)]
pub async fn revoked_tokens(pool: &AnyPool, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query("select jti, expires_at from revoked_tokens where expires_at >= $1")
        .bind(now)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("jti")?, r.try_get("expires_at")?)))
        .collect()
}

/// The expiry of revoked token `jti`, if it is revoked.
#[instrument(skip_all)]
pub async fn revoked_token(pool: &AnyPool, jti: &str) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query("select expires_at from revoked_tokens where jti = $1")
            .bind(jti)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get("expires_at"))
            .transpose()?,
    )
}
