//! Personal access tokens: named, long-lived, scoped `kgp_…` credentials of an account. An
//! account may always make, list and delete its own; acting on another account's needs
//! `service-accounts:write` (reading, `:read`) and the takeover rule.

use super::{Admin, AdminError};
use crate::domain::access::{GrantError, Holder, token_grant};
use crate::domain::audit::{Actor, ActorKind, AuditEvent};
use crate::domain::permission::{SERVICE_ACCOUNTS_READ, SERVICE_ACCOUNTS_WRITE, parse_scope};
use crate::domain::secret::{PERSONAL_TOKEN_PREFIX, PERSONAL_TOKEN_RANDOM, checksummed};
use crate::domain::{ValidationError, now_ms};
use crate::store::changes::Change;
use crate::store::personal_tokens::{self, PersonalTokenRow};

/// What a new personal token is made of, as typed.
#[derive(Debug, Clone, Default)]
pub struct NewPersonalToken {
    /// Its name (1–100 characters).
    pub name: String,
    /// Days until it expires (1 to the policy's `max_personal_token_days`; required).
    pub expires_in_days: Option<i64>,
    /// Space-separated permissions (absent: all the account holds for the API).
    pub scope: Option<String>,
    /// The API it is for, by identifier (absent: as for a plain token request).
    pub resource: Option<String>,
}

/// A personal token just made: its record and its value, shown this once.
#[derive(Clone)]
pub struct CreatedPersonalToken {
    /// The record.
    pub row: PersonalTokenRow,
    /// The token itself.
    pub token: String,
}

impl std::fmt::Debug for CreatedPersonalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedPersonalToken")
            .field("id", &self.row.id)
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// Whether `actor` is the account `account_id` itself (through one of its tokens).
    fn is_self(actor: &Actor, account_id: &str) -> bool {
        actor.kind == ActorKind::ServiceAccount && actor.id == account_id
    }

    async fn ensure_may_use_tokens_of(
        &self,
        actor: &Actor,
        account_id: &str,
        permission: &'static str,
    ) -> Result<(), AdminError> {
        if Self::is_self(actor, account_id) {
            return Ok(());
        }
        Self::require(actor, permission)?;
        let account = self.load_account(account_id).await?;
        if permission == SERVICE_ACCOUNTS_WRITE {
            self.ensure_may_manage_account(actor, &account).await?;
        }
        Ok(())
    }

    /// Makes a personal access token for account `account_id`, never carrying more than the
    /// account holds.
    pub async fn create_personal_token(
        &self,
        actor: &Actor,
        account_id: &str,
        input: NewPersonalToken,
    ) -> Result<CreatedPersonalToken, AdminError> {
        self.ensure_may_use_tokens_of(actor, account_id, SERVICE_ACCOUNTS_WRITE)
            .await?;
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                "Name must be 1 to 100 characters, without control characters.",
            )
            .into());
        }
        let max_days = self.stored_policies().await?.personal_token_days();
        if max_days == 0 {
            return Err(ValidationError::new(
                "expires_in_days",
                "New personal tokens are turned off by policy (max_personal_token_days is 0); \
                 existing ones keep working until they expire.",
            )
            .into());
        }
        let days = input.expires_in_days.ok_or_else(|| {
            ValidationError::new("expires_in_days", "expires_in_days is required.")
        })?;
        if !(1..=max_days).contains(&days) {
            return Err(ValidationError::new(
                "expires_in_days",
                format!("expires_in_days must be between 1 and {max_days} (the policy's maximum)."),
            )
            .into());
        }
        let wanted = match input.scope.as_deref().filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(s) => Some(parse_scope(s).ok_or_else(|| {
                ValidationError::new("scope", "The scope is not a list of permissions.")
            })?),
        };
        let rec = self
            .oauth
            .cache()
            .by_id(&self.store, account_id)
            .await?
            .ok_or(AdminError::NotFound("service account"))?;
        let holder = Holder {
            access: &rec.access,
            product: rec
                .product
                .as_ref()
                .map(|(id, ident)| (id.as_str(), ident.as_str())),
            keygate_identifier: self.oauth.keygate_identifier(),
        };
        let resource = input
            .resource
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let grant = token_grant(holder, resource, wanted.as_deref()).map_err(|e| match e {
            GrantError::InvalidScope => ValidationError::new(
                "scope",
                "The scope holds a permission this service account does not hold.",
            ),
            GrantError::InvalidTarget => ValidationError::new(
                "resource",
                "The resource is not an API this service account may get tokens for.",
            ),
        })?;
        let token = checksummed(PERSONAL_TOKEN_PREFIX, PERSONAL_TOKEN_RANDOM);
        let now = now_ms();
        let row = PersonalTokenRow {
            id: uuid::Uuid::new_v4().to_string(),
            account_id: account_id.to_owned(),
            name,
            prefix: token[..12].to_owned(),
            token_hash: self.hasher.hash(&token),
            api_id: grant.api_id.clone(),
            scope: grant.scope.join(" "),
            created_at: now,
            expires_at: now + days * 86_400_000,
            last_used_at: None,
        };
        let mut tx = self.store.begin().await?;
        personal_tokens::insert(&mut tx, &row).await?;
        let event = AuditEvent {
            action: "personal_token.created",
            target_kind: "service_account",
            target_id: account_id.to_owned(),
            target_name: rec.name.clone(),
            detail: serde_json::json!({
                "token_id": row.id, "name": row.name, "prefix": row.prefix,
                "scope": row.scope, "aud": grant.audience,
                "expires_at": crate::domain::format_ms(row.expires_at),
            })
            .to_string(),
        };
        crate::store::audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        Ok(CreatedPersonalToken { row, token })
    }

    /// The personal tokens of an account (never their values).
    pub async fn list_personal_tokens(
        &self,
        actor: &Actor,
        account_id: &str,
    ) -> Result<Vec<PersonalTokenRow>, AdminError> {
        self.ensure_may_use_tokens_of(actor, account_id, SERVICE_ACCOUNTS_READ)
            .await?;
        self.load_account(account_id).await?;
        Ok(personal_tokens::of_account(self.store.pool(), account_id).await?)
    }

    /// Deletes a personal token, at once on every instance.
    pub async fn delete_personal_token(
        &self,
        actor: &Actor,
        account_id: &str,
        token_id: &str,
    ) -> Result<(), AdminError> {
        self.ensure_may_use_tokens_of(actor, account_id, SERVICE_ACCOUNTS_WRITE)
            .await?;
        let account = self.load_account(account_id).await?;
        let mut tx = self.store.begin().await?;
        let Some(row) = personal_tokens::delete(&mut tx, account_id, token_id).await? else {
            return Err(AdminError::NotFound("personal token"));
        };
        let event = AuditEvent {
            action: "personal_token.deleted",
            target_kind: "service_account",
            target_id: account_id.to_owned(),
            target_name: account.account.name,
            detail: serde_json::json!({"token_id": row.id, "name": row.name, "prefix": row.prefix})
                .to_string(),
        };
        let now = now_ms();
        let change = Change::PersonalToken(row.token_hash);
        crate::store::audit::append(&mut tx, actor, &event, now).await?;
        crate::store::changes::append(&mut tx, self.store.backend(), &change, now).await?;
        tx.commit().await?;
        self.oauth.apply_local(&change);
        Ok(())
    }
}
