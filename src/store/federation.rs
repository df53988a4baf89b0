//! Trusted external issuers and the federated credentials of accounts (workload identity
//! federation).

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, Tx};
use crate::domain::federation::{
    FederatedCredential, TrustedIssuer, conditions_from_json, conditions_json,
};

const ISSUER_COLUMNS: &str = "id, name, issuer, jwks_uri, audience, created_at, updated_at";
const CREDENTIAL_COLUMNS: &str =
    "id, account_id, trusted_issuer_id, subject, conditions, created_at";

fn issuer_from_row(r: &sqlx::any::AnyRow) -> Result<TrustedIssuer, sqlx::Error> {
    Ok(TrustedIssuer {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        issuer: r.try_get("issuer")?,
        jwks_uri: r.try_get("jwks_uri")?,
        audience: r.try_get("audience")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn credential_from_row(r: &sqlx::any::AnyRow) -> Result<FederatedCredential, StoreError> {
    let text: String = r.try_get("conditions")?;
    Ok(FederatedCredential {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        trusted_issuer_id: r.try_get("trusted_issuer_id")?,
        subject: r.try_get("subject")?,
        conditions: conditions_from_json(&text)
            .ok_or_else(|| StoreError::Corrupt("federated credential conditions".into()))?,
        created_at: r.try_get("created_at")?,
    })
}

/// Every trusted issuer, by name.
#[instrument(skip_all)]
pub async fn issuers(pool: &AnyPool) -> Result<Vec<TrustedIssuer>, StoreError> {
    let sql = format!("select {ISSUER_COLUMNS} from trusted_issuers order by name, id");
    let rows = sqlx::query(&sql).fetch_all(pool).await?;
    Ok(rows.iter().map(issuer_from_row).collect::<Result<_, _>>()?)
}

/// One trusted issuer by id.
#[instrument(skip_all)]
pub async fn issuer_by_id(pool: &AnyPool, id: &str) -> Result<Option<TrustedIssuer>, StoreError> {
    let sql = format!("select {ISSUER_COLUMNS} from trusted_issuers where id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    Ok(row.as_ref().map(issuer_from_row).transpose()?)
}

/// Adds a trusted issuer (`Conflict` if its name or issuer URL is taken).
#[instrument(skip_all)]
pub async fn insert_issuer(tx: &mut Tx, i: &TrustedIssuer) -> Result<(), StoreError> {
    sqlx::query(
        "insert into trusted_issuers (id, name, issuer, jwks_uri, audience, created_at, \
         updated_at) values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&i.id)
    .bind(&i.name)
    .bind(&i.issuer)
    .bind(&i.jwks_uri)
    .bind(&i.audience)
    .bind(i.created_at)
    .bind(i.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Replaces a trusted issuer's fields (`Conflict` if its name or issuer URL is taken).
#[instrument(skip_all)]
pub async fn update_issuer(tx: &mut Tx, i: &TrustedIssuer) -> Result<(), StoreError> {
    sqlx::query(
        "update trusted_issuers set name = $2, issuer = $3, jwks_uri = $4, audience = $5, \
         updated_at = $6 where id = $1",
    )
    .bind(&i.id)
    .bind(&i.name)
    .bind(&i.issuer)
    .bind(&i.jwks_uri)
    .bind(&i.audience)
    .bind(i.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes a trusted issuer and, with it, the federated credentials that name it; answers
/// the accounts that had such credentials, or `None` if there was no such issuer.
#[instrument(skip_all)]
pub async fn delete_issuer(tx: &mut Tx, id: &str) -> Result<Option<Vec<String>>, StoreError> {
    let accounts: Vec<String> = sqlx::query(
        "select distinct account_id from federated_credentials where trusted_issuer_id = $1",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| r.try_get("account_id"))
    .collect::<Result<_, _>>()?;
    sqlx::query("delete from federated_credentials where trusted_issuer_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let done = sqlx::query("delete from trusted_issuers where id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok((done.rows_affected() == 1).then_some(accounts))
}

/// The federated credentials of an account, oldest first.
#[instrument(skip_all)]
pub async fn credentials_of_account(
    pool: &AnyPool,
    account_id: &str,
) -> Result<Vec<FederatedCredential>, StoreError> {
    let sql = format!(
        "select {CREDENTIAL_COLUMNS} from federated_credentials where account_id = $1 \
         order by created_at, id"
    );
    let rows = sqlx::query(&sql).bind(account_id).fetch_all(pool).await?;
    rows.iter().map(credential_from_row).collect()
}

/// How many federated credentials name a trusted issuer.
#[instrument(skip_all)]
pub async fn credentials_of_issuer(pool: &AnyPool, issuer_id: &str) -> Result<i64, StoreError> {
    Ok(
        sqlx::query("select count(*) as n from federated_credentials where trusted_issuer_id = $1")
            .bind(issuer_id)
            .fetch_one(pool)
            .await?
            .try_get("n")?,
    )
}

/// Adds a federated credential.
#[instrument(skip_all)]
pub async fn insert_credential(tx: &mut Tx, c: &FederatedCredential) -> Result<(), StoreError> {
    sqlx::query(
        "insert into federated_credentials (id, account_id, trusted_issuer_id, subject, \
         conditions, created_at) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&c.id)
    .bind(&c.account_id)
    .bind(&c.trusted_issuer_id)
    .bind(&c.subject)
    .bind(conditions_json(&c.conditions).to_string())
    .bind(c.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes a federated credential of an account; false if it has no such credential.
#[instrument(skip_all)]
pub async fn delete_credential(
    tx: &mut Tx,
    account_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("delete from federated_credentials where account_id = $1 and id = $2")
        .bind(account_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}
