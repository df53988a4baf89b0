//! Groups: they hold roles, and service accounts join them.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, Tx};
use crate::store::accounts::RoleRef;

pub use crate::domain::group::GroupRow;

/// Every group, by name, with roles and members.
#[instrument(skip_all)]
pub async fn list(pool: &AnyPool) -> Result<Vec<GroupRow>, StoreError> {
    let rows = sqlx::query("select id, name, description from groups order by lower(name), id")
        .fetch_all(pool)
        .await?;
    let roles = sqlx::query(
        "select gr.group_id as group_id, r.id as id, r.name as name from group_roles gr \
         join roles r on r.id = gr.role_id order by lower(r.name)",
    )
    .fetch_all(pool)
    .await?;
    let members = sqlx::query(
        "select ag.group_id as group_id, a.id as id, a.name as name from account_groups ag \
         join service_accounts a on a.id = ag.account_id order by lower(a.name)",
    )
    .fetch_all(pool)
    .await?;
    let refs = |rows: &[sqlx::any::AnyRow], gid: &str| -> Result<Vec<RoleRef>, sqlx::Error> {
        let mut out = Vec::new();
        for r in rows {
            if r.try_get::<String, _>("group_id")? == gid {
                out.push(RoleRef {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                });
            }
        }
        Ok(out)
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        out.push(GroupRow {
            roles: refs(&roles, &id)?,
            members: refs(&members, &id)?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            id,
        });
    }
    Ok(out)
}

/// Inserts or replaces a group's fields, roles and members (`insert` true for a new group).
#[instrument(skip_all)]
pub async fn save(
    tx: &mut Tx,
    group: &GroupRow,
    insert: bool,
    now: i64,
) -> Result<bool, StoreError> {
    if insert {
        sqlx::query(
            "insert into groups (id, name, description, created_at, updated_at) \
             values ($1, $2, $3, $4, $4)",
        )
        .bind(&group.id)
        .bind(&group.name)
        .bind(&group.description)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    } else {
        let done = sqlx::query(
            "update groups set name = $2, description = $3, updated_at = $4 where id = $1",
        )
        .bind(&group.id)
        .bind(&group.name)
        .bind(&group.description)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
    }
    sqlx::query("delete from group_roles where group_id = $1")
        .bind(&group.id)
        .execute(&mut **tx)
        .await?;
    for r in &group.roles {
        sqlx::query("insert into group_roles (group_id, role_id) values ($1, $2)")
            .bind(&group.id)
            .bind(&r.id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("delete from account_groups where group_id = $1")
        .bind(&group.id)
        .execute(&mut **tx)
        .await?;
    for m in &group.members {
        sqlx::query("insert into account_groups (account_id, group_id) values ($1, $2)")
            .bind(&m.id)
            .bind(&group.id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(true)
}

/// Deletes a group; its members leave it.
#[instrument(skip_all)]
pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    for sql in [
        "delete from account_groups where group_id = $1",
        "delete from group_roles where group_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    let done = sqlx::query("delete from groups where id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The groups an account belongs to.
#[instrument(skip_all)]
pub async fn of_account(pool: &AnyPool, account_id: &str) -> Result<Vec<RoleRef>, StoreError> {
    let rows = sqlx::query(
        "select g.id as id, g.name as name from account_groups ag join groups g \
         on g.id = ag.group_id where ag.account_id = $1 order by lower(g.name)",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RoleRef {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
            })
        })
        .collect()
}

/// Replaces the groups an account belongs to.
#[instrument(skip_all)]
pub async fn set_account_groups(
    tx: &mut Tx,
    account_id: &str,
    group_ids: &[String],
) -> Result<(), StoreError> {
    sqlx::query("delete from account_groups where account_id = $1")
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    for g in group_ids {
        sqlx::query("insert into account_groups (account_id, group_id) values ($1, $2)")
            .bind(account_id)
            .bind(g)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
