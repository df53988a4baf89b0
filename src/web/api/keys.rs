//! `/api/v1/service-accounts/{id}/keys`: the public keys of a `private_key_jwt` account.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::accounts::rfc3339_field;
use super::{ApiError, ApiJson, Bearer};
use crate::admin::keys::{KeySource, key_json};
use crate::app::AppState;
use crate::web::extract::Source;

/// `GET /api/v1/service-accounts/{id}/keys`: `{"items": [...]}`.
pub async fn list_keys(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let keys = app.admin.list_keys(&token.actor(&source), &id).await?;
    Ok(Json(
        json!({ "items": keys.iter().map(key_json).collect::<Vec<_>>() }),
    ))
}

/// Body of `POST /api/v1/service-accounts/{id}/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddKeyBody {
    jwks: Option<Value>,
    public_key: Option<String>,
    #[serde(default)]
    generate_key: bool,
    expires_at: Option<String>,
}

/// `POST /api/v1/service-accounts/{id}/keys`: 201 `{kid, alg, created_at, expires_at,
/// key_file?}` (one key; a JWK Set of several answers `{"items": [...]}`), `no-store`.
pub async fn add_key(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddKeyBody>,
) -> Result<Response, ApiError> {
    let expires_at = rfc3339_field("expires_at", body.expires_at.as_deref())?;
    let source_of_keys = match crate::admin::keys::key_source(
        Some(crate::admin::keys::PRIVATE_KEY_JWT),
        body.jwks,
        body.public_key,
        body.generate_key,
    )? {
        Some(s) => s,
        None => KeySource::Generate,
    };
    let added = app
        .admin
        .add_keys(&token.actor(&source), &id, source_of_keys, expires_at)
        .await?;
    let mut items: Vec<Value> = added.keys.iter().map(key_json).collect();
    if let (Some(first), Some(file)) = (items.first_mut(), &added.key_file) {
        first["key_file"] = file.to_json();
    }
    let body = if items.len() == 1 {
        items.remove(0)
    } else {
        json!({ "items": items })
    };
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}

/// `DELETE /api/v1/service-accounts/{id}/keys/{kid}`: 204; the last key is 409.
pub async fn delete_key(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path((id, kid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.admin
        .delete_key(&token.actor(&source), &id, &kid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
