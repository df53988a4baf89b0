//! Console users (human administrators) and their sessions.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, Tx};

/// A console user as stored.
#[derive(Clone)]
pub struct UserRow {
    /// User id (UUID).
    pub id: String,
    /// Unique username.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Whether the user may sign in.
    pub enabled: bool,
    /// Created (epoch ms).
    pub created_at: i64,
    /// Last successful sign-in (epoch ms).
    pub last_login_at: Option<i64>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_at: r.try_get("created_at")?,
        last_login_at: r.try_get("last_login_at")?,
    })
}

const USER_COLUMNS: &str = "id, username, password_hash, enabled, created_at, last_login_at";

/// Inserts a user with the given roles.
#[instrument(skip_all)]
pub async fn insert(
    tx: &mut Tx,
    user: &UserRow,
    role_ids: &[String],
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into console_users (id, username, password_hash, enabled, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&user.id)
    .bind(&user.username)
    .bind(&user.password_hash)
    .bind(i64::from(user.enabled))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    for role_id in role_ids {
        sqlx::query("insert into user_roles (user_id, role_id) values ($1, $2)")
            .bind(&user.id)
            .bind(role_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The user named `username` (case-insensitive).
#[instrument(skip_all)]
pub async fn by_username(pool: &AnyPool, username: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("select {USER_COLUMNS} from console_users where lower(username) = lower($1)");
    Ok(sqlx::query(&sql)
        .bind(username)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()?)
}

/// Number of console users.
#[instrument(skip_all)]
pub async fn count(pool: &AnyPool) -> Result<i64, StoreError> {
    Ok(sqlx::query("select count(*) as n from console_users")
        .fetch_one(pool)
        .await?
        .try_get("n")?)
}

/// Permissions the user holds through their roles.
#[instrument(skip_all)]
pub async fn permissions(pool: &AnyPool, user_id: &str) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "select distinct rp.permission as permission from user_roles ur \
         join role_permissions rp on rp.role_id = ur.role_id where ur.user_id = $1 \
         order by rp.permission",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("permission")?)).collect()
}
