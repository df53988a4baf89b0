//! Service-account operations.

use super::keys::{self, KeyFile, KeySource};
use super::{Admin, AdminError};
use crate::domain::account::{AccountName, Description, TokenLifetime, name_key};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::now_ms;
use crate::domain::permission::{SERVICE_ACCOUNTS_READ, SERVICE_ACCOUNTS_WRITE};
use crate::domain::policy::Policies;
use crate::domain::secret::{ClientId, ClientSecret};
use crate::store::accounts::{self, AccountSummary, ListFilter, NewAccount};
use crate::store::changes::{self, Change};
use crate::store::policies::Holders;
use crate::store::roles::{self, RoleRow};
use crate::store::{StoreError, audit};

/// What a new account is made of, as typed by the user (checked by `create_account`).
#[derive(Debug, Clone, Default)]
pub struct CreateAccount {
    /// Name (required).
    pub name: String,
    /// Description (optional).
    pub description: String,
    /// Roles to assign, by id or name.
    pub role_ids: Vec<String>,
    /// The API it is bound to (its product), by id or name; `None`: none.
    pub product: Option<String>,
    /// Token lifetime in seconds (default one hour).
    pub token_lifetime_secs: Option<i64>,
    /// How it authenticates: `None` for a client secret, or the keys of `private_key_jwt`.
    pub keys: Option<KeySource>,
    /// When the keys stop being accepted (epoch ms), if ever.
    pub keys_expire_at: Option<i64>,
    /// Groups to put it in, by id or name (the actor must be able to give their roles).
    pub groups: Vec<String>,
}

/// Credentials shown once, in the field names of the downloads and the REST API.
#[derive(Debug, Clone)]
pub struct IssuedCredentials {
    /// Account id.
    pub id: String,
    /// Account name.
    pub name: String,
    /// Client ID.
    pub client_id: String,
    /// Client secret in plain text: shown this once (`None` for a `private_key_jwt` account).
    pub client_secret: Option<ClientSecret>,
    /// The token endpoint.
    pub access_token_uri: String,
    /// `client_secret_basic` or `private_key_jwt`.
    pub token_endpoint_auth_method: &'static str,
    /// The account's keys, for `private_key_jwt`.
    pub keys: Vec<crate::store::client_keys::ClientKeyRow>,
    /// The key file of a key keygate generated: shown this once.
    pub key_file: Option<KeyFile>,
    /// The account as it is after the operation, read by the operation itself (so the
    /// caller needs no read permission to learn what it created).
    pub account: AccountSummary,
    /// The policies in force when it was made (for `client_secret_expires_at`).
    pub policies: std::sync::Arc<Policies>,
}

/// RFC 7591 §3.2.1 `client_secret_expires_at` of an account under `policies`: epoch
/// seconds, 0 when its secret never expires (or it has none).
pub fn client_secret_expires_at(a: &accounts::AccountRow, policies: &Policies) -> i64 {
    policies.client_secret_expires_at(&a.auth_method, a.secret_created_at)
}

/// An account as the API shows it, under the policies in force.
pub fn account_json(s: &AccountSummary, policies: &Policies) -> serde_json::Value {
    let a = &s.account;
    serde_json::json!({
        "client_secret_expires_at": client_secret_expires_at(a, policies),
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "enabled": a.enabled,
        "client_id": a.client_id,
        "roles": s.roles.iter().map(|r| serde_json::json!({"id": r.id, "name": r.name})).collect::<Vec<_>>(),
        "token_lifetime_secs": a.token_lifetime_secs,
        "created_at": crate::domain::format_ms(a.created_at),
        "updated_at": crate::domain::format_ms(a.updated_at),
        "last_used_at": a.last_used_at.map(crate::domain::format_ms),
        "previous_client_id": a.old_client_id,
        "previous_credentials_expire_at": a.old_expires_at.map(crate::domain::format_ms),
        "token_endpoint_auth_method": a.auth_method,
        "api": a.api_id,
        "disabled_reason": a.disabled_reason,
    })
}

