//! Console-user operations.

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier as _};

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use super::{Admin, AdminError};
use crate::domain::audit::{Actor, ActorKind, AuditEvent};
use crate::domain::permission::{USERS_READ, USERS_WRITE};
use crate::domain::secret::{random_bytes, random_token, sha256_b64};
use crate::domain::{ValidationError, now_ms};
use crate::store::users::{self, UserRow};
use crate::store::{StoreError, audit};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Checks a username: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn parse_username(s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    let ok = !s.is_empty()
        && s.chars().count() <= 64
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ValidationError::new(
            "username",
            "Username must be 1 to 64 letters, digits, '.', '_', '-' or '@'.",
        ))
    }
}

/// Hashes a password with argon2id off the async runtime.
pub async fn hash_password(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&random_bytes::<16>())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    })
    .await
    .map_err(|e| StoreError::Corrupt(e.to_string()))?
    .map_err(AdminError::from)
}

/// Verifies a password against a stored argon2 hash off the async runtime; a `None` hash
/// (unknown user) is checked against a dummy so the answer takes as long either way.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let stored = stored.as_deref().unwrap_or(DUMMY_HASH);
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && stored != DUMMY_HASH
    })
    .await
    .unwrap_or(false)
}

/// argon2id hash of a random password nobody knows, with default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                          1nqDHwLDmCWlwfj6TqsbfGmH4ZX/sU0PShNLmKhxm4E";

impl Admin {
    /// Adds a console user with the given roles.
    pub async fn create_user(
        &self,
        actor: &Actor,
        username: &str,
        password: String,
        role_ids: &[String],
    ) -> Result<UserRow, AdminError> {
        Self::require(actor, USERS_WRITE)?;
        let username = parse_username(username)?;
        let roles = crate::store::roles::by_ids(self.store.pool(), role_ids).await?;
        Self::ensure_grantable(actor, &roles)?;
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(ValidationError::new(
                "password",
                format!("Password must be at least {MIN_PASSWORD_CHARS} characters."),
            )
            .into());
        }
        let user = UserRow {
            id: uuid::Uuid::new_v4().to_string(),
            username,
            password_hash: hash_password(password).await?,
            enabled: true,
            created_at: now_ms(),
            last_login_at: None,
        };
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        match users::insert(&mut tx, &user, role_ids, now).await {
            Err(StoreError::Conflict) => {
                return Err(AdminError::Conflict {
                    field: "username",
                    message: format!("A console user named {} already exists.", user.username),
                });
            }
            other => other?,
        }
        let event = AuditEvent {
            action: "console_user.created",
            target_kind: "console_user",
            target_id: user.id.clone(),
            target_name: user.username.clone(),
            detail: serde_json::json!({ "role_ids": role_ids }).to_string(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        Ok(user)
    }
}

/// A console session ends after this long without a request.
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;
/// A console session ends this long after sign-in, whatever happens.
pub const SESSION_MAX_MS: i64 = 12 * 60 * 60 * 1000;
/// Failed sign-ins allowed per username within [`THROTTLE_WINDOW_MS`].
pub const MAX_FAILURES_PER_USER: usize = 5;
/// Failed sign-ins allowed per client address within [`THROTTLE_WINDOW_MS`].
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// The window over which failed sign-ins are counted.
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// A signed-in console user, as each request sees it.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// Hash of the session cookie (the session's key).
    pub id_hash: String,
    /// The user's id.
    pub user_id: String,
    /// The user's name.
    pub username: String,
    /// The token every state-changing form must carry.
    pub csrf_token: String,
    /// The user's permissions now.
    pub permissions: BTreeSet<String>,
}

impl ConsoleSession {
    /// The user as the actor of an operation.
    pub fn actor(&self, source: &str) -> Actor {
        Actor {
            kind: ActorKind::ConsoleUser,
            id: self.user_id.clone(),
            name: self.username.clone(),
            permissions: self.permissions.clone(),
            source: source.to_owned(),
        }
    }

