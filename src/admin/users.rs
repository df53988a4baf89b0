//! Console-user operations.

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier as _};

use super::{Admin, AdminError};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::permission::USERS_WRITE;
use crate::domain::secret::random_bytes;
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
