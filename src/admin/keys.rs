//! The public keys of `private_key_jwt` accounts: add (pasted or generated), list, delete.
//! Several keys are live at once, so a client rotates without downtime.

use serde_json::{Value, json};

use super::{Admin, AdminError};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::client_key::{self, ClientKey};
use crate::domain::permission::{SERVICE_ACCOUNTS_READ, SERVICE_ACCOUNTS_WRITE};
use crate::domain::{ValidationError, format_ms, now_ms};
use crate::store::StoreError;
use crate::store::client_keys::{self, ClientKeyRow};

pub use crate::domain::client_key::{CLIENT_SECRET, PRIVATE_KEY_JWT};

/// Where new public keys come from, as given by the user.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWK Set.
    Jwks(Value),
    /// A PEM SubjectPublicKeyInfo.
    PublicKey(String),
    /// keygate makes a P-256 key pair and hands out the private key once.
    Generate,
}

/// A key file for a key keygate generated: everything a client needs, shown once. keygate
/// keeps only the public key.
#[derive(Clone)]
pub struct KeyFile {
    /// The client ID.
    pub client_id: String,
    /// The key's id (`kid` of the assertions' header).
    pub key_id: String,
    /// PKCS#8 PEM of the private key.
    pub private_key: String,
    /// The token endpoint.
    pub token_uri: String,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// The key file as JSON: `{"type":"keygate_service_account_key","client_id","key_id",
    /// "private_key","token_uri"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "type": "keygate_service_account_key",
            "client_id": self.client_id,
            "key_id": self.key_id,
            "private_key": self.private_key,
            "token_uri": self.token_uri,
        })
    }
}

/// A key as the API shows it.
pub fn key_json(k: &ClientKeyRow) -> Value {
    // `alg` is one JWS algorithm, as in a JWK (RFC 7517 §4.4): the key's first. An RSA key
    // registered without a named `alg` shows RS256 and still accepts PS256 assertions.
    let alg = k.algs.split(' ').next().unwrap_or_default();
    json!({
        "kid": k.kid,
        "alg": alg,
        "public_jwk": serde_json::from_str::<Value>(&k.public_jwk).unwrap_or(Value::Null),
        "created_at": format_ms(k.created_at),
        "expires_at": k.expires_at.map(format_ms),
        "last_used_at": k.last_used_at.map(format_ms),
    })
}

/// Keys checked and ready to store, with the key file of a generated one.
pub(crate) struct NewKeys {
    pub(crate) keys: Vec<ClientKey>,
    pub(crate) private_pem: Option<String>,
}

/// Checks the keys of `source` (nothing is stored).
pub(crate) fn parse_keys(source: &KeySource) -> Result<NewKeys, AdminError> {
    Ok(match source {
        KeySource::Jwks(v) => NewKeys {
            keys: client_key::from_jwks(v)?,
            private_pem: None,
        },
        KeySource::PublicKey(pem) => NewKeys {
            keys: vec![client_key::from_pem(pem)?],
            private_pem: None,
        },
        KeySource::Generate => {
            let (key, pem) = client_key::generate_p256()
                .map_err(|e| StoreError::Corrupt(format!("cannot generate a key: {e}")))?;
            NewKeys {
                keys: vec![key],
                private_pem: Some(pem),
            }
        }
    })
}

/// The key source a request names: with `token_endpoint_auth_method` `private_key_jwt`
/// exactly one of `jwks`, `public_key` or `generate_key: true`; with the default
/// `client_secret_basic` (or none) none of them. One rule for the REST API and the CLI.
pub fn key_source(
    method: Option<&str>,
    jwks: Option<Value>,
    public_key: Option<String>,
    generate_key: bool,
) -> Result<Option<KeySource>, AdminError> {
    let given =
        usize::from(jwks.is_some()) + usize::from(public_key.is_some()) + usize::from(generate_key);
    match method.unwrap_or(CLIENT_SECRET) {
        CLIENT_SECRET | "client_secret_post" => {
            if given > 0 {
                return Err(ValidationError::new(
                    "token_endpoint_auth_method",
                    "Keys (jwks, public_key, generate_key) need token_endpoint_auth_method \
                     private_key_jwt.",
                )
                .into());
            }
            Ok(None)
        }
        PRIVATE_KEY_JWT => {
            if given != 1 {
                return Err(ValidationError::new(
                    "jwks",
                    "private_key_jwt needs exactly one of jwks, public_key or \
                     generate_key: true.",
                )
                .into());
            }
            Ok(Some(match (jwks, public_key) {
                (Some(j), _) => KeySource::Jwks(j),
                (None, Some(p)) => KeySource::PublicKey(p),
                (None, None) => KeySource::Generate,
            }))
        }
        other => Err(ValidationError::new(
            "token_endpoint_auth_method",
            format!(
                "Unknown token_endpoint_auth_method {other:?}: use client_secret_basic or \
                 private_key_jwt."
            ),
        )
        .into()),
    }
}

