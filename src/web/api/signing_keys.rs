//! `/api/v1/signing-keys`: the token-signing keys, and their rotation.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::{ApiError, Bearer};
use crate::admin::signing_keys::signing_key_json;
use crate::app::AppState;
use crate::web::extract::Source;

/// `GET /api/v1/signing-keys`: `{"items": [{kid, created_at, retires_at, signing}]}`, oldest
/// first.
pub async fn list_signing_keys(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
) -> Result<Json<Value>, ApiError> {
    let keys = app.admin.signing_keys(&token.actor(&source))?;
    Ok(Json(
        json!({ "items": keys.iter().map(signing_key_json).collect::<Vec<_>>() }),
    ))
}

/// `POST /api/v1/signing-keys/rotate`: `{kid, retired, retires_at}`; the new key signs
/// every new token at once.
pub async fn rotate_signing_key(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
) -> Result<Json<Value>, ApiError> {
    let r = app.admin.rotate_signing_key(&token.actor(&source)).await?;
    Ok(Json(json!({
        "kid": r.kid,
        "retired": r.retired,
        "retires_at": crate::domain::format_ms(r.retires_at),
    })))
}
