//! Leak reporting (`POST /oauth/leaked`): whoever finds a keygate credential (in a
//! repository, a log, a chat) reports it, and it stops working at once on every instance. A
//! personal access token is deleted; an account whose client secret leaked is disabled
//! with the reason "secret reported leaked" until an administrator regenerates its
//! credentials and enables it. The reporter learns nothing about what was found.

use std::collections::BTreeSet;

use super::{Admin, AdminError};
use crate::domain::audit::{Actor, ActorKind, AuditEvent};
use crate::domain::now_ms;
use crate::domain::secret::{
    PERSONAL_TOKEN_PREFIX, PERSONAL_TOKEN_RANDOM, SECRET_PREFIX, is_checksummed,
};
use crate::store::changes::{self, Change};
use crate::store::{accounts, audit, personal_tokens};

/// Most credentials one report may list.
pub const MAX_REPORTED: usize = 100;

impl Admin {
    /// Contains every live keygate credential among `found`, reported from `source`.
    /// Anything else in the list is ignored.
    pub async fn report_leaked(&self, source: &str, found: &[String]) -> Result<(), AdminError> {
        let reporter = Actor {
            kind: ActorKind::System,
            id: "leak-report".into(),
            name: "leak report".into(),
            permissions: BTreeSet::new(),
            source: source.to_owned(),
        };
        let unique: BTreeSet<&str> = found.iter().map(|s| s.trim()).collect();
        for credential in unique {
            if is_checksummed(credential, PERSONAL_TOKEN_PREFIX, PERSONAL_TOKEN_RANDOM) {
                self.contain_personal_token(&reporter, credential).await?;
            } else if credential.starts_with(SECRET_PREFIX)
                && !crate::domain::secret::is_bad_checksummed_secret(credential)
            {
                self.contain_secret(&reporter, credential).await?;
            }
        }
        Ok(())
    }

    async fn contain_personal_token(
        &self,
        reporter: &Actor,
        token: &str,
    ) -> Result<(), AdminError> {
        let hash = self.hasher.hash(token);
        let Some(row) = personal_tokens::by_hash(self.store.pool(), &hash).await? else {
            return Ok(());
        };
        let account = self.load_account(&row.account_id).await?;
        let mut tx = self.store.begin().await?;
        if personal_tokens::delete(&mut tx, &row.account_id, &row.id)
            .await?
            .is_none()
        {
            return Ok(());
        }
        let event = AuditEvent {
            action: "personal_token.deleted",
            target_kind: "service_account",
            target_id: row.account_id.clone(),
            target_name: account.account.name,
            detail: serde_json::json!({
                "token_id": row.id, "name": row.name, "prefix": row.prefix,
                "reason": "reported leaked", "reporter": reporter.source,
            })
            .to_string(),
        };
        let now = now_ms();
        let change = Change::PersonalToken(hash);
        audit::append(&mut tx, reporter, &event, now).await?;
        changes::append(&mut tx, self.store.backend(), &change, now).await?;
        tx.commit().await?;
        self.oauth.apply_local(&change);
        Ok(())
    }

    async fn contain_secret(&self, reporter: &Actor, secret: &str) -> Result<(), AdminError> {
        let hash = self.hasher.hash(secret);
        let Some((id, name)) = accounts::by_secret_hash(self.store.pool(), &hash).await? else {
            return Ok(());
        };
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if !accounts::disable_because(&mut tx, &id, super::accounts::LEAKED, now).await? {
            return Ok(());
        }
        let event = AuditEvent {
            action: "service_account.disabled",
            target_kind: "service_account",
            target_id: id.clone(),
            target_name: name,
            detail: serde_json::json!({
                "reason": super::accounts::LEAKED, "reporter": reporter.source,
            })
            .to_string(),
        };
        self.commit_account_change(tx, reporter, &event, &id, now)
            .await
    }
}
