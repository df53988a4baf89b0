//! An account's sessions (its live access tokens): list, revoke one, revoke all.

use super::{Admin, AdminError};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::now_ms;
use crate::domain::permission::{SERVICE_ACCOUNTS_READ, SERVICE_ACCOUNTS_WRITE};
use crate::store::accounts;
use crate::store::sessions::{self, SessionRow};

impl Admin {
    /// The account's live tokens, newest first (the most recent hundred).
    pub async fn account_sessions(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<SessionRow>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        self.get_account(actor, id).await?;
        // Tokens of the last moments may still be waiting for their batch.
        self.oauth.flush_usage().await?;
        Ok(sessions::live(self.store.pool(), id, now_ms()).await?)
    }

    /// Revokes one live token of the account.
    pub async fn revoke_session(
        &self,
        actor: &Actor,
        id: &str,
        jti: &str,
    ) -> Result<(), AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let account = self.load_account(id).await?;
        self.ensure_may_manage_account(actor, &account).await?;
        self.oauth.flush_usage().await?;
        let session = sessions::live(self.store.pool(), id, now_ms())
            .await?
            .into_iter()
            .find(|s| s.jti == jti)
            .ok_or(AdminError::NotFound("session"))?;
        self.oauth
            .revoke_token(actor, id, &account.account.name, jti, session.expires_at)
            .await?;
        Ok(())
    }

    /// Revokes every token of the account at once (and ends the grace period of its
    /// previous credentials, if one runs).
    pub async fn revoke_all_sessions(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let account = self.load_account(id).await?;
        self.ensure_may_manage_account(actor, &account).await?;
        self.oauth.flush_usage().await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if !accounts::revoke_all_tokens(&mut tx, id, now).await? {
            return Err(AdminError::NotFound("service account"));
        }
        sessions::forget_account(&mut tx, id).await?;
        let event = AuditEvent {
            action: "service_account.tokens_revoked",
            target_kind: "service_account",
            target_id: id.to_owned(),
            target_name: account.account.name,
            detail: String::new(),
        };
        self.commit_account_change(tx, actor, &event, id, now).await
    }
}
