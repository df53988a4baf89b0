//! Workload identity federation: trusted external issuers (changing them needs
//! `roles:write`: an issuer decides who may stand in for accounts) and the federated
//! credentials of accounts (`service-accounts:write` and the takeover rule). Every change is
//! audited and reaches every instance through the change feed.

use serde_json::{Value, json};

use super::{Admin, AdminError};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::federation::{
    self, FederatedCredential, TrustedIssuer, conditions_json, parse_rules,
};
use crate::domain::permission::{ROLES_WRITE, SERVICE_ACCOUNTS_READ, SERVICE_ACCOUNTS_WRITE};
use crate::domain::{format_ms, now_ms};
use crate::store::changes::{self, Change};
use crate::store::{StoreError, audit, federation as store};

/// A trusted issuer as typed by the user.
#[derive(Debug, Clone, Default)]
pub struct IssuerInput {
    /// Its name.
    pub name: String,
    /// Its issuer URL.
    pub issuer: String,
    /// Its JWKS URL, if not from discovery.
    pub jwks_uri: Option<String>,
    /// The audience its tokens must carry, if not keygate's issuer URL.
    pub audience: Option<String>,
}

/// Changes to a trusted issuer; `None` leaves a field, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct IssuerPatch {
    /// New name.
    pub name: Option<String>,
    /// New issuer URL.
    pub issuer: Option<String>,
    /// New JWKS URL, or none (discovery).
    pub jwks_uri: Option<Option<String>>,
    /// New audience, or none (keygate's issuer URL).
    pub audience: Option<Option<String>>,
}

/// A trusted issuer as the API shows it.
pub fn issuer_json(i: &TrustedIssuer) -> Value {
    json!({
        "id": i.id,
        "name": i.name,
        "issuer": i.issuer,
        "jwks_uri": i.jwks_uri,
        "audience": i.audience,
        "created_at": format_ms(i.created_at),
        "updated_at": format_ms(i.updated_at),
    })
}

/// A federated credential as the API shows it.
pub fn credential_json(c: &FederatedCredential) -> Value {
    json!({
        "id": c.id,
        "trusted_issuer": c.trusted_issuer_id,
        "subject": c.subject,
        "conditions": conditions_json(&c.conditions),
        "created_at": format_ms(c.created_at),
    })
}

fn check_issuer(i: &IssuerInput) -> Result<IssuerInput, AdminError> {
    Ok(IssuerInput {
        name: federation::parse_name(&i.name)?,
        issuer: federation::parse_url("issuer", &i.issuer)?,
        jwks_uri: i
            .jwks_uri
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(|u| federation::parse_url("jwks_uri", u))
            .transpose()?,
        audience: i
            .audience
            .as_deref()
            .filter(|a| !a.trim().is_empty())
            .map(federation::parse_audience)
            .transpose()?,
    })
}

fn taken(e: StoreError) -> AdminError {
    match e {
        StoreError::Conflict => AdminError::Conflict {
            field: "issuer",
            message: "A trusted issuer with this name or issuer URL exists.".into(),
        },
        other => other.into(),
    }
}

