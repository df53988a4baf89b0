//! Service-account operations.

use serde::Serialize;

use super::{Admin, AdminError};
use crate::domain::account::{AccountName, Description, TokenLifetime};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::now_ms;
use crate::domain::permission::{SERVICE_ACCOUNTS_READ, SERVICE_ACCOUNTS_WRITE};
use crate::domain::secret::{ClientId, ClientSecret};
use crate::store::accounts::{self, AccountSummary, ListFilter, NewAccount};
use crate::store::roles::{self, RoleRow};
use crate::store::{StoreError, audit};

/// What a new account is made of, as typed by the user (checked by `create_account`).
#[derive(Debug, Clone, Default)]
pub struct CreateAccount {
    /// Name (required).
    pub name: String,
    /// Description (optional).
    pub description: String,
    /// Role ids to assign.
    pub role_ids: Vec<String>,
    /// Token lifetime in seconds (default one hour).
    pub token_lifetime_secs: Option<i64>,
}

/// Credentials shown once, in the field names of the downloads and the REST API.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedCredentials {
    /// Account id.
    pub id: String,
    /// Account name.
    pub name: String,
    /// Client ID.
    pub client_id: String,
    /// Client secret in plain text: shown this once.
    #[serde(serialize_with = "expose_secret")]
    pub client_secret: ClientSecret,
    /// The token endpoint.
    pub access_token_uri: String,
}

fn expose_secret<S: serde::Serializer>(s: &ClientSecret, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.expose())
}

impl Admin {
    /// Creates a service account with fresh credentials.
    pub async fn create_account(
        &self,
        actor: &Actor,
        input: CreateAccount,
    ) -> Result<IssuedCredentials, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let name = AccountName::parse(&input.name)?;
        let description = Description::parse(&input.description)?;
        let lifetime = match input.token_lifetime_secs {
            Some(s) => TokenLifetime::parse(s)?,
            None => TokenLifetime::DEFAULT,
        };
        let mut role_ids = input.role_ids;
        role_ids.sort();
        role_ids.dedup();
        let roles = roles::by_ids(self.store.pool(), &role_ids).await?;
        if roles.len() != role_ids.len() {
            return Err(AdminError::Invalid(crate::domain::ValidationError::new(
                "roles",
                "One of the chosen roles does not exist (any more).",
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let client_id = ClientId::generate();
        let secret = ClientSecret::generate();
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let inserted = accounts::insert(
            &mut tx,
            &NewAccount {
                id: &id,
                name: name.as_ref(),
                description: description.as_ref(),
                client_id: client_id.as_str(),
                secret_hash: &self.hasher.hash(secret.expose()),
                token_lifetime_secs: lifetime.secs(),
                role_ids: &role_ids,
                now,
            },
        )
        .await;
        match inserted {
            Err(StoreError::Conflict) => {
                return Err(AdminError::Conflict {
                    field: "name",
                    message: format!(
                        "A service account named \u{201c}{}\u{201d} already exists.",
                        name.as_ref()
                    ),
                });
            }
            other => other?,
        }
        let event = AuditEvent {
            action: "service_account.created",
            target_kind: "service_account",
            target_id: id.clone(),
            target_name: name.as_ref().to_owned(),
            detail: serde_json::json!({
                "client_id": client_id.as_str(),
                "roles": roles.iter().map(|r| &r.name).collect::<Vec<_>>(),
                "token_lifetime_secs": lifetime.secs(),
            })
            .to_string(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        Ok(IssuedCredentials {
            id,
            name: name.as_ref().to_owned(),
            client_id: client_id.as_str().to_owned(),
            client_secret: secret,
            access_token_uri: self.token_url.clone(),
        })
    }

    /// A page of accounts.
    pub async fn list_accounts(
        &self,
        actor: &Actor,
        filter: &ListFilter,
    ) -> Result<Vec<AccountSummary>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        Ok(accounts::list(self.store.pool(), filter).await?)
    }

    /// One account.
    pub async fn get_account(&self, actor: &Actor, id: &str) -> Result<AccountSummary, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        accounts::by_id(self.store.pool(), id)
            .await?
            .ok_or(AdminError::NotFound("service account"))
    }

    /// Every role with its permissions.
    pub async fn list_roles(&self, actor: &Actor) -> Result<Vec<RoleRow>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        Ok(roles::list(self.store.pool()).await?)
    }

    /// Role ids for role names typed by a user (case-insensitive); unknown names are an error
    /// that lists them and the roles that exist.
    pub async fn role_ids_by_names(&self, names: &[String]) -> Result<Vec<String>, AdminError> {
        match roles::ids_by_names(self.store.pool(), names).await? {
            Ok(ids) => Ok(ids),
            Err(unknown) => {
                let known: Vec<String> = roles::list(self.store.pool())
                    .await?
                    .into_iter()
                    .map(|r| r.name)
                    .collect();
                Err(AdminError::Invalid(crate::domain::ValidationError::new(
                    "roles",
                    format!(
                        "unknown role{} {}; roles are: {}",
                        if unknown.len() == 1 { "" } else { "s" },
                        unknown
                            .iter()
                            .map(|n| format!("\u{201c}{n}\u{201d}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        known.join(", ")
                    ),
                )))
            }
        }
    }
}
