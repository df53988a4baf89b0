//! Roles and the permissions they hold.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::StoreError;

/// A role with its permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    /// Role id (`builtin-…` for built-in roles, a UUID otherwise).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// What the role is for.
    pub description: String,
    /// Built-in roles cannot be changed or deleted.
    pub builtin: bool,
    /// Permissions, sorted.
    pub permissions: Vec<String>,
}

/// Every role, sorted by name, with its permissions.
#[instrument(skip_all)]
pub async fn list(pool: &AnyPool) -> Result<Vec<RoleRow>, StoreError> {
    let rows = sqlx::query(
        "select r.id as id, r.name as name, r.description as description, r.builtin as builtin, \
         rp.permission as permission \
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