/// Checks the keys of `source` without storing anything (the console's wizard checks a
/// pasted key at step 1, before the account exists).
pub fn check_keys(source: &KeySource) -> Result<(), AdminError> {
    match source {
        KeySource::Generate => Ok(()),
        other => parse_keys(other).map(|_| ()),
    }
}

/// Checks an optional expiry (epoch ms): it must be in the future.
pub(crate) fn check_expiry(expires_at: Option<i64>) -> Result<(), AdminError> {
    if expires_at.is_some_and(|t| t <= now_ms()) {
        return Err(ValidationError::new("expires_at", "expires_at must be in the future.").into());
    }
    Ok(())
}

/// The rows of `keys` for account `account_id`.
pub(crate) fn rows_of(
    account_id: &str,
    keys: &[ClientKey],
    expires_at: Option<i64>,
    now: i64,
) -> Vec<ClientKeyRow> {
    keys.iter()
        .map(|k| ClientKeyRow {
            account_id: account_id.to_owned(),
            kid: k.kid.clone(),
            algs: k.algs_text(),
            public_jwk: k.jwk.to_string(),
            created_at: now,
            expires_at,
            last_used_at: None,
        })
        .collect()
}

/// Keys just added, with the key file of a generated one.
#[derive(Debug)]
pub struct AddedKeys {
    /// The new keys.
    pub keys: Vec<ClientKeyRow>,
    /// The key file, for a key keygate generated.
    pub key_file: Option<KeyFile>,
}

impl Admin {
    /// The keys of an account, oldest first.
    pub async fn list_keys(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<ClientKeyRow>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        let account = self.load_account(id).await?;
        Ok(client_keys::of_account(self.store.pool(), &account.account.id).await?)
    }

    /// Adds keys to a `private_key_jwt` account (live at once, on every instance).
    pub async fn add_keys(
        &self,
        actor: &Actor,
        id: &str,
        source: KeySource,
        expires_at: Option<i64>,
    ) -> Result<AddedKeys, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let account = self.load_account(id).await?;
        self.ensure_may_manage_account(actor, &account).await?;
        if account.account.auth_method != PRIVATE_KEY_JWT {
            return Err(AdminError::Conflict {
                field: "token_endpoint_auth_method",
                message: "This account authenticates with a client secret, not with keys.".into(),
            });
        }
        check_expiry(expires_at)?;
        let new = parse_keys(&source)?;
        let now = now_ms();
        let rows = rows_of(id, &new.keys, expires_at, now);
        let mut tx = self.store.begin().await?;
        for row in &rows {
            match client_keys::insert(&mut tx, row).await {
                Err(StoreError::Conflict) => {
                    return Err(AdminError::Conflict {
                        field: "kid",
                        message: format!("The account already has a key with kid {:?}.", row.kid),
                    });
                }
                other => other?,
            }
        }
        let event = AuditEvent {
            action: "service_account.key_added",
            target_kind: "service_account",
            target_id: id.to_owned(),
            target_name: account.account.name.clone(),
            detail: json!({
                "kids": rows.iter().map(|r| &r.kid).collect::<Vec<_>>(),
                "generated": new.private_pem.is_some(),
                "expires_at": expires_at.map(format_ms),
            })
            .to_string(),
        };
        self.commit_account_change(tx, actor, &event, id, now)
            .await?;
        let key_file = new.private_pem.map(|pem| KeyFile {
            client_id: account.account.client_id.clone(),
            key_id: rows[0].kid.clone(),
            private_key: pem,
            token_uri: self.token_url.clone(),
        });
        Ok(AddedKeys {
            keys: rows,
            key_file,
        })
    }

    /// Deletes one key; an account's last key cannot go (409): add the new one first.
    pub async fn delete_key(&self, actor: &Actor, id: &str, kid: &str) -> Result<(), AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let account = self.load_account(id).await?;
        self.ensure_may_manage_account(actor, &account).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if !client_keys::delete(&mut tx, id, kid).await? {
            return Err(AdminError::NotFound("key"));
        }
        if client_keys::count(&mut tx, id).await? == 0 {
            return Err(AdminError::Conflict {
                field: "kid",
                message: "This is the account's last key: add its successor first, or delete \
                          the account."
                    .into(),
            });
        }
        let event = AuditEvent {
            action: "service_account.key_deleted",
            target_kind: "service_account",
            target_id: id.to_owned(),
            target_name: account.account.name.clone(),
            detail: json!({ "kid": kid }).to_string(),
        };
        self.commit_account_change(tx, actor, &event, id, now).await
    }
}