impl Admin {
    /// Every trusted issuer, by name.
    pub async fn list_trusted_issuers(
        &self,
        actor: &Actor,
    ) -> Result<Vec<TrustedIssuer>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        Ok(store::issuers(self.store.pool()).await?)
    }

    /// One trusted issuer.
    pub async fn get_trusted_issuer(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<TrustedIssuer, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        store::issuer_by_id(self.store.pool(), id)
            .await?
            .ok_or(AdminError::NotFound("trusted issuer"))
    }

    /// Adds a trusted issuer.
    pub async fn create_trusted_issuer(
        &self,
        actor: &Actor,
        input: &IssuerInput,
    ) -> Result<TrustedIssuer, AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let i = check_issuer(input)?;
        let now = now_ms();
        let row = TrustedIssuer {
            id: uuid::Uuid::new_v4().to_string(),
            name: i.name,
            issuer: i.issuer,
            jwks_uri: i.jwks_uri,
            audience: i.audience,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.begin().await?;
        store::insert_issuer(&mut tx, &row).await.map_err(taken)?;
        self.commit_issuer_change(tx, actor, "trusted_issuer.created", &row, &[], now)
            .await?;
        Ok(row)
    }

    /// Changes a trusted issuer.
    pub async fn update_trusted_issuer(
        &self,
        actor: &Actor,
        id: &str,
        patch: &IssuerPatch,
    ) -> Result<TrustedIssuer, AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let old = store::issuer_by_id(self.store.pool(), id)
            .await?
            .ok_or(AdminError::NotFound("trusted issuer"))?;
        let merged = check_issuer(&IssuerInput {
            name: patch.name.clone().unwrap_or_else(|| old.name.clone()),
            issuer: patch.issuer.clone().unwrap_or_else(|| old.issuer.clone()),
            jwks_uri: patch
                .jwks_uri
                .clone()
                .unwrap_or_else(|| old.jwks_uri.clone()),
            audience: patch
                .audience
                .clone()
                .unwrap_or_else(|| old.audience.clone()),
        })?;
        let now = now_ms();
        let row = TrustedIssuer {
            name: merged.name,
            issuer: merged.issuer,
            jwks_uri: merged.jwks_uri,
            audience: merged.audience,
            updated_at: now,
            ..old
        };
        let mut tx = self.store.begin().await?;
        store::update_issuer(&mut tx, &row).await.map_err(taken)?;
        self.commit_issuer_change(tx, actor, "trusted_issuer.updated", &row, &[], now)
            .await?;
        Ok(row)
    }

    /// Deletes a trusted issuer, and the federated credentials that name it.
    pub async fn delete_trusted_issuer(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let row = store::issuer_by_id(self.store.pool(), id)
            .await?
            .ok_or(AdminError::NotFound("trusted issuer"))?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let accounts = store::delete_issuer(&mut tx, id)
            .await?
            .ok_or(AdminError::NotFound("trusted issuer"))?;
        self.commit_issuer_change(tx, actor, "trusted_issuer.deleted", &row, &accounts, now)
            .await
    }

    /// Audits an issuer change and tells every instance (issuers, and the accounts whose
    /// credentials went with it).
    async fn commit_issuer_change(
        &self,
        mut tx: crate::store::Tx,
        actor: &Actor,
        action: &'static str,
        row: &TrustedIssuer,
        accounts: &[String],
        now: i64,
    ) -> Result<(), AdminError> {
        let event = AuditEvent {
            action,
            target_kind: "trusted_issuer",
            target_id: row.id.clone(),
            target_name: row.name.clone(),
            detail: json!({
                "issuer": row.issuer,
                "jwks_uri": row.jwks_uri,
                "audience": row.audience,
                "credentials_deleted_of": accounts,
            })
            .to_string(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        let mut all = vec![Change::TrustedIssuers];
        all.extend(accounts.iter().map(|a| Change::Account(a.clone())));
        for c in &all {
            changes::append(&mut tx, self.store.backend(), c, now).await?;
        }
        tx.commit().await?;
        for c in &all {
            self.oauth.apply_local(c);
        }
        Ok(())
    }

    /// The federated credentials of an account.
    pub async fn list_federated_credentials(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<FederatedCredential>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        let account = self.load_account(id).await?;
        Ok(store::credentials_of_account(self.store.pool(), &account.account.id).await?)
    }

    /// Adds a federated credential to an account: tokens of `trusted_issuer` with this
    /// subject and these conditions then stand in for it, on every instance at once.
    pub async fn add_federated_credential(
        &self,
        actor: &Actor,
        id: &str,
        trusted_issuer: &str,
        subject: Option<&str>,
        conditions: Option<&Value>,
    ) -> Result<FederatedCredential, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let account = self.load_account(id).await?;
        self.ensure_may_manage_account(actor, &account).await?;
        let (subject, conditions) = parse_rules(subject, conditions)?;
        let Some(issuer) = store::issuer_by_id(self.store.pool(), trusted_issuer).await? else {
            return Err(crate::domain::ValidationError::new(
                "trusted_issuer",
                "trusted_issuer must be the id of a trusted issuer",
            )
            .into());
        };
        let now = now_ms();
        let row = FederatedCredential {
            id: uuid::Uuid::new_v4().to_string(),
            account_id: account.account.id.clone(),
            trusted_issuer_id: issuer.id.clone(),
            subject,
            conditions,
            created_at: now,
        };
        let mut tx = self.store.begin().await?;
        store::insert_credential(&mut tx, &row).await?;
        let event = AuditEvent {
            action: "service_account.federated_credential_added",
            target_kind: "service_account",
            target_id: account.account.id.clone(),
            target_name: account.account.name.clone(),
            detail: json!({
                "credential": row.id,
                "trusted_issuer": issuer.id,
                "issuer": issuer.issuer,
                "subject": row.subject,
                "conditions": conditions_json(&row.conditions),
            })
            .to_string(),
        };
        self.commit_account_change(tx, actor, &event, &account.account.id, now)
            .await?;
        Ok(row)
    }

    /// Deletes a federated credential of an account (refused at once, on every instance).
    pub async fn delete_federated_credential(
        &self,
        actor: &Actor,
        id: &str,
        credential: &str,
    ) -> Result<(), AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let account = self.load_account(id).await?;
        self.ensure_may_manage_account(actor, &account).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if !store::delete_credential(&mut tx, &account.account.id, credential).await? {
            return Err(AdminError::NotFound("federated credential"));
        }
        let event = AuditEvent {
            action: "service_account.federated_credential_deleted",
            target_kind: "service_account",
            target_id: account.account.id.clone(),
            target_name: account.account.name.clone(),
            detail: json!({ "credential": credential }).to_string(),
        };
        self.commit_account_change(tx, actor, &event, &account.account.id, now)
            .await
    }
}