    /// Whether the user holds `permission`.
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }
}

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown user, wrong password or disabled user: one answer for all.
    #[error("The username or password is not correct.")]
    Invalid,
    /// Too many recent failures for this username or address.
    #[error("Too many failed sign-ins. Try again in {minutes} minutes.")]
    Throttled {
        /// Minutes until the oldest counted failure leaves the window.
        minutes: i64,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Recent failed sign-ins per username and per address, kept in memory.
#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

impl SignInThrottle {
    fn keys(username: &str, source: &str) -> [(String, usize); 2] {
        [
            (
                format!("u:{}", username.to_lowercase()),
                MAX_FAILURES_PER_USER,
            ),
            (format!("a:{source}"), MAX_FAILURES_PER_ADDRESS),
        ]
    }

    /// Minutes to wait if this username or address is over its limit.
    fn blocked(&self, username: &str, source: &str, now: i64) -> Option<i64> {
        let mut f = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        Self::keys(username, source).iter().find_map(|(k, max)| {
            let list = f.get_mut(k)?;
            list.retain(|t| *t > now - THROTTLE_WINDOW_MS);
            (list.len() >= *max).then(|| {
                let oldest = list.iter().min().copied().unwrap_or(now);
                ((oldest + THROTTLE_WINDOW_MS - now) / 60_000).max(1)
            })
        })
    }

    fn fail(&self, username: &str, source: &str, now: i64) {
        let mut f = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if f.len() > 100_000 {
            f.retain(|_, l| l.iter().any(|t| *t > now - THROTTLE_WINDOW_MS));
        }
        for (k, _) in Self::keys(username, source) {
            f.entry(k).or_default().push(now);
        }
    }

    fn succeed(&self, username: &str) {
        let mut f = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        f.remove(&format!("u:{}", username.to_lowercase()));
    }
}

impl Admin {
    /// Signs a console user in: checks the throttle and the password (argon2id, off the
    /// runtime), opens a session and audits the attempt either way. Returns the cookie value.
    pub async fn sign_in(
        &self,
        username: &str,
        password: String,
        source: &str,
    ) -> Result<(String, ConsoleSession), SignInError> {
        let now = now_ms();
        let typed: String = username.trim().chars().take(64).collect();
        if let Some(minutes) = self.throttle.blocked(&typed, source, now) {
            self.audit_sign_in_failure(&typed, source, "throttled")
                .await?;
            return Err(SignInError::Throttled { minutes });
        }
        let user = users::by_username(self.store.pool(), &typed).await?;
        let ok = verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await;
        let user = match user {
            Some(u) if ok && u.enabled => u,
            _ => {
                self.throttle.fail(&typed, source, now);
                self.audit_sign_in_failure(&typed, source, "invalid credentials")
                    .await?;
                return Err(SignInError::Invalid);
            }
        };
        self.throttle.succeed(&typed);
        let token = random_token::<32>();
        let csrf_token = random_token::<32>();
        let id_hash = sha256_b64(&token);
        let permissions: BTreeSet<String> = users::permissions(self.store.pool(), &user.id)
            .await?
            .into_iter()
            .collect();
        let session = ConsoleSession {
            id_hash: id_hash.clone(),
            user_id: user.id.clone(),
            username: user.username.clone(),
            csrf_token: csrf_token.clone(),
            permissions,
        };
        let mut tx = self.store.begin().await?;
        users::insert_session(
            &mut tx,
            &id_hash,
            &user.id,
            &csrf_token,
            now,
            now + SESSION_MAX_MS,
        )
        .await?;
        let event = AuditEvent {
            action: "console_user.signed_in",
            target_kind: "console_user",
            target_id: user.id.clone(),
            target_name: user.username.clone(),
            detail: String::new(),
        };
        audit::append(&mut tx, &session.actor(source), &event, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok((token, session))
    }

    async fn audit_sign_in_failure(
        &self,
        typed: &str,
        source: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let actor = Actor {
            kind: ActorKind::Anonymous,
            id: String::new(),
            name: typed.to_owned(),
            permissions: BTreeSet::new(),
            source: source.to_owned(),
        };
        let event = AuditEvent {
            action: "console_user.sign_in_failed",
            target_kind: "console_user",
            target_id: String::new(),
            target_name: typed.to_owned(),
            detail: serde_json::json!({ "reason": reason }).to_string(),
        };
        let mut tx = self.store.begin().await?;
        audit::append(&mut tx, &actor, &event, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live session for a cookie value, if any. Idle and expired sessions are ended.
    pub async fn session(&self, token: &str) -> Result<Option<ConsoleSession>, StoreError> {
        let id_hash = sha256_b64(token);
        let Some(row) = users::session(self.store.pool(), &id_hash).await? else {
            return Ok(None);
        };
        let now = now_ms();
        if !row.user.enabled || row.expires_at < now || row.last_seen_at < now - SESSION_IDLE_MS {
            users::delete_session(self.store.pool(), &id_hash).await?;
            return Ok(None);
        }
        // Record activity at most once a minute, not on every request.
        if row.last_seen_at < now - 60_000 {
            users::touch_session(self.store.pool(), &id_hash, now).await?;
        }
        let permissions = users::permissions(self.store.pool(), &row.user.id)
            .await?
            .into_iter()
            .collect();
        Ok(Some(ConsoleSession {
            id_hash,
            user_id: row.user.id,
            username: row.user.username,
            csrf_token: row.csrf_token,
            permissions,
        }))
    }

    /// Ends a session and audits it.
    pub async fn sign_out(&self, session: &ConsoleSession, source: &str) -> Result<(), StoreError> {
        users::delete_session(self.store.pool(), &session.id_hash).await?;
        let event = AuditEvent {
            action: "console_user.signed_out",
            target_kind: "console_user",
            target_id: session.user_id.clone(),
            target_name: session.username.clone(),
            detail: String::new(),
        };
        let mut tx = self.store.begin().await?;
        audit::append(&mut tx, &session.actor(source), &event, now_ms()).await?;
        tx.commit().await?;
        let now = now_ms();
        users::purge_sessions(self.store.pool(), now, now - SESSION_IDLE_MS).await
    }

    /// Whether any console user exists (a fresh install shows how to create one).
    pub async fn has_console_users(&self) -> Result<bool, StoreError> {
        Ok(users::count(self.store.pool()).await? > 0)
    }
}

impl Admin {
    /// Every console user with their roles.
    pub async fn list_users(
        &self,
        actor: &Actor,
    ) -> Result<Vec<(UserRow, Vec<crate::store::accounts::RoleRef>)>, AdminError> {
        Self::require(actor, USERS_READ)?;
        Ok(users::list(self.store.pool()).await?)
    }

    async fn user_named(&self, id: &str) -> Result<UserRow, AdminError> {
        users::list(self.store.pool())
            .await?
            .into_iter()
            .map(|(u, _)| u)
            .find(|u| u.id == id)
            .ok_or(AdminError::NotFound("console user"))
    }

    /// Enables or disables a console user; disabling ends their sessions at once. Nobody
    /// disables themselves (the last administrator could lock everyone out).
    pub async fn set_user_enabled(
        &self,
        actor: &Actor,
        id: &str,
        enabled: bool,
    ) -> Result<(), AdminError> {
        Self::require(actor, USERS_WRITE)?;
        if !enabled && actor.kind == ActorKind::ConsoleUser && actor.id == id {
            return Err(ValidationError::new("enabled", "You cannot disable yourself.").into());
        }
        let user = self.user_named(id).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        users::set_enabled(&mut tx, id, enabled, now).await?;
        let event = AuditEvent {
            action: if enabled {
                "console_user.enabled"
            } else {
                "console_user.disabled"
            },
            target_kind: "console_user",
            target_id: id.to_owned(),
            target_name: user.username,
            detail: String::new(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a console user exactly these roles; only roles whose every permission the
    /// actor holds can be given.
    pub async fn set_user_roles(
        &self,
        actor: &Actor,
        id: &str,
        role_ids: &[String],
    ) -> Result<(), AdminError> {
        Self::require(actor, USERS_WRITE)?;
        let user = self.user_named(id).await?;
        let roles = crate::store::roles::by_ids(self.store.pool(), role_ids).await?;
        if roles.len() != role_ids.len() {
            return Err(
                ValidationError::new("roles", "One of the chosen roles does not exist.").into(),
            );
        }
        Self::ensure_grantable(actor, &roles)?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        users::set_roles(&mut tx, id, role_ids).await?;
        let event = AuditEvent {
            action: "console_user.roles_changed",
            target_kind: "console_user",
            target_id: id.to_owned(),
            target_name: user.username,
            detail: serde_json::json!({
                "roles": roles.iter().map(|r| &r.name).collect::<Vec<_>>(),
            })
            .to_string(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
