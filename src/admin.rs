//! The operations an administrator does. Each checks the actor's permission, changes the
//! data and writes its audit event in one transaction; the console, the REST API and the
//! CLI all call these, so no way in can skip a check or an audit event.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod federation;
pub mod keys;
pub mod leaks;
pub mod ops;
pub mod personal_tokens;
pub mod policies;
pub mod roles;
pub mod sessions;
pub mod signing_keys;
pub mod users;

use std::sync::Arc;

use crate::domain::ValidationError;
use crate::domain::access::KEYGATE_API_ID;
use crate::domain::audit::{Actor, ActorKind};
use crate::domain::permission::ROLES_WRITE;
use crate::domain::secret::SecretHasher;
use crate::oauth::OAuth;
use crate::store::Store;
use crate::store::roles::RoleRow;

/// The database failure inside [`AdminError::Store`] and `OAuthError::Internal`, for the web
/// to tell "unavailable, retry" (503) from the rest (500) without reaching into `store`.
pub use crate::store::StoreError;

/// Why an operation did not happen. Nothing was changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The actor lacks a permission.
    #[error("this requires the {0} permission")]
    Forbidden(&'static str),
    /// The actor tried to give a permission it does not hold itself.
    #[error("{0}")]
    Escalation(String),
    /// The thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// It would clash with something that exists (duplicate name).
    #[error("{message}")]
    Conflict {
        /// The field at fault.
        field: &'static str,
        /// A sentence for the user.
        message: String,
    },
    /// Input broke a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The database failed; logged, never shown.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AdminError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// What the operations need: the database, the secret hasher, the authorization server
/// (whose cache must learn of a change at once) and the token URL to hand out.
#[derive(Clone)]
pub struct Admin {
    store: Store,
    hasher: SecretHasher,
    oauth: Arc<OAuth>,
    token_url: String,
    throttle: Arc<users::SignInThrottle>,
    /// Bounds concurrent argon2 work (each holds ~20 MiB): one permit per core.
    argon2: Arc<tokio::sync::Semaphore>,
}

impl Admin {
    /// The operations over `store`.
    pub fn new(store: Store, hasher: SecretHasher, oauth: Arc<OAuth>, token_url: String) -> Self {
        Self {
            store,
            hasher,
            oauth,
            token_url,
            throttle: Arc::default(),
            argon2: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            )),
        }
    }

    /// Whether the database answers, with the cheapest query there is (the readiness probe's
    /// question; it needs no permission and writes nothing).
    pub async fn ping_database(&self) -> Result<(), StoreError> {
        crate::store::health::ping(self.store.pool()).await
    }

    /// Marks a console form (one rendering of it, by the id it carries) as sent: false when
    /// it was sent before, e.g. a reload posting it again. Used where the result is shown
    /// once, so a second post must not make a second secret.
    pub async fn claim_form(&self, form_key: &str) -> Result<bool, AdminError> {
        Ok(
            crate::store::forms::claim(self.store.pool(), form_key, crate::domain::now_ms())
                .await?,
        )
    }

    /// Forgets a claimed form whose action was refused, so it may be corrected and sent again.
    pub async fn release_form(&self, form_key: &str) -> Result<(), AdminError> {
        Ok(crate::store::forms::release(self.store.pool(), form_key).await?)
    }

    /// The token endpoint URL printed with credentials.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The first permission of `role` the actor may not give: the one rule behind giving
    /// roles and acting on what holds them. keygate's own permissions must be held; those of
    /// another API count as held by whoever holds `roles:write`, the authority to define
    /// APIs and roles. The command-line operator owns the database and may give any role.
    fn ungrantable_permission<'a>(actor: &Actor, role: &'a RoleRow) -> Option<&'a str> {
        if actor.kind == ActorKind::System {
            None
        } else if role.api_id == KEYGATE_API_ID {
            role.permissions
                .iter()
                .find(|p| !actor.can(p))
                .map(String::as_str)
        } else if actor.can(ROLES_WRITE) {
            None
        } else {
            role.permissions.first().map(String::as_str)
        }
    }

    /// The first of `roles` carrying a permission the actor may not give, with that
    /// permission (see [`ungrantable_permission`](Self::ungrantable_permission)).
    fn first_ungrantable<'a>(
        actor: &Actor,
        roles: &'a [RoleRow],
    ) -> Option<(&'a RoleRow, &'a str)> {
        roles
            .iter()
            .find_map(|r| Self::ungrantable_permission(actor, r).map(|p| (r, p)))
    }

    /// Refuses to give `roles` unless the actor holds every permission they carry.
    fn ensure_grantable(actor: &Actor, roles: &[RoleRow]) -> Result<(), AdminError> {
        match Self::first_ungrantable(actor, roles) {
            Some((role, p)) => Err(AdminError::Escalation(format!(
                "You cannot give the role \u{201c}{}\u{201d}: it carries the {p} permission, \
                 which you do not hold yourself.",
                role.name
            ))),
            None => Ok(()),
        }
    }

    /// Refuses to act on `what` (an account, a user, a group) that holds `roles` unless the
    /// actor could give each of them: nobody acts on something more powerful than they are.
    fn ensure_may_act_on(actor: &Actor, what: &str, roles: &[RoleRow]) -> Result<(), AdminError> {
        match Self::first_ungrantable(actor, roles) {
            Some((role, p)) => Err(AdminError::Escalation(format!(
                "You cannot change {what}: it holds the role \u{201c}{}\u{201d}, which carries \
                 the {p} permission that you do not hold yourself.",
                role.name
            ))),
            None => Ok(()),
        }
    }

    fn require(actor: &Actor, permission: &'static str) -> Result<(), AdminError> {
        if actor.can(permission) {
            Ok(())
        } else {
            Err(AdminError::Forbidden(permission))
        }
    }
}