impl IssuedCredentials {
    /// What the REST API answers on create and regenerate, and the CLI prints as JSON: the
    /// account ([`account_json`]) with its credentials ([`to_json`](Self::to_json)).
    pub fn response_json(&self) -> serde_json::Value {
        let mut body = account_json(&self.account, &self.policies);
        if let (Some(b), serde_json::Value::Object(creds)) = (body.as_object_mut(), self.to_json())
        {
            b.extend(creds);
        }
        body
    }

    /// The client secret in plain text ("" for a `private_key_jwt` account).
    pub fn secret(&self) -> &str {
        self.client_secret.as_ref().map_or("", ClientSecret::expose)
    }

    /// The credentials as RFC 7591 names them, shown once: `id, name, client_id,
    /// client_id_issued_at, token_endpoint_auth_method, access_token_uri`, and
    /// `client_secret`, or `keys` (and the `key_file` of a generated key).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "name": self.name,
            "client_id": self.client_id,
            "client_id_issued_at": self.account.account.updated_at / 1000,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "access_token_uri": self.access_token_uri,
        });
        if let Some(s) = &self.client_secret {
            v["client_secret"] = s.expose().into();
        } else {
            v["keys"] = self.keys.iter().map(super::keys::key_json).collect();
        }
        if let Some(f) = &self.key_file {
            v["key_file"] = f.to_json();
        }
        v
    }
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
        let mut role_ids = self.resolve_roles(&input.role_ids).await?;
        role_ids.sort();
        role_ids.dedup();
        let roles = self.assignable_roles(actor, &role_ids).await?;
        let groups = if input.groups.is_empty() {
            Vec::new()
        } else {
            self.grantable_groups(actor, &input.groups).await?
        };
        let catalog = self.catalog().await?;
        let product = Self::resolve_product(&catalog, input.product.as_deref())?;
        for r in &roles {
            Self::check_product_role("roles", &catalog, product.as_deref(), r)?;
        }
        let policies = self.stored_policies().await?;
        if input.keys.is_none() {
            Self::ensure_secrets_allowed(&policies)?;
        }
        let new_keys = match &input.keys {
            Some(source) => {
                keys::check_expiry(input.keys_expire_at)?;
                Some(keys::parse_keys(source)?)
            }
            None => None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        let client_id = ClientId::generate();
        let secret = new_keys.is_none().then(ClientSecret::generate);
        let method = if new_keys.is_some() {
            keys::PRIVATE_KEY_JWT
        } else {
            keys::CLIENT_SECRET
        };
        let now = now_ms();
        let key_rows = new_keys
            .as_ref()
            .map(|n| keys::rows_of(&id, &n.keys, input.keys_expire_at, now))
            .unwrap_or_default();
        let mut tx = self.store.begin().await?;
        let inserted = accounts::insert(
            &mut tx,
            &NewAccount {
                id: &id,
                name: name.as_ref(),
                description: description.as_ref(),
                client_id: client_id.as_str(),
                // A key account has no secret: an empty hash never verifies.
                secret_hash: &secret
                    .as_ref()
                    .map(|s| self.hasher.hash(s.expose()))
                    .unwrap_or_default(),
                token_lifetime_secs: lifetime.secs(),
                auth_method: method,
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
        for row in &key_rows {
            crate::store::client_keys::insert(&mut tx, row).await?;
        }
        if !groups.is_empty() {
            let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
            crate::store::groups::set_account_groups(&mut tx, &id, &ids).await?;
        }
        if product.is_some() {
            crate::store::access::set_product(&mut tx, &id, product.as_deref()).await?;
        }
        let field = if groups.is_empty() { "roles" } else { "groups" };
        Self::ensure_role_limit(&mut tx, Holders::Account(&id), field).await?;
        let event = AuditEvent {
            action: "service_account.created",
            target_kind: "service_account",
            target_id: id.clone(),
            target_name: name.as_ref().to_owned(),
            detail: serde_json::json!({
                "client_id": client_id.as_str(),
                "roles": roles.iter().map(|r| &r.name).collect::<Vec<_>>(),
                "token_lifetime_secs": lifetime.secs(),
                "token_endpoint_auth_method": method,
                "kids": key_rows.iter().map(|k| &k.kid).collect::<Vec<_>>(),
                "groups": groups.iter().map(|g| &g.name).collect::<Vec<_>>(),
                "api": product,
            })
            .to_string(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        let account = self.load_account(&id).await?;
        let key_file = new_keys.and_then(|n| n.private_pem).map(|pem| KeyFile {
            client_id: client_id.as_str().to_owned(),
            key_id: key_rows.first().map(|k| k.kid.clone()).unwrap_or_default(),
            private_key: pem,
            token_uri: self.token_url.clone(),
        });
        Ok(IssuedCredentials {
            id,
            name: name.as_ref().to_owned(),
            client_id: client_id.as_str().to_owned(),
            client_secret: secret,
            access_token_uri: self.token_url.clone(),
            token_endpoint_auth_method: method,
            keys: key_rows,
            key_file,
            account,
            policies: std::sync::Arc::new(policies),
        })
    }

    /// The roles with `role_ids`, if they all exist and the actor holds every permission
    /// they carry (nobody can give more than they have).
    async fn assignable_roles(
        &self,
        actor: &Actor,
        role_ids: &[String],
    ) -> Result<Vec<RoleRow>, AdminError> {
        let roles = roles::by_ids(self.store.pool(), role_ids).await?;
        if roles.len() != role_ids.len() {
            return Err(AdminError::Invalid(crate::domain::ValidationError::new(
                "roles",
                "One of the chosen roles does not exist (any more).",
            )));
        }
        Self::ensure_grantable(actor, &roles)?;
        Ok(roles)
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

    /// How many accounts match a list's filter, and how many of them come before `first`
    /// (the page's first row), each counted up to [`accounts::COUNT_CAP`] + 1.
    pub async fn count_accounts(
        &self,
        actor: &Actor,
        filter: &ListFilter,
        first: Option<&accounts::AccountRow>,
    ) -> Result<(i64, i64), AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        let pool = self.store.pool();
        let total = accounts::count_matching(pool, filter).await?;
        let before = match first {
            Some(row) => accounts::count_before(pool, filter, row).await?,
            None => 0,
        };
        Ok((total, before))
    }

    /// One account.
    pub async fn get_account(&self, actor: &Actor, id: &str) -> Result<AccountSummary, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        self.load_account(id).await
    }

    /// One account, read by an operation for itself (its own permission check has run).
    pub(crate) async fn load_account(&self, id: &str) -> Result<AccountSummary, AdminError> {
        accounts::by_id(self.store.pool(), id)
            .await?
            .ok_or(AdminError::NotFound("service account"))
    }

    /// The id of the account whose id or current client ID is `wanted` (the REST API
    /// accepts either where an account is deleted).
    pub async fn account_id_or_client_id(&self, wanted: &str) -> Result<String, AdminError> {
        if ClientId::is_well_formed(wanted)
            && let Some(id) = accounts::id_by_client_id(self.store.pool(), wanted).await?
        {
            return Ok(id);
        }
        Ok(wanted.to_owned())
    }

    /// Refuses to act on an account that holds a role the actor could not give it: nobody
    /// regenerates, disables, enables, deletes or re-roles an account more powerful than
    /// themselves (else a regeneration hands them its permissions). Roles held through
    /// groups count. The command-line operator owns the database and may act on any.
    pub(crate) async fn ensure_may_manage_account(
        &self,
        actor: &Actor,
        account: &AccountSummary,
    ) -> Result<(), AdminError> {
        let held = accounts::held_role_ids(self.store.pool(), &account.account.id).await?;
        let roles = roles::by_ids(self.store.pool(), &held).await?;
        let what = format!(
            "the service account \u{201c}{}\u{201d}",
            account.account.name
        );
        Self::ensure_may_act_on(actor, &what, &roles)
    }

    /// The account whose id, client ID or name is `wanted`, tried in that order, each exactly
    /// (a name case-insensitively), so a decoy named like another account's id or client ID
    /// can never be picked in its place.
    pub async fn find_account(
        &self,
        actor: &Actor,
        wanted: &str,
    ) -> Result<AccountSummary, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        match accounts::find_id(self.store.pool(), wanted).await? {
            Some(id) => self.get_account(actor, &id).await,
            None => Err(AdminError::NotFound("service account")),
        }
    }

    /// Whether a service account named `name` exists (case-insensitive).
    pub async fn account_name_taken(&self, actor: &Actor, name: &str) -> Result<bool, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        Ok(accounts::name_taken(self.store.pool(), name).await?)
    }

    /// Every role with its permissions.
    pub async fn list_roles(&self, actor: &Actor) -> Result<Vec<RoleRow>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        Ok(roles::list(self.store.pool()).await?)
    }

    /// Role ids for role names typed by a user (case-insensitive); see
    /// [`resolve_roles`](Self::resolve_roles).
    pub async fn role_ids_by_names(&self, names: &[String]) -> Result<Vec<String>, AdminError> {
        self.resolve_roles(names).await
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Why keygate disables an account whose secret was reported leaked.
pub const LEAKED: &str = "secret reported leaked";

impl Admin {
    /// Refuses a new client secret while the policy forbids them, naming the other ways.
    fn ensure_secrets_allowed(policies: &Policies) -> Result<(), AdminError> {
        if policies.allow_client_secrets {
            return Ok(());
        }
        Err(crate::domain::ValidationError::new(
            "token_endpoint_auth_method",
            "Client secrets are turned off by policy: use private_key_jwt (the account signs \
             assertions with its key) or federated credentials (a trusted platform's token, \
             added to a private_key_jwt account).",
        )
        .into())
    }

    /// Refuses to enable an account whose secret was reported leaked before its credentials
    /// are regenerated (which clears the reason).
    pub(crate) fn ensure_may_enable(
        account: &AccountSummary,
        enabled: bool,
    ) -> Result<(), AdminError> {
        if enabled && account.account.disabled_reason.as_deref() == Some(LEAKED) {
            return Err(crate::domain::ValidationError::new(
                "enabled",
                "Its secret was reported leaked: regenerate its credentials first, then enable it.",
            )
            .into());
        }
        Ok(())
    }
}

/// Longest grace period for the previous credentials after a regeneration (24 h).
pub const MAX_GRACE_SECS: i64 = 86_400;

impl Admin {
    /// Enables or disables an account. A disabled account gets no tokens and every token it
    /// holds dies at once; enabling again does not revive them.
    pub async fn set_enabled(
        &self,
        actor: &Actor,
        id: &str,
        enabled: bool,
    ) -> Result<AccountSummary, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let before = self.load_account(id).await?;
        self.ensure_may_manage_account(actor, &before).await?;
        Self::ensure_may_enable(&before, enabled)?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if !accounts::set_enabled(&mut tx, id, enabled, now).await? {
            return Err(AdminError::NotFound("service account"));
        }
        let event = AuditEvent {
            action: if enabled {
                "service_account.enabled"
            } else {
                "service_account.disabled"
            },
            target_kind: "service_account",
            target_id: id.to_owned(),
            target_name: before.account.name.clone(),
            detail: String::new(),
        };
        self.commit_account_change(tx, actor, &event, id, now)
            .await?;
        self.load_account(id).await
    }

    /// New client ID and secret. The previous pair and its tokens stop working at once, or
    /// after `grace_secs` (at most 24 h) so applications can rotate without downtime.
    pub async fn regenerate_credentials(
        &self,
        actor: &Actor,
        id: &str,
        grace_secs: i64,
    ) -> Result<IssuedCredentials, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        if !(0..=MAX_GRACE_SECS).contains(&grace_secs) {
            return Err(crate::domain::ValidationError::new(
                "grace_period_seconds",
                format!("The grace period must be between 0 and {MAX_GRACE_SECS} seconds."),
            )
            .into());
        }
        let before = self.load_account(id).await?;
        self.ensure_may_manage_account(actor, &before).await?;
        if before.account.auth_method == keys::PRIVATE_KEY_JWT {
            return Err(AdminError::Conflict {
                field: "token_endpoint_auth_method",
                message: "This account authenticates with keys and has no secret to \
                          regenerate: add a new key and delete the old one."
                    .into(),
            });
        }
        let policies = self.stored_policies().await?;
        Self::ensure_secrets_allowed(&policies)?;
        let client_id = ClientId::generate();
        let secret = ClientSecret::generate();
        let now = now_ms();
        // A leaked secret gets no grace period: it must stop working now.
        let leaked = before.account.disabled_reason.as_deref() == Some(LEAKED);
        let old_expires_at = (grace_secs > 0 && !leaked).then(|| now + grace_secs * 1000);
        let mut tx = self.store.begin().await?;
        let hash = self.hasher.hash(secret.expose());
        if !accounts::replace_credentials(
            &mut tx,
            id,
            client_id.as_str(),
            &hash,
            old_expires_at,
            now,
        )
        .await?
        {
            return Err(AdminError::NotFound("service account"));
        }
        let event = AuditEvent {
            action: "service_account.credentials_regenerated",
            target_kind: "service_account",
            target_id: id.to_owned(),
            target_name: before.account.name.clone(),
            detail: serde_json::json!({
                "client_id": client_id.as_str(),
                "previous_client_id": before.account.client_id,
                "grace_period_seconds": grace_secs,
            })
            .to_string(),
        };
        self.commit_account_change(tx, actor, &event, id, now)
            .await?;
        let account = self.load_account(id).await?;
        Ok(IssuedCredentials {
            id: id.to_owned(),
            name: before.account.name,
            client_id: client_id.as_str().to_owned(),
            client_secret: Some(secret),
            access_token_uri: self.token_url.clone(),
            token_endpoint_auth_method: keys::CLIENT_SECRET,
            keys: Vec::new(),
            key_file: None,
            account,
            policies: std::sync::Arc::new(policies),
        })
    }

    /// Deletes an account for good: its credentials and tokens stop working at once; the
    /// audit log keeps its events.
    pub async fn delete_account(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let before = self.load_account(id).await?;
        self.ensure_may_manage_account(actor, &before).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if !accounts::delete(&mut tx, id).await? {
            return Err(AdminError::NotFound("service account"));
        }
        let event = AuditEvent {
            action: "service_account.deleted",
            target_kind: "service_account",
            target_id: id.to_owned(),
            target_name: before.account.name.clone(),
            detail: serde_json::json!({ "client_id": before.account.client_id }).to_string(),
        };
        self.commit_account_change(tx, actor, &event, id, now).await
    }

    /// Writes the audit event and the change-feed entry, commits, and drops the account
    /// from this instance's cache at once (other instances follow the feed).
    pub(crate) async fn commit_account_change(
        &self,
        mut tx: crate::store::Tx,
        actor: &Actor,
        event: &AuditEvent,
        id: &str,
        now: i64,
    ) -> Result<(), AdminError> {
        let change = Change::Account(id.to_owned());
        audit::append(&mut tx, actor, event, now).await?;
        changes::append(&mut tx, self.store.backend(), &change, now).await?;
        tx.commit().await?;
        self.oauth.apply_local(&change);
        Ok(())
    }
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UpdateAccount {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New token lifetime in seconds.
    pub token_lifetime_secs: Option<i64>,
    /// New set of directly assigned roles (ids or names).
    pub role_ids: Option<Vec<String>>,
    /// New set of groups (ids or names).
    pub groups: Option<Vec<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New product (API id or name; `Some(None)`: none).
    pub product: Option<Option<String>>,
    /// New set of all bindings (root-level and at nodes), replacing `role_ids`' and the
    /// node ones.
    pub bindings: Option<Vec<super::access::BindingInput>>,
}

