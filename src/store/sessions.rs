//! Recently issued access tokens (an account's sessions), recorded in batches.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, Tx};

/// Sessions kept per account; older ones drop out of the list (they still expire or can be
/// revoked all at once).
pub const KEPT_PER_ACCOUNT: i64 = 100;

/// An issued token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Token id.
    pub jti: String,
    /// Its account.
    pub account_id: String,
    /// Client ID it was issued to.
    pub client_id: String,
    /// The account's token generation when it was issued.
    pub generation: i64,
    /// Issued (epoch ms).
    pub issued_at: i64,
    /// Expires (epoch ms).
    pub expires_at: i64,
    /// The permissions it carries, space-separated ("" for none).
    pub scope: String,
    /// The address the token was requested from ("" when unknown).
    pub source: String,
}

/// Records a batch of issued tokens and trims each account's list.
#[instrument(skip_all)]
pub async fn record(tx: &mut Tx, batch: &[SessionRow]) -> Result<(), StoreError> {
    let mut accounts: Vec<&str> = Vec::new();
    for s in batch {
        // The account may have been deleted since: skip its tokens.
        sqlx::query(
            "insert into issued_tokens (jti, account_id, client_id, generation, issued_at, \
             expires_at, scope, source) select $1, $2, $3, $4, $5, $6, $7, $8 \
             where exists (select 1 from service_accounts where id = $2) \
             on conflict (jti) do nothing",
        )
        .bind(&s.jti)
        .bind(&s.account_id)
        .bind(&s.client_id)
        .bind(s.generation)
        .bind(s.issued_at)
        .bind(s.expires_at)
        .bind(&s.scope)
        .bind(&s.source)
        .execute(&mut **tx)
        .await?;
        if !accounts.contains(&s.account_id.as_str()) {
            accounts.push(&s.account_id);
        }
    }
    for a in accounts {
        sqlx::query(
            "delete from issued_tokens where account_id = $1 and jti not in \
             (select jti from issued_tokens where account_id = $1 \
              order by issued_at desc, jti limit $2)",
        )
        .bind(a)
        .bind(KEPT_PER_ACCOUNT)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// An account's live sessions, newest first: not expired, not revoked, and of its current
/// generation (or of its previous credentials while their grace period runs).
#[instrument(skip_all)]
pub async fn live(
    pool: &AnyPool,
    account_id: &str,
    now: i64,
) -> Result<Vec<SessionRow>, StoreError> {
    let rows = sqlx::query(
        "select t.jti as jti, t.account_id as account_id, t.client_id as client_id, \
                t.generation as generation, t.issued_at as issued_at, t.expires_at as expires_at, \
                t.scope as scope, t.source as source \
         from issued_tokens t join service_accounts a on a.id = t.account_id \
         where t.account_id = $1 and t.expires_at > $2 and a.enabled = 1 \
           and t.jti not in (select jti from revoked_tokens) \
           and ((t.client_id = a.client_id and t.generation = a.token_generation) \
                or (t.client_id = a.old_client_id and a.old_expires_at > $2)) \
         order by t.issued_at desc, t.jti",
    )
    .bind(account_id)
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SessionRow {
                jti: r.try_get("jti")?,
                account_id: r.try_get("account_id")?,
                client_id: r.try_get("client_id")?,
                generation: r.try_get("generation")?,
                issued_at: r.try_get("issued_at")?,
                expires_at: r.try_get("expires_at")?,
                scope: r.try_get("scope")?,
                source: r.try_get("source")?,
            })
        })
        .collect()
}

/// Forgets an account's recorded sessions (after revoking them all).
#[instrument(skip_all)]
pub async fn forget_account(tx: &mut Tx, account_id: &str) -> Result<(), StoreError> {
    sqlx::query("delete from issued_tokens where account_id = $1")
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes records of expired tokens.
#[instrument(skip_all)]
pub async fn prune(pool: &AnyPool, now: i64) -> Result<(), StoreError> {
    sqlx::query("delete from issued_tokens where expires_at < $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}
