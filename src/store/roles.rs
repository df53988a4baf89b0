//! Roles and the permissions they hold.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, placeholders};

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

/// The ids of the roles named `names` (case-insensitive); `Err` lists the unknown names.
#[instrument(skip_all)]
pub async fn ids_by_names(
    pool: &AnyPool,
    names: &[String],
) -> Result<Result<Vec<String>, Vec<String>>, StoreError> {
    if names.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let sql = format!(
        "select id, lower(name) as lname from roles where lower(name) in ({})",
        placeholders(1, names.len())
    );
    let mut q = sqlx::query(&sql);
    for n in names {
        q = q.bind(n.trim().to_lowercase());
    }
    let rows = q.fetch_all(pool).await?;
    let mut ids = Vec::new();
    let mut unknown = Vec::new();
    for n in names {
        let wanted = n.trim().to_lowercase();
        match rows
            .iter()
            .find(|r| r.try_get::<String, _>("lname").is_ok_and(|l| l == wanted))
        {
            Some(r) => ids.push(r.try_get("id")?),
            None => unknown.push(n.clone()),
        }
    }
    ids.sort();
    ids.dedup();
    Ok(if unknown.is_empty() {
        Ok(ids)
    } else {
        Err(unknown)
    })
}

/// The roles with the given ids (unknown ids are left out).
#[instrument(skip_all)]
pub async fn by_ids(pool: &AnyPool, ids: &[String]) -> Result<Vec<RoleRow>, StoreError> {
    let all = list(pool).await?;
    Ok(all.into_iter().filter(|r| ids.contains(&r.id)).collect())
}
