//! Roles and the permissions they hold.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::StoreError;

pub use crate::domain::access::Role as RoleRow;

/// Every role, sorted by name, with its permissions.
#[instrument(skip_all)]
pub async fn list(pool: &AnyPool) -> Result<Vec<RoleRow>, StoreError> {
    let rows = sqlx::query(
        "select r.id as id, r.name as name, r.description as description, r.builtin as builtin, \
         r.api_id as api_id, rp.permission as permission \
         from roles r left join role_permissions rp on rp.role_id = r.id \
         order by lower(r.name), r.id, rp.permission",
    )
    .fetch_all(pool)
    .await?;
    let mut out: Vec<RoleRow> = Vec::new();
    for row in rows {
        let id: String = row.try_get("id")?;
        if out.last().is_none_or(|r| r.id != id) {
            out.push(RoleRow {
                id,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                builtin: row.try_get::<i64, _>("builtin")? != 0,
                api_id: row.try_get("api_id")?,
                permissions: Vec::new(),
            });
        }
        if let (Some(last), Some(p)) = (
            out.last_mut(),
            row.try_get::<Option<String>, _>("permission")?,
        ) {
            last.permissions.push(p);
        }
    }
    Ok(out)
}

/// The roles with the given ids (unknown ids are left out).
#[instrument(skip_all)]
pub async fn by_ids(pool: &AnyPool, ids: &[String]) -> Result<Vec<RoleRow>, StoreError> {
    let all = list(pool).await?;
    Ok(all.into_iter().filter(|r| ids.contains(&r.id)).collect())
}

/// Inserts a custom role with its permissions.
#[instrument(skip_all)]
pub async fn insert(tx: &mut super::Tx, role: &RoleRow, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "insert into roles (id, name, description, builtin, created_at, updated_at, api_id) \
         values ($1, $2, $3, 0, $4, $4, $5)",
    )
    .bind(&role.id)
    .bind(&role.name)
    .bind(&role.description)
    .bind(now)
    .bind(&role.api_id)
    .execute(&mut **tx)
    .await?;
    set_permissions(tx, &role.id, &role.permissions).await
}

/// Changes a custom role's name, description and permissions (built-in roles never match).
#[instrument(skip_all)]
pub async fn update(tx: &mut super::Tx, role: &RoleRow, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update roles set name = $2, description = $3, updated_at = $4, api_id = $5 \
         where id = $1 and builtin = 0",
    )
    .bind(&role.id)
    .bind(&role.name)
    .bind(&role.description)
    .bind(now)
    .bind(&role.api_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    set_permissions(tx, &role.id, &role.permissions).await?;
    Ok(true)
}

async fn set_permissions(
    tx: &mut super::Tx,
    role_id: &str,
    permissions: &[String],
) -> Result<(), StoreError> {
    sqlx::query("delete from role_permissions where role_id = $1")
        .bind(role_id)
        .execute(&mut **tx)
        .await?;
    for p in permissions {
        sqlx::query("insert into role_permissions (role_id, permission) values ($1, $2)")
            .bind(role_id)
            .bind(p)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Deletes a custom role; its assignments to accounts, groups and users go with it.
#[instrument(skip_all)]
pub async fn delete(tx: &mut super::Tx, id: &str) -> Result<bool, StoreError> {
    for sql in [
        "delete from account_roles where role_id = $1",
        "delete from group_roles where role_id = $1",
        "delete from account_bindings where role_id = $1",
        "delete from group_bindings where role_id = $1",
        "delete from user_roles where role_id = $1",
        "delete from role_permissions where role_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    let done = sqlx::query("delete from roles where id = $1 and builtin = 0")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Who holds a role: (service accounts directly, groups, console users).
#[instrument(skip_all)]
pub async fn holders(pool: &AnyPool, id: &str) -> Result<(i64, i64, i64), StoreError> {
    let row = sqlx::query(
        "select (select count(*) from account_roles where role_id = $1) \
              + (select count(*) from account_bindings where role_id = $1) as accounts, \
                (select count(*) from group_roles where role_id = $1) \
              + (select count(*) from group_bindings where role_id = $1) as groups_, \
                (select count(*) from user_roles where role_id = $1) as users",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    Ok((
        row.try_get("accounts")?,
        row.try_get("groups_")?,
        row.try_get("users")?,
    ))
}
