//! Console-user operations.

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier as _};

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use super::{Admin, AdminError};
use crate::domain::audit::{Actor, ActorKind, AuditEvent};
use crate::domain::permission::{self, USERS_READ, USERS_WRITE};
use crate::domain::secret::{random_bytes, random_token, sha256_b64};
use crate::domain::{ValidationError, now_ms};
use crate::store::roles::RoleRow;
use crate::store::users::{self, UserRow};
use crate::store::{StoreError, Tx, audit};

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
    /// Adds a console user with the given roles (ids, each existing, each one the actor
    /// could give).
    pub async fn create_user(
        &self,
        actor: &Actor,
        username: &str,
        password: String,
        role_ids: &[String],
    ) -> Result<UserRow, AdminError> {
        Self::require(actor, USERS_WRITE)?;
        let username = parse_username(username)?;
        let (role_ids, roles) = self.user_roles_for(role_ids).await?;
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
            password_hash: self.hash_password(password).await?,
            enabled: true,
            created_at: now_ms(),
            last_login_at: None,
        };
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        match users::insert(&mut tx, &user, &role_ids, now).await {
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
            detail: serde_json::json!({
                "roles": roles.iter().map(|r| &r.name).collect::<Vec<_>>(),
            })
            .to_string(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The distinct roles `role_ids` names, each of which must exist (422 otherwise).
    async fn user_roles_for(
        &self,
        role_ids: &[String],
    ) -> Result<(Vec<String>, Vec<RoleRow>), AdminError> {
        let mut ids: Vec<String> = role_ids.iter().map(|r| r.trim().to_owned()).collect();
        ids.sort();
        ids.dedup();
        let roles = crate::store::roles::by_ids(self.store.pool(), &ids).await?;
        if roles.len() != ids.len() {
            return Err(
                ValidationError::new("roles", "One of the chosen roles does not exist.").into(),
            );
        }
        Ok((ids, roles))
    }

    /// Hashes a password with argon2id off the runtime, within the bound on concurrent
    /// argon2 work.
    async fn hash_password(&self, password: String) -> Result<String, AdminError> {
        let _permit = self
            .argon2
            .acquire()
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        hash_password(password).await
    }

    /// Refuses to act on a console user who holds a permission the actor could not give
    /// (no demoting or disabling someone more powerful than oneself).
    async fn ensure_may_manage_user(
        &self,
        actor: &Actor,
        user: &UserRow,
    ) -> Result<(), AdminError> {
        let held = users::role_ids(self.store.pool(), &user.id).await?;
        let roles = crate::store::roles::by_ids(self.store.pool(), &held).await?;
        Self::ensure_may_act_on(
            actor,
            &format!("the console user {}", user.username),
            &roles,
        )
    }

    /// Refuses a change, inside its transaction, that leaves no enabled console user holding
    /// `users:write` when there was one before (`before`, counted in the same transaction):
    /// the console must never lock everyone out. The command line can still recover a
    /// database that has none (`keygate admin grant`).
    pub(crate) async fn ensure_user_manager_remains(
        tx: &mut Tx,
        before: i64,
    ) -> Result<(), AdminError> {
        if before > 0 && users::count_user_managers(tx).await? == 0 {
            return Err(AdminError::Conflict {
                field: "roles",
                message: "This change would leave no enabled console user who can manage \
                          users (the users:write permission), so nobody could manage the \
                          console any more. Give that permission to another user first."
                    .into(),
            });
        }
        Ok(())
    }

    /// Gives a console user one more role, from the command line (recovers a console whose
    /// last user manager lost their role, e.g. after restoring an old backup).
    pub async fn grant_user_role(
        &self,
        actor: &Actor,
        username: &str,
        role: &str,
    ) -> Result<(UserRow, RoleRow), AdminError> {
        Self::require(actor, USERS_WRITE)?;
        let user = users::by_username(self.store.pool(), username.trim())
            .await?
            .ok_or(AdminError::NotFound("console user"))?;
        let role_id = self
            .resolve_roles(&[role.to_owned()])
            .await?
            .pop()
            .ok_or(AdminError::NotFound("role"))?;
        let (_, roles) = self.user_roles_for(std::slice::from_ref(&role_id)).await?;
        Self::ensure_grantable(actor, &roles)?;
        let role = roles
            .into_iter()
            .next()
            .ok_or(AdminError::NotFound("role"))?;
        let mut ids = users::role_ids(self.store.pool(), &user.id).await?;
        if !ids.contains(&role.id) {
            ids.push(role.id.clone());
        }
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        users::set_roles(&mut tx, &user.id, &ids).await?;
        let event = AuditEvent {
            action: "console_user.role_granted",
            target_kind: "console_user",
            target_id: user.id.clone(),
            target_name: user.username.clone(),
            detail: serde_json::json!({ "role": role.name }).to_string(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        Ok((user, role))
    }
}

/// A console session ends after this long without a request.
pub const SESSION_IDLE_MS: i64 = crate::domain::CONSOLE_SESSION_IDLE_MS;
/// A console session ends this long after sign-in, whatever happens.
pub const SESSION_MAX_MS: i64 = 12 * 60 * 60 * 1000;
/// Failed sign-ins allowed per (username, address) within [`THROTTLE_WINDOW_MS`] before
/// that pair must wait.
pub const MAX_FAILURES_PER_USER: usize = 5;
/// Failed sign-ins allowed per client address within [`THROTTLE_WINDOW_MS`], whatever the
/// usernames.
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// The window over which failed sign-ins are counted.
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// The first wait once over a limit; it doubles with each further failure, up to the window.
pub const FIRST_WAIT_MS: i64 = 30 * 1000;
/// How long a sign-in waits for its turn at argon2 before the server says it is busy.
pub const ARGON2_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Keys the throttle keeps at most (bounds memory under a flood of made-up usernames).
const MAX_THROTTLE_KEYS: usize = 100_000;

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
    /// Too many recent failures for this username from this address, or from this address.
    #[error("Too many failed sign-ins. Try again in {} seconds.", .retry_after_secs)]
    Throttled {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: i64,
    },
    /// Too many sign-ins are being checked at once (each holds ~20 MiB of argon2 memory).
    #[error("The server is busy checking other sign-ins. Try again in a few seconds.")]
    Busy,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Recent failed sign-ins per (username, address) and per address, kept in memory. An
/// attempt is counted when it starts (before its password is checked), so concurrent
/// attempts cannot slip past the limit; a success takes its count back. Past a limit the
/// wait grows with each further failure. Keying by address means an attacker elsewhere
/// cannot lock the real user out.
#[derive(Default)]
pub struct SignInThrottle {
    state: Mutex<ThrottleState>,
}

#[derive(Default)]
struct ThrottleState {
    failures: HashMap<String, Vec<i64>>,
    /// Throttled attempts per (username, address): start of the window and how many, so
    /// they are audited once per window instead of once per request.
    throttled: HashMap<String, (i64, u64)>,
}

/// What [`SignInThrottle::reserve`] decided.
enum Reservation {
    /// Go ahead; the attempt is counted as a failure until [`SignInThrottle::succeed`].
    Granted,
    /// Wait this many seconds. `audit` is `Some(previous count)` for the first throttled
    /// attempt of a window (write one event), `None` for the rest.
    Throttled {
        retry_after_secs: i64,
        audit: Option<u64>,
    },
}

impl SignInThrottle {
    fn keys(username: &str, source: &str) -> [(String, usize); 2] {
        [
            (
                format!("p:{}\n{source}", username.to_lowercase()),
                MAX_FAILURES_PER_USER,
            ),
            (format!("a:{source}"), MAX_FAILURES_PER_ADDRESS),
        ]
    }

    /// When a key with these recent failures may try again: never blocked under `max`;
    /// then the last failure plus a wait that doubles with each failure over the limit.
    fn next_allowed(list: &[i64], max: usize) -> Option<i64> {
        if list.len() < max {
            return None;
        }
        let over = u32::try_from(list.len() - max).unwrap_or(u32::MAX).min(16);
        let wait = FIRST_WAIT_MS
            .saturating_mul(1_i64 << over)
            .min(THROTTLE_WINDOW_MS);
        list.iter().max().map(|last| last + wait)
    }

    fn reserve(&self, username: &str, source: &str, now: i64) -> Reservation {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if st.failures.len() > MAX_THROTTLE_KEYS {
            st.failures
                .retain(|_, l| l.iter().any(|t| *t > now - THROTTLE_WINDOW_MS));
        }
        if st.throttled.len() > MAX_THROTTLE_KEYS {
            st.throttled
                .retain(|_, (start, _)| *start > now - THROTTLE_WINDOW_MS);
        }
        let keys = Self::keys(username, source);
        let mut wait_until = None;
        for (k, max) in &keys {
            if let Some(list) = st.failures.get_mut(k) {
                list.retain(|t| *t > now - THROTTLE_WINDOW_MS);
                if let Some(t) = Self::next_allowed(list, *max).filter(|t| *t > now) {
                    wait_until = Some(wait_until.map_or(t, |w: i64| w.max(t)));
                }
            }
        }
        if let Some(until) = wait_until {
            let pair = keys[0].0.clone();
            let entry = st.throttled.entry(pair).or_insert((now, 0));
            let audit = if entry.0 <= now - THROTTLE_WINDOW_MS || entry.1 == 0 {
                let previous = if entry.0 <= now - THROTTLE_WINDOW_MS {
                    entry.1
                } else {
                    0
                };
                *entry = (now, 1);
                Some(previous)
            } else {
                entry.1 += 1;
                None
            };
            return Reservation::Throttled {
                retry_after_secs: ((until - now + 999) / 1000).max(1),
                audit,
            };
        }
        for (k, _) in keys {
            st.failures.entry(k).or_default().push(now);
        }
        Reservation::Granted
    }

    /// The attempt reserved at `at` succeeded: it is no failure, and the pair starts over.
    fn succeed(&self, username: &str, source: &str, at: i64) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let [(pair, _), (address, _)] = Self::keys(username, source);
        st.failures.remove(&pair);
        st.throttled.remove(&pair);
        if let Some(list) = st.failures.get_mut(&address)
            && let Some(i) = list.iter().rposition(|t| *t == at)
        {
            list.remove(i);
        }
    }
}

impl Admin {
    /// Signs a console user in: reserves an attempt with the throttle, checks the password
    /// (argon2id, off the runtime, a bounded number at a time), opens a session and audits
    /// the attempt either way (throttled attempts once per window). Returns the cookie value.
    pub async fn sign_in(
        &self,
        username: &str,
        password: String,
        source: &str,
    ) -> Result<(String, ConsoleSession), SignInError> {
        let now = now_ms();
        let typed: String = username.trim().chars().take(64).collect();
        match self.throttle.reserve(&typed, source, now) {
            Reservation::Granted => {}
            Reservation::Throttled {
                retry_after_secs,
                audit,
            } => {
                if let Some(previous) = audit {
                    let detail = serde_json::json!({
                        "reason": "throttled",
                        "window_minutes": THROTTLE_WINDOW_MS / 60_000,
                        "throttled_attempts_in_previous_window": previous,
                    });
                    self.audit_sign_in_failure(
                        &typed,
                        source,
                        "console_user.sign_in_throttled",
                        detail,
                    )
                    .await?;
                }
                return Err(SignInError::Throttled { retry_after_secs });
            }
        }
        let user = users::by_username(self.store.pool(), &typed).await?;
        let ok = {
            let permit = tokio::time::timeout(ARGON2_QUEUE_WAIT, self.argon2.acquire()).await;
            let Ok(Ok(_permit)) = permit else {
                // Not checked: it is no failure of the user's.
                self.throttle.succeed(&typed, source, now);
                return Err(SignInError::Busy);
            };
            verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await
        };
        let user = match user {
            Some(u) if ok && u.enabled => u,
            _ => {
                let detail = serde_json::json!({ "reason": "invalid credentials" });
                self.audit_sign_in_failure(&typed, source, "console_user.sign_in_failed", detail)
                    .await?;
                return Err(SignInError::Invalid);
            }
        };
        self.throttle.succeed(&typed, source, now);
        let token = random_token::<32>();
        let csrf_token = random_token::<32>();
        let id_hash = sha256_b64(&token);
        let permissions = self.user_permissions(&user.id).await?;
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
        action: &'static str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let actor = Actor {
            kind: ActorKind::Anonymous,
            id: String::new(),
            name: typed.to_owned(),
            permissions: BTreeSet::new(),
            source: source.to_owned(),
        };
        let event = AuditEvent {
            action,
            target_kind: "console_user",
            target_id: String::new(),
            target_name: typed.to_owned(),
            detail: detail.to_string(),
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
        let permissions = self.user_permissions(&row.user.id).await?;
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

    /// The roles that can be given to console users: those carrying a keygate permission
    /// (custom permissions mean nothing to the console). Needs `users:read` only.
    pub async fn console_user_roles(&self, actor: &Actor) -> Result<Vec<RoleRow>, AdminError> {
        Self::require(actor, USERS_READ)?;
        Ok(crate::store::roles::list(self.store.pool())
            .await?
            .into_iter()
            .filter(|r| {
                r.api_id == crate::domain::access::KEYGATE_API_ID
                    && r.permissions
                        .iter()
                        .any(|p| permission::ALL.contains(&p.as_str()))
            })
            .collect())
    }

    /// keygate's permissions a console user holds through its roles (the one rule, in
    /// `domain::access`).
    pub(crate) async fn user_permissions(
        &self,
        user_id: &str,
    ) -> Result<BTreeSet<String>, StoreError> {
        let role_ids = crate::store::access::user_role_ids(self.store.pool(), user_id).await?;
        let catalog = self.oauth.catalog().await?;
        Ok(crate::domain::access::keygate_permissions(
            &catalog, &role_ids,
        ))
    }

    /// Every role, for the pages of console users (needs `users:read` only).
    pub async fn list_roles_for_users(&self, actor: &Actor) -> Result<Vec<RoleRow>, AdminError> {
        Self::require(actor, USERS_READ)?;
        Ok(crate::store::roles::list(self.store.pool()).await?)
    }

    /// Whether `id` is the only enabled console user who holds `users:write` (the console
    /// warns before a change to them that the operation would refuse).
    pub async fn is_last_user_manager(&self, actor: &Actor, id: &str) -> Result<bool, AdminError> {
        Self::require(actor, USERS_READ)?;
        Ok(users::user_managers(self.store.pool()).await? == [id.to_owned()])
    }

    async fn user_by_id(&self, id: &str) -> Result<UserRow, AdminError> {
        users::list(self.store.pool())
            .await?
            .into_iter()
            .map(|(u, _)| u)
            .find(|u| u.id == id)
            .ok_or(AdminError::NotFound("console user"))
    }

    /// Enables or disables a console user; disabling ends their sessions at once. Nobody
    /// disables themselves, acts on a more powerful user, or leaves the console without an
    /// enabled user who can manage users.
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
        let user = self.user_by_id(id).await?;
        self.ensure_may_manage_user(actor, &user).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let managers = users::count_user_managers(&mut tx).await?;
        users::set_enabled(&mut tx, id, enabled, now).await?;
        Self::ensure_user_manager_remains(&mut tx, managers)
            .await
            .map_err(|e| relabel(e, "enabled"))?;
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

    /// Gives a console user exactly these roles: only a user the actor could give every role
    /// they hold, only roles whose every permission the actor holds, and never leaving the
    /// console without an enabled user who can manage users.
    pub async fn set_user_roles(
        &self,
        actor: &Actor,
        id: &str,
        role_ids: &[String],
    ) -> Result<(), AdminError> {
        Self::require(actor, USERS_WRITE)?;
        let user = self.user_by_id(id).await?;
        self.ensure_may_manage_user(actor, &user).await?;
        let (role_ids, roles) = self.user_roles_for(role_ids).await?;
        Self::ensure_grantable(actor, &roles)?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let managers = users::count_user_managers(&mut tx).await?;
        users::set_roles(&mut tx, id, &role_ids).await?;
        Self::ensure_user_manager_remains(&mut tx, managers).await?;
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

    /// Refuses a new password that is too short.
    fn check_new_password(password: &str) -> Result<(), AdminError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(ValidationError::new(
                "new_password",
                format!("The new password must be at least {MIN_PASSWORD_CHARS} characters."),
            )
            .into());
        }
        Ok(())
    }

    /// A console user changes their own password: the current one must be given. Their
    /// other sessions stay signed in (the change is theirs).
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        current: String,
        new: String,
    ) -> Result<(), AdminError> {
        if actor.kind != ActorKind::ConsoleUser {
            return Err(AdminError::Forbidden(USERS_WRITE));
        }
        let user = self.user_by_id(&actor.id).await?;
        if !verify_password(current, Some(user.password_hash.clone())).await {
            return Err(ValidationError::new(
                "current_password",
                "The current password is not right; nothing was changed.",
            )
            .into());
        }
        Self::check_new_password(&new)?;
        let hash = self.hash_password(new).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        users::set_password(&mut tx, &user.id, &hash, now, false).await?;
        let event = AuditEvent {
            action: "console_user.password_changed",
            target_kind: "console_user",
            target_id: user.id.clone(),
            target_name: user.username,
            detail: String::new(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets another console user's password (`users:write`, and only a user whose every
    /// role the actor could give); their sessions end, so the old password's holder is out.
    pub async fn reset_user_password(
        &self,
        actor: &Actor,
        id: &str,
        new: String,
    ) -> Result<(), AdminError> {
        Self::require(actor, USERS_WRITE)?;
        if actor.kind == ActorKind::ConsoleUser && actor.id == id {
            return Err(ValidationError::new(
                "new_password",
                "Change your own password on the Change password page (it asks for the current one).",
            )
            .into());
        }
        let user = self.user_by_id(id).await?;
        self.ensure_may_manage_user(actor, &user).await?;
        Self::check_new_password(&new)?;
        let hash = self.hash_password(new).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        users::set_password(&mut tx, id, &hash, now, true).await?;
        let event = AuditEvent {
            action: "console_user.password_reset",
            target_kind: "console_user",
            target_id: id.to_owned(),
            target_name: user.username,
            detail: String::new(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a console user (`users:write`, a user the actor may manage, never oneself),
    /// never leaving the console without an enabled user who can manage users.
    pub async fn delete_user(&self, actor: &Actor, id: &str) -> Result<UserRow, AdminError> {
        Self::require(actor, USERS_WRITE)?;
        if actor.kind == ActorKind::ConsoleUser && actor.id == id {
            return Err(ValidationError::new("user", "You cannot delete yourself.").into());
        }
        let user = self.user_by_id(id).await?;
        self.ensure_may_manage_user(actor, &user).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let managers = users::count_user_managers(&mut tx).await?;
        users::delete(&mut tx, id).await?;
        Self::ensure_user_manager_remains(&mut tx, managers)
            .await
            .map_err(|e| relabel(e, "user"))?;
        let event = AuditEvent {
            action: "console_user.deleted",
            target_kind: "console_user",
            target_id: id.to_owned(),
            target_name: user.username.clone(),
            detail: String::new(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        Ok(user)
    }
}

/// The same refusal, naming another form field.
fn relabel(e: AdminError, field: &'static str) -> AdminError {
    match e {
        AdminError::Conflict { message, .. } => AdminError::Conflict { field, message },
        other => other,
    }
}
