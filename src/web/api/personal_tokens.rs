//! `/api/v1/service-accounts/{id}/tokens`: personal access tokens. `{id}` may be `me`, the
//! account of the calling token, which may always make, list and delete its own, whatever
//! API the calling token is for (like whoami, these concern the caller itself); acting on
//! another account needs a token for keygate's own API and its permissions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AnyBearer, ApiError, ApiJson};
use crate::admin::personal_tokens::NewPersonalToken;
use crate::app::AppState;
use crate::domain::format_ms;
use crate::domain::personal_token::PersonalTokenRow;
use crate::oauth::VerifiedToken;
use crate::web::extract::Source;

/// The account `{id}` names (`me`: the caller's), refusing a token for another API unless
/// it acts on its own account.
fn target(app: &AppState, token: &VerifiedToken, id: &str) -> Result<String, ApiError> {
    let id = if id == "me" {
        token.account.id.clone()
    } else {
        id.to_owned()
    };
    if id != token.account.id && !token.is_for(app.oauth.keygate_identifier()) {
        return Err(ApiError::WrongAudience);
    }
    Ok(id)
}

fn token_json(t: &PersonalTokenRow) -> Value {
    json!({
        "id": t.id, "name": t.name, "prefix": t.prefix, "scope": t.scope,
        "created_at": format_ms(t.created_at), "expires_at": format_ms(t.expires_at),
        "last_used_at": t.last_used_at.map(format_ms),
    })
}

/// Body of `POST …/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    expires_in_days: Option<i64>,
    scope: Option<String>,
    resource: Option<String>,
}

/// `POST /api/v1/service-accounts/{id}/tokens`: 201 with the token, shown this once.
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    AnyBearer(token): AnyBearer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let id = target(&app, &token, &id)?;
    let made = app
        .admin
        .create_personal_token(
            &token.actor(&source),
            &id,
            NewPersonalToken {
                name: body.name,
                expires_in_days: body.expires_in_days,
                scope: body.scope,
                resource: body.resource,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "id": made.row.id, "name": made.row.name, "token": made.token,
            "prefix": made.row.prefix, "scope": made.row.scope,
            "expires_at": format_ms(made.row.expires_at),
        })),
    )
        .into_response())
}

/// `GET /api/v1/service-accounts/{id}/tokens`.
pub async fn list(
    State(app): State<AppState>,
    Source(source): Source,
    AnyBearer(token): AnyBearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = target(&app, &token, &id)?;
    let items = app
        .admin
        .list_personal_tokens(&token.actor(&source), &id)
        .await?;
    Ok(Json(
        json!({ "items": items.iter().map(token_json).collect::<Vec<_>>() }),
    ))
}

/// `DELETE /api/v1/service-accounts/{id}/tokens/{token_id}`: 204.
pub async fn delete(
    State(app): State<AppState>,
    Source(source): Source,
    AnyBearer(token): AnyBearer,
    Path((id, token_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = target(&app, &token, &id)?;
    app.admin
        .delete_personal_token(&token.actor(&source), &id, &token_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
