//! The access model as stored: APIs and their permissions, nodes of the resource tree, and
//! the bindings accounts and groups hold (root-level ones in `account_roles` /
//! `group_roles`, node-level ones in `account_bindings` / `group_bindings`).

use std::collections::HashMap;

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, Tx};
use crate::domain::access::{Api, ApiPermission, Binding, Catalog, GroupBindings, Node};
use crate::domain::account::name_key;

/// The catalog of APIs, roles and nodes; keygate's own API gets `keygate_identifier`.
#[instrument(skip_all)]
pub async fn catalog(pool: &AnyPool, keygate_identifier: &str) -> Result<Catalog, StoreError> {
    Ok(Catalog::new(
        apis(pool).await?,
        super::roles::list(pool).await?,
        nodes(pool).await?,
        keygate_identifier,
    ))
}

/// Every API with its permissions, by name (keygate's own holds `''` as its identifier).
#[instrument(skip_all)]
pub async fn apis(pool: &AnyPool) -> Result<Vec<Api>, StoreError> {
    let rows = sqlx::query(
        "select id, name, identifier, description, builtin from apis order by name_key, id",
    )
    .fetch_all(pool)
    .await?;
    let perms =
        sqlx::query("select api_id, name, description from api_permissions order by api_id, name")
            .fetch_all(pool)
            .await?;
    let mut by_api: HashMap<String, Vec<ApiPermission>> = HashMap::new();
    for p in perms {
        by_api
            .entry(p.try_get("api_id")?)
            .or_default()
            .push(ApiPermission {
                name: p.try_get("name")?,
                description: p.try_get("description")?,
            });
    }
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            Ok(Api {
                permissions: by_api.remove(&id).unwrap_or_default(),
                name: r.try_get("name")?,
                identifier: r.try_get("identifier")?,
                description: r.try_get("description")?,
                builtin: r.try_get::<i64, _>("builtin")? != 0,
                id,
            })
        })
        .collect()
}

/// Inserts an API (`insert`) or replaces a custom one's fields and permissions; false if
/// there was no such custom API to change.
#[instrument(skip_all)]
pub async fn save_api(tx: &mut Tx, api: &Api, insert: bool, now: i64) -> Result<bool, StoreError> {
    if insert {
        sqlx::query(
            "insert into apis (id, name, name_key, identifier, description, builtin, \
             created_at, updated_at) values ($1, $2, $3, $4, $5, 0, $6, $6)",
        )
        .bind(&api.id)
        .bind(&api.name)
        .bind(name_key(&api.name))
        .bind(&api.identifier)
        .bind(&api.description)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    } else {
        let done = sqlx::query(
            "update apis set name = $2, name_key = $3, identifier = $4, description = $5, \
             updated_at = $6 where id = $1 and builtin = 0",
        )
        .bind(&api.id)
        .bind(&api.name)
        .bind(name_key(&api.name))
        .bind(&api.identifier)
        .bind(&api.description)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("delete from api_permissions where api_id = $1")
            .bind(&api.id)
            .execute(&mut **tx)
            .await?;
    }
    for p in &api.permissions {
        sqlx::query("insert into api_permissions (api_id, name, description) values ($1, $2, $3)")
            .bind(&api.id)
            .bind(&p.name)
            .bind(&p.description)
            .execute(&mut **tx)
            .await?;
    }
    Ok(true)
}

