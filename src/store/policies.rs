//! The queries behind the account policies: who holds too many roles, whose token lifetime
//! a cap shortens, whose credentials expire, which accounts are unused.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, Tx};

/// Every `(account, role)` pair an account holds, directly or through its groups, at the
/// root or at nodes (a role counts once however many ways it is held).
const HELD_ROLES: &str = "select account_id, role_id from account_roles \
     union select account_id, role_id from account_bindings \
     union select ag.account_id, gr.role_id from group_roles gr \
       join account_groups ag on ag.group_id = gr.group_id \
     union select ag.account_id, gb.role_id from group_bindings gb \
       join account_groups ag on ag.group_id = gb.group_id";

/// Which accounts a role-limit check looks at.
#[derive(Debug, Clone, Copy)]
pub enum Holders<'a> {
    /// One account.
    Account(&'a str),
    /// Every member of a group.
    GroupMembers(&'a str),
}

/// The accounts among `holders` that hold more than `max` roles, as seen inside the
/// caller's transaction (after its changes): `(name, count)`, at most 10.
#[instrument(skip_all)]
pub async fn over_role_limit(
    tx: &mut Tx,
    holders: Holders<'_>,
    max: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let (filter, key) = match holders {
        Holders::Account(id) => ("a.id = $1", id),
        Holders::GroupMembers(id) => (
            "a.id in (select account_id from account_groups where group_id = $1)",
            id,
        ),
    };
    let sql = format!(
        "select a.name as name, count(*) as n from service_accounts a \
         join ({HELD_ROLES}) h on h.account_id = a.id where {filter} \
         group by a.id, a.name having count(*) > $2 order by a.name limit 10"
    );
    let rows = sqlx::query(&sql)
        .bind(key)
        .bind(max)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("n")?)))
        .collect()
}

/// Every account holding more than `max` roles: `(id, name, count)`, at most `limit`.
#[instrument(skip_all)]
pub async fn all_over_role_limit(
    pool: &AnyPool,
    max: i64,
    limit: i64,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let sql = format!(
        "select a.id as id, a.name as name, count(*) as n from service_accounts a \
         join ({HELD_ROLES}) h on h.account_id = a.id \
         group by a.id, a.name having count(*) > $1 order by a.name limit $2"
    );
    let rows = sqlx::query(&sql)
        .bind(max)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?, r.try_get("n")?)))
        .collect()
}

/// Accounts whose token lifetime is longer than `cap` seconds: `(id, name, secs)`.
#[instrument(skip_all)]
pub async fn longer_lifetimes(
    pool: &AnyPool,
    cap: i64,
    limit: i64,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let rows = sqlx::query(
        "select id, name, token_lifetime_secs from service_accounts \
         where token_lifetime_secs > $1 order by name_key, id limit $2",
    )
    .bind(cap)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("name")?,
                r.try_get("token_lifetime_secs")?,
            ))
        })
        .collect()
}

/// A credential of an enabled account.
#[derive(Debug, Clone)]
pub struct CredentialAge {
    /// Account id.
    pub account_id: String,
    /// Account name.
    pub account_name: String,
    /// The key's kid, or `None` for the client secret.
    pub kid: Option<String>,
    /// When it was made (epoch ms).
    pub created_at: i64,
}

/// The credentials of enabled accounts, oldest first, at most `limit`.
#[instrument(skip_all)]
pub async fn credentials(pool: &AnyPool, limit: i64) -> Result<Vec<CredentialAge>, StoreError> {
    let rows = sqlx::query(
        "select id, name, '' as kid, secret_created_at as made from service_accounts \
         where enabled = 1 and auth_method <> 'private_key_jwt' \
         union all select a.id, a.name, k.kid, k.created_at from client_keys k \
         join service_accounts a on a.id = k.account_id where a.enabled = 1 \
         order by made, id limit $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let kid: String = r.try_get("kid")?;
            Ok(CredentialAge {
                account_id: r.try_get("id")?,
                account_name: r.try_get("name")?,
                kid: (!kid.is_empty()).then_some(kid),
                created_at: r.try_get("made")?,
            })
        })
        .collect()
}

/// Enabled accounts with no use since `before` (epoch ms): no token issued to them nor
/// made with one of their personal tokens, and no change by an administrator (an account
/// enabled again counts from then); never-used ones count from their creation.
/// `(id, name)`, at most `limit`.
#[instrument(skip_all)]
pub async fn unused(
    pool: &AnyPool,
    before: i64,
    limit: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "select id, name from service_accounts a where enabled = 1 \
         and coalesce(last_used_at, 0) < $1 and created_at < $1 and updated_at < $1 \
         and not exists (select 1 from personal_tokens p where p.account_id = a.id \
                         and p.last_used_at >= $1) \
         order by created_at, id limit $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .collect()
}
