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

/// A console session joined with its user.
#[derive(Clone)]
pub struct SessionRow {
    /// The signed-in user.
    pub user: UserRow,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// Last request (epoch ms).
    pub last_seen_at: i64,
    /// Absolute expiry (epoch ms).
    pub expires_at: i64,
}

/// Stores a new session, keyed by the hash of its cookie value.
#[instrument(skip_all)]
pub async fn insert_session(
    tx: &mut Tx,
    id_hash: &str,
    user_id: &str,
    csrf_token: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into console_sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, \
         expires_at) values ($1, $2, $3, $4, $4, $5)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(csrf_token)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    sqlx::query("update console_users set last_login_at = $2 where id = $1")
        .bind(user_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The session whose cookie hashes to `id_hash`, with its user.
#[instrument(skip_all)]
pub async fn session(pool: &AnyPool, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
    let row = sqlx::query(
        "select u.id as id, u.username as username, u.password_hash as password_hash, \
         u.enabled as enabled, u.created_at as created_at, u.last_login_at as last_login_at, \
         s.csrf_token as csrf_token, s.last_seen_at as last_seen_at, s.expires_at as expires_at \
         from console_sessions s join console_users u on u.id = s.user_id where s.id_hash = $1",
    )
    .bind(id_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(SessionRow {
            user: user_from_row(&r)?,
            csrf_token: r.try_get("csrf_token")?,
            last_seen_at: r.try_get("last_seen_at")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Records activity on a session (keeps it from idling out).
#[instrument(skip_all)]
pub async fn touch_session(pool: &AnyPool, id_hash: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("update console_sessions set last_seen_at = $2 where id_hash = $1")
        .bind(id_hash)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends a session.
#[instrument(skip_all)]
pub async fn delete_session(pool: &AnyPool, id_hash: &str) -> Result<(), StoreError> {
    sqlx::query("delete from console_sessions where id_hash = $1")
        .bind(id_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes sessions that expired or idled out before `idle_before`.
#[instrument(skip_all)]
pub async fn purge_sessions(pool: &AnyPool, now: i64, idle_before: i64) -> Result<(), StoreError> {
    sqlx::query("delete from console_sessions where expires_at < $1 or last_seen_at < $2")
        .bind(now)
        .bind(idle_before)
        .execute(pool)
        .await?;
    Ok(())
}

/// Every console user with their roles, by username.
#[instrument(skip_all)]
pub async fn list(
    pool: &AnyPool,
) -> Result<Vec<(UserRow, Vec<crate::store::accounts::RoleRef>)>, StoreError> {
    let sql = format!("select {USER_COLUMNS} from console_users order by lower(username)");
    let users = sqlx::query(&sql).fetch_all(pool).await?;
    let roles = sqlx::query(
        "select ur.user_id as user_id, r.id as id, r.name as name from user_roles ur \
         join roles r on r.id = ur.role_id order by lower(r.name)",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(users.len());
    for u in &users {
        let user = user_from_row(u)?;
        let mut mine = Vec::new();
        for r in &roles {
            if r.try_get::<String, _>("user_id")? == user.id {
                mine.push(crate::store::accounts::RoleRef {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                });
            }
        }
        out.push((user, mine));
    }
    Ok(out)
}

/// Enables or disables a user; disabling ends their sessions.
#[instrument(skip_all)]
pub async fn set_enabled(
    tx: &mut Tx,
    id: &str,
    enabled: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query("update console_users set enabled = $2, updated_at = $3 where id = $1")
        .bind(id)
        .bind(i64::from(enabled))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    if !enabled {
        sqlx::query("delete from console_sessions where user_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(done.rows_affected() == 1)
}

/// Sets a user's password hash; with `end_sessions`, signs every session of theirs out.
#[instrument(skip_all)]
pub async fn set_password(
    tx: &mut Tx,
    id: &str,
    password_hash: &str,
    now: i64,
    end_sessions: bool,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("update console_users set password_hash = $2, updated_at = $3 where id = $1")
            .bind(id)
            .bind(password_hash)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    if end_sessions {
        sqlx::query("delete from console_sessions where user_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(done.rows_affected() == 1)
}

/// Deletes a user with their roles and sessions.
#[instrument(skip_all)]
pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    for sql in [
        "delete from console_sessions where user_id = $1",
        "delete from user_roles where user_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    let done = sqlx::query("delete from console_users where id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a user's roles.
#[instrument(skip_all)]
pub async fn set_roles(tx: &mut Tx, id: &str, role_ids: &[String]) -> Result<(), StoreError> {
    sqlx::query("delete from user_roles where user_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for r in role_ids {
        sqlx::query("insert into user_roles (user_id, role_id) values ($1, $2)")
            .bind(id)
            .bind(r)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Ids of the roles a user holds.
#[instrument(skip_all)]
pub async fn role_ids(pool: &AnyPool, user_id: &str) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("select role_id from user_roles where user_id = $1")
        .bind(user_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("role_id")?)).collect()
}

const USER_MANAGERS: &str = "select distinct u.id as id from console_users u \
     join user_roles ur on ur.user_id = u.id \
     join roles r on r.id = ur.role_id and r.api_id = 'builtin-keygate' \
     join role_permissions rp on rp.role_id = ur.role_id \
     where u.enabled = 1 and rp.permission = 'users:write' order by u.id";

/// How many enabled users hold `users:write`, seen from inside a transaction.
#[instrument(skip_all)]
pub async fn count_user_managers(tx: &mut Tx) -> Result<i64, StoreError> {
    Ok(sqlx::query(USER_MANAGERS).fetch_all(&mut **tx).await?.len() as i64)
}

/// Ids of the enabled users who hold `users:write`.
#[instrument(skip_all)]
pub async fn user_managers(pool: &AnyPool) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(USER_MANAGERS).fetch_all(pool).await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}
