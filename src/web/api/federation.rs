//! `/api/v1/trusted-issuers` and `/api/v1/service-accounts/{id}/federated-credentials`:
//! workload identity federation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ApiError, ApiJson, Bearer};
use crate::admin::federation::{IssuerInput, IssuerPatch, credential_json, issuer_json};
use crate::app::AppState;
use crate::web::extract::Source;

/// `GET /api/v1/trusted-issuers`: `{"items": [...]}`.
pub async fn list_trusted_issuers(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
) -> Result<Json<Value>, ApiError> {
    let list = app
        .admin
        .list_trusted_issuers(&token.actor(&source))
        .await?;
    Ok(Json(
        json!({ "items": list.iter().map(issuer_json).collect::<Vec<_>>() }),
    ))
}

/// Body of `POST /api/v1/trusted-issuers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerBody {
    name: String,
    issuer: String,
    jwks_uri: Option<String>,
    audience: Option<String>,
}

/// `POST /api/v1/trusted-issuers`: 201 with the issuer.
pub async fn create_trusted_issuer(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    ApiJson(body): ApiJson<IssuerBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let row = app
        .admin
        .create_trusted_issuer(
            &token.actor(&source),
            &IssuerInput {
                name: body.name,
                issuer: body.issuer,
                jwks_uri: body.jwks_uri,
                audience: body.audience,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(issuer_json(&row))))
}

/// `GET /api/v1/trusted-issuers/{id}`.
pub async fn get_trusted_issuer(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = app
        .admin
        .get_trusted_issuer(&token.actor(&source), &id)
        .await?;
    Ok(Json(issuer_json(&row)))
}

/// A string field of a PATCH body: absent, `null` (cleared) or a string.
fn patch_field(
    body: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<Option<String>>, ApiError> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(ApiError::Unprocessable {
            field: name.to_owned(),
            message: format!("{name} must be a string or null"),
        }),
    }
}

/// `PATCH /api/v1/trusted-issuers/{id}`: `{name?, issuer?, jwks_uri?, audience?}`
/// (`null` clears `jwks_uri` or `audience`, back to their defaults).
pub async fn update_trusted_issuer(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    if let Some(k) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "issuer" | "jwks_uri" | "audience"))
    {
        return Err(ApiError::Unprocessable {
            field: k.clone(),
            message: format!("unknown field {k}"),
        });
    }
    let required = |name: &'static str| -> Result<Option<String>, ApiError> {
        match patch_field(&body, name)? {
            Some(None) => Err(ApiError::Unprocessable {
                field: name.to_owned(),
                message: format!("{name} cannot be null"),
            }),
            other => Ok(other.flatten()),
        }
    };
    let patch = IssuerPatch {
        name: required("name")?,
        issuer: required("issuer")?,
        jwks_uri: patch_field(&body, "jwks_uri")?,
        audience: patch_field(&body, "audience")?,
    };
    let row = app
        .admin
        .update_trusted_issuer(&token.actor(&source), &id, &patch)
        .await?;
    Ok(Json(issuer_json(&row)))
}

/// `DELETE /api/v1/trusted-issuers/{id}`: 204 (its federated credentials go with it).
pub async fn delete_trusted_issuer(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.admin
        .delete_trusted_issuer(&token.actor(&source), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/service-accounts/{id}/federated-credentials`: `{"items": [...]}`.
pub async fn list_federated_credentials(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let list = app
        .admin
        .list_federated_credentials(&token.actor(&source), &id)
        .await?;
    Ok(Json(
        json!({ "items": list.iter().map(credential_json).collect::<Vec<_>>() }),
    ))
}

/// Body of `POST /api/v1/service-accounts/{id}/federated-credentials`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialBody {
    trusted_issuer: String,
    subject: Option<String>,
    conditions: Option<Value>,
}

/// `POST /api/v1/service-accounts/{id}/federated-credentials`: 201 with the credential.
pub async fn add_federated_credential(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CredentialBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let row = app
        .admin
        .add_federated_credential(
            &token.actor(&source),
            &id,
            &body.trusted_issuer,
            body.subject.as_deref(),
            body.conditions.as_ref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(credential_json(&row))))
}

/// `DELETE /api/v1/service-accounts/{id}/federated-credentials/{fid}`: 204.
pub async fn delete_federated_credential(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path((id, fid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.admin
        .delete_federated_credential(&token.actor(&source), &id, &fid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