/// Removes `permissions` from every role of API `api_id`.
#[instrument(skip_all)]
pub async fn drop_role_permissions(
    tx: &mut Tx,
    api_id: &str,
    permissions: &[String],
) -> Result<(), StoreError> {
    for p in permissions {
        sqlx::query(
            "delete from role_permissions where permission = $2 \
             and role_id in (select id from roles where api_id = $1)",
        )
        .bind(api_id)
        .bind(p)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Deletes a custom API (the caller checked that no role uses it); false if none.
#[instrument(skip_all)]
pub async fn delete_api(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    sqlx::query("delete from api_permissions where api_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let done = sqlx::query("delete from apis where id = $1 and builtin = 0")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Names of the roles of API `id`, and how many accounts have it as their product.
#[instrument(skip_all)]
pub async fn api_users(pool: &AnyPool, id: &str) -> Result<(Vec<String>, i64), StoreError> {
    let roles = sqlx::query("select name from roles where api_id = $1 order by name")
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get("name"))
        .collect::<Result<Vec<String>, _>>()?;
    let products: i64 = sqlx::query("select count(*) as n from service_accounts where api_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await?
        .try_get("n")?;
    Ok((roles, products))
}

/// Every node, without paths (the catalog computes them).
#[instrument(skip_all)]
pub async fn nodes(pool: &AnyPool) -> Result<Vec<Node>, StoreError> {
    let rows = sqlx::query("select id, name, kind, parent_id from nodes order by name_key, id")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            let parent: String = r.try_get("parent_id")?;
            Ok(Node {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                parent_id: (!parent.is_empty()).then_some(parent),
                path: String::new(),
            })
        })
        .collect()
}

/// Inserts a node (`insert`) or changes one's name, kind and parent.
#[instrument(skip_all)]
pub async fn save_node(
    tx: &mut Tx,
    node: &Node,
    insert: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let sql = if insert {
        "insert into nodes (id, name, name_key, kind, parent_id, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $6)"
    } else {
        "update nodes set name = $2, name_key = $3, kind = $4, parent_id = $5, updated_at = $6 \
         where id = $1"
    };
    let done = sqlx::query(sql)
        .bind(&node.id)
        .bind(&node.name)
        .bind(name_key(&node.name))
        .bind(&node.kind)
        .bind(node.parent_id.as_deref().unwrap_or(""))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// How many bindings (of accounts and groups) are made at node `id`.
#[instrument(skip_all)]
pub async fn node_bindings(pool: &AnyPool, id: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query(
        "select (select count(*) from account_bindings where node_id = $1) \
              + (select count(*) from group_bindings where node_id = $1) as n",
    )
    .bind(id)
    .fetch_one(pool)
    .await?
    .try_get("n")?)
}

/// Deletes a node (the caller checked it has no children and no bindings).
#[instrument(skip_all)]
pub async fn delete_node(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("delete from nodes where id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The bindings an account holds itself (root-level and at nodes).
#[instrument(skip_all)]
pub async fn account_bindings(
    pool: &AnyPool,
    account_id: &str,
) -> Result<Vec<Binding>, StoreError> {
    let rows = sqlx::query(
        "select role_id, '' as node_id from account_roles where account_id = $1 \
         union all select role_id, node_id from account_bindings where account_id = $1",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await?;
    bindings_of(&rows)
}

fn bindings_of(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Binding>, StoreError> {
    let mut out = rows
        .iter()
        .map(|r| {
            let node: String = r.try_get("node_id")?;
            Ok(Binding {
                role_id: r.try_get("role_id")?,
                node_id: (!node.is_empty()).then_some(node),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    out.sort();
    Ok(out)
}

/// The groups an account belongs to, each with the bindings it gives.
#[instrument(skip_all)]
pub async fn account_groups(
    pool: &AnyPool,
    account_id: &str,
) -> Result<Vec<GroupBindings>, StoreError> {
    let groups = sqlx::query(
        "select g.id as id, g.name as name from account_groups ag join groups g \
         on g.id = ag.group_id where ag.account_id = $1 order by g.id",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let id: String = g.try_get("id")?;
        out.push(GroupBindings {
            bindings: group_bindings(pool, &id).await?,
            name: g.try_get("name")?,
            id,
        });
    }
    Ok(out)
}

/// The bindings a group gives (root-level and at nodes).
#[instrument(skip_all)]
pub async fn group_bindings(pool: &AnyPool, group_id: &str) -> Result<Vec<Binding>, StoreError> {
    let rows = sqlx::query(
        "select role_id, '' as node_id from group_roles where group_id = $1 \
         union all select role_id, node_id from group_bindings where group_id = $1",
    )
    .bind(group_id)
    .fetch_all(pool)
    .await?;
    bindings_of(&rows)
}

/// Replaces the bindings of an account (`group` false) or a group (`group` true).
#[instrument(skip_all)]
pub async fn set_bindings(
    tx: &mut Tx,
    group: bool,
    holder_id: &str,
    bindings: &[Binding],
) -> Result<(), StoreError> {
    let (root, nodes, col) = if group {
        ("group_roles", "group_bindings", "group_id")
    } else {
        ("account_roles", "account_bindings", "account_id")
    };
    for table in [root, nodes] {
        sqlx::query(&format!("delete from {table} where {col} = $1"))
            .bind(holder_id)
            .execute(&mut **tx)
            .await?;
    }
    let mut seen = std::collections::BTreeSet::new();
    for b in bindings {
        if !seen.insert(b) {
            continue;
        }
        match &b.node_id {
            None => {
                sqlx::query(&format!(
                    "insert into {root} ({col}, role_id) values ($1, $2)"
                ))
                .bind(holder_id)
                .bind(&b.role_id)
                .execute(&mut **tx)
                .await?;
            }
            Some(node) => {
                sqlx::query(&format!(
                    "insert into {nodes} ({col}, role_id, node_id) values ($1, $2, $3)"
                ))
                .bind(holder_id)
                .bind(&b.role_id)
                .bind(node)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// The product (API id) of an account, if it has one.
#[instrument(skip_all)]
pub async fn product_of(pool: &AnyPool, account_id: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query("select api_id from service_accounts where id = $1")
            .bind(account_id)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get::<Option<String>, _>("api_id"))
            .transpose()?
            .flatten(),
    )
}

/// Sets the product of an account.
#[instrument(skip_all)]
pub async fn set_product(
    tx: &mut Tx,
    account_id: &str,
    api_id: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query("update service_accounts set api_id = $2 where id = $1")
        .bind(account_id)
        .bind(api_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ids of the roles a console user holds.
#[instrument(skip_all)]
pub async fn user_role_ids(pool: &AnyPool, user_id: &str) -> Result<Vec<String>, StoreError> {
    sqlx::query("select role_id from user_roles where user_id = $1 order by role_id")
        .bind(user_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok(r.try_get("role_id")?))
        .collect()
}