impl Admin {
    /// Changes an account's name, description, token lifetime, roles or status in one
    /// transaction. New roles apply to tokens issued afterwards; removed permissions stop
    /// working at once (a token only ever carries what its account still holds).
    pub async fn update_account(
        &self,
        actor: &Actor,
        id: &str,
        input: UpdateAccount,
    ) -> Result<AccountSummary, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let before = self.load_account(id).await?;
        self.ensure_may_manage_account(actor, &before).await?;
        let name = match &input.name {
            Some(n) => AccountName::parse(n)?,
            None => AccountName::parse(&before.account.name)?,
        };
        let description = match &input.description {
            Some(d) => Description::parse(d)?,
            None => Description::parse(&before.account.description)?,
        };
        let lifetime = match input.token_lifetime_secs {
            Some(s) => TokenLifetime::parse(s)?,
            None => TokenLifetime::parse(before.account.token_lifetime_secs)?,
        };
        let new_roles = match &input.role_ids {
            Some(wanted) => {
                let mut ids = self.resolve_roles(wanted).await?;
                ids.sort();
                ids.dedup();
                Some(self.assignable_roles(actor, &ids).await?)
            }
            None => None,
        };
        let new_groups = match &input.groups {
            Some(wanted) => Some(self.grantable_groups(actor, wanted).await?),
            None => None,
        };
        if new_roles.is_some() && input.bindings.is_some() {
            return Err(crate::domain::ValidationError::new(
                "bindings",
                "Give either roles (bindings at the root) or bindings, not both.",
            )
            .into());
        }
        let catalog = self.catalog().await?;
        let product = match &input.product {
            Some(p) => Self::resolve_product(&catalog, p.as_deref())?,
            None => before.account.api_id.clone(),
        };
        let new_bindings = match &input.bindings {
            Some(wanted) => {
                let b = Self::resolve_bindings(&catalog, wanted, product.as_deref())?;
                let ids: Vec<String> = b.iter().map(|x| x.role_id.clone()).collect();
                self.assignable_roles(actor, &dedup(ids)).await?;
                Some(b)
            }
            None => None,
        };
        if let Some(roles) = &new_roles {
            for r in roles {
                Self::check_product_role("roles", &catalog, product.as_deref(), r)?;
            }
        }
        if product != before.account.api_id && product.is_some() {
            // The roles it keeps must be of the new product.
            let kept: Vec<String> = match (&new_roles, &new_bindings) {
                (_, Some(b)) => b.iter().map(|x| x.role_id.clone()).collect(),
                (Some(r), None) => {
                    let mut ids: Vec<String> = r.iter().map(|x| x.id.clone()).collect();
                    ids.extend(
                        crate::store::access::account_bindings(self.store.pool(), id)
                            .await?
                            .into_iter()
                            .filter(|b| b.node_id.is_some())
                            .map(|b| b.role_id),
                    );
                    ids
                }
                (None, None) => crate::store::access::account_bindings(self.store.pool(), id)
                    .await?
                    .into_iter()
                    .map(|b| b.role_id)
                    .collect(),
            };
            for rid in kept {
                if let Some(r) = catalog.role(&rid) {
                    Self::check_product_role("api", &catalog, product.as_deref(), r)?;
                }
            }
        }
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        match accounts::update_details(
            &mut tx,
            id,
            name.as_ref(),
            description.as_ref(),
            lifetime.secs(),
            now,
        )
        .await
        {
            Err(StoreError::Conflict) => {
                return Err(AdminError::Conflict {
                    field: "name",
                    message: format!(
                        "A service account named \u{201c}{}\u{201d} already exists.",
                        name.as_ref()
                    ),
                });
            }
            Ok(false) => return Err(AdminError::NotFound("service account")),
            other => {
                other?;
            }
        }
        if let Some(roles) = &new_roles {
            let ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
            accounts::set_roles(&mut tx, id, &ids).await?;
        }
        if let Some(groups) = &new_groups {
            let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
            crate::store::groups::set_account_groups(&mut tx, id, &ids).await?;
        }
        if let Some(b) = &new_bindings {
            crate::store::access::set_bindings(&mut tx, false, id, b).await?;
        }
        if product != before.account.api_id {
            crate::store::access::set_product(&mut tx, id, product.as_deref()).await?;
        }
        if new_roles.is_some() || new_groups.is_some() || new_bindings.is_some() {
            let field = match (&new_bindings, &new_groups) {
                (Some(_), _) => "bindings",
                (None, Some(_)) if new_roles.is_none() => "groups",
                _ => "roles",
            };
            Self::ensure_role_limit(&mut tx, Holders::Account(id), field).await?;
        }
        if let Some(enabled) = input.enabled {
            Self::ensure_may_enable(&before, enabled)?;
        }
        if let Some(enabled) = input.enabled.filter(|e| *e != before.account.enabled) {
            accounts::set_enabled(&mut tx, id, enabled, now).await?;
        }
        // The new values, and under "before" the values they replace (the audit log shows
        // each change as before → after).
        let mut changed = serde_json::Map::new();
        let mut was = serde_json::Map::new();
        if name.as_ref() != before.account.name {
            changed.insert("name".into(), name.as_ref().into());
            was.insert("name".into(), before.account.name.clone().into());
        }
        if description.as_ref() != before.account.description {
            changed.insert("description".into(), description.as_ref().into());
            was.insert(
                "description".into(),
                before.account.description.clone().into(),
            );
        }
        if lifetime.secs() != before.account.token_lifetime_secs {
            changed.insert("token_lifetime_secs".into(), lifetime.secs().into());
            was.insert(
                "token_lifetime_secs".into(),
                before.account.token_lifetime_secs.into(),
            );
        }
        if let Some(roles) = &new_roles {
            let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
            changed.insert("roles".into(), names.into());
            let old: Vec<&str> = before.roles.iter().map(|r| r.name.as_str()).collect();
            was.insert("roles".into(), old.into());
        }
        if let Some(groups) = &new_groups {
            let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
            changed.insert("groups".into(), names.into());
        }
        if let Some(b) = &new_bindings {
            let shown: Vec<serde_json::Value> = b
                .iter()
                .map(|x| {
                    serde_json::json!({
                        "role": catalog.role(&x.role_id).map(|r| &r.name),
                        "node": x.node_id.as_deref().and_then(|n| catalog.node(n)).map(|n| &n.path),
                    })
                })
                .collect();
            changed.insert("bindings".into(), shown.into());
        }
        if product != before.account.api_id {
            changed.insert(
                "api".into(),
                product
                    .as_deref()
                    .and_then(|p| catalog.api(p))
                    .map(|a| a.name.clone())
                    .into(),
            );
        }
        // A change of status is written as service_account.enabled or .disabled, as when
        // the toggle alone is used, so the audit log reads the same whichever way it came.
        if !was.is_empty() {
            changed.insert("before".into(), serde_json::Value::Object(was));
        }
        let status = input.enabled.filter(|e| *e != before.account.enabled);
        let mut events = Vec::new();
        if !changed.is_empty() || status.is_none() {
            events.push(AuditEvent {
                action: "service_account.updated",
                target_kind: "service_account",
                target_id: id.to_owned(),
                target_name: name.as_ref().to_owned(),
                detail: serde_json::Value::Object(changed).to_string(),
            });
        }
        if let Some(enabled) = status {
            events.push(AuditEvent {
                action: if enabled {
                    "service_account.enabled"
                } else {
                    "service_account.disabled"
                },
                target_kind: "service_account",
                target_id: id.to_owned(),
                target_name: name.as_ref().to_owned(),
                detail: String::new(),
            });
        }
        let Some((last, earlier)) = events.split_last() else {
            return Err(AdminError::NotFound("service account"));
        };
        for event in earlier {
            audit::append(&mut tx, actor, event, now).await?;
        }
        self.commit_account_change(tx, actor, last, id, now).await?;
        self.load_account(id).await
    }

    /// Role ids for role ids or names given by automation or the command line: each is
    /// first looked up as an id, exactly; only if no role has that id is it a name
    /// (case-insensitive). Unknown ones are an error that names them.
    pub async fn resolve_roles(&self, names_or_ids: &[String]) -> Result<Vec<String>, AdminError> {
        let all = roles::list(self.store.pool()).await?;
        let mut ids = Vec::new();
        let mut unknown = Vec::new();
        for wanted in names_or_ids {
            let w = wanted.trim();
            let key = name_key(w);
            match all
                .iter()
                .find(|r| r.id == w)
                .or_else(|| all.iter().find(|r| name_key(&r.name) == key))
            {
                Some(r) => ids.push(r.id.clone()),
                None => unknown.push(format!("\u{201c}{w}\u{201d}")),
            }
        }
        if unknown.is_empty() {
            Ok(ids)
        } else {
            Err(crate::domain::ValidationError::new(
                "roles",
                format!(
                    "unknown role {}; roles are: {}",
                    unknown.join(", "),
                    all.iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into())
        }
    }
}
