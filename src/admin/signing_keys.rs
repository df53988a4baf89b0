//! Token-signing keys: list the published ones, rotate in a new one.

use super::{Admin, AdminError};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::now_ms;
use crate::domain::permission::{ROLES_WRITE, SERVICE_ACCOUNTS_READ};
use crate::oauth::keys::PublishedKey;
use crate::oauth::{FEED_LOOKBACK_MS, token};
use crate::store::changes::{self, Change};
use crate::store::{StoreError, audit, keys};

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The key that signs from now on.
    pub kid: String,
    /// The keys it replaced, still published until `retires_at`.
    pub retired: Vec<String>,
    /// When the replaced keys leave the JWKS (epoch ms): no token they signed is alive then.
    pub retires_at: i64,
}

impl Admin {
    /// The published signing keys, oldest first; the one without a retirement time signs.
    /// (The JWKS is public; the list needs only a sign-in that can see the console.)
    pub fn signing_keys(&self, actor: &Actor) -> Result<Vec<PublishedKey>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        Ok(self.oauth.published_keys())
    }

    /// Makes a new signing key that signs every new token at once, here and (through the
    /// change feed) on every instance. The keys it replaces stay published, and keep
    /// verifying, until no token they signed can be alive: the longest token lifetime of any
    /// account, plus the clock leeway, plus the time an instance may take to learn of the
    /// rotation. Needs `roles:write`, the permission over what every token carries.
    pub async fn rotate_signing_key(&self, actor: &Actor) -> Result<Rotation, AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let row = self
            .oauth
            .new_signing_key()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let longest = keys::longest_token_lifetime(&mut tx).await?;
        let retires_at =
            now + longest.saturating_mul(1000) + token::LEEWAY_SECS * 1000 + FEED_LOOKBACK_MS;
        keys::insert_in(&mut tx, &row).await?;
        let retired = keys::retire_current(&mut tx, &row.kid, retires_at).await?;
        let event = AuditEvent {
            action: "signing_key.rotated",
            target_kind: "signing_key",
            target_id: row.kid.clone(),
            target_name: row.kid.clone(),
            detail: serde_json::json!({ "retired": retired, "retires_at": retires_at }).to_string(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        changes::append(&mut tx, self.store.backend(), &Change::SigningKeys, now).await?;
        tx.commit().await?;
        if let Err(e) = self.oauth.reload_keys().await {
            // The change feed makes every instance, this one included, load them again.
            tracing::warn!(error = %e, "cannot load the rotated signing keys yet");
        }
        Ok(Rotation {
            kid: row.kid,
            retired,
            retires_at,
        })
    }
}

/// A published key as JSON (REST API and CLI): `kid`, `created_at`, `retires_at` (RFC 3339,
/// `null` for the key that signs) and `signing`.
pub fn signing_key_json(k: &PublishedKey) -> serde_json::Value {
    serde_json::json!({
        "kid": k.kid,
        "created_at": crate::domain::format_ms(k.created_at),
        "retires_at": k.retires_at.map(crate::domain::format_ms),
        "signing": k.retires_at.is_none(),
    })
}
