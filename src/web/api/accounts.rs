//! `/api/v1/service-accounts` and `/api/v1/roles`: what the console does, for automation.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, Bearer};
use crate::admin::accounts::{CreateAccount, IssuedCredentials, UpdateAccount};
use crate::app::AppState;
use crate::domain::account::ListFilter;
use crate::domain::format_ms;
use crate::web::extract::Source;

/// Largest page the list returns.
const MAX_LIMIT: i64 = 200;

pub use crate::admin::accounts::account_json;

/// Credentials, shown once, with `Cache-Control: no-store`: the account and, in RFC 7591's
/// names, its client secret or its keys (and the key file of a generated key).
fn credentials_response(status: StatusCode, c: &IssuedCredentials) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(c.response_json()),
    )
        .into_response()
}

/// Query of the list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    q: Option<String>,
    enabled: Option<bool>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/service-accounts`.
pub async fn list_service_accounts(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    crate::web::limits::search_text("q", query.q.as_deref().unwrap_or_default())?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::Unprocessable {
            field: "limit".into(),
            message: format!("limit must be between 1 and {MAX_LIMIT}"),
        });
    }
    let after = match query.cursor.as_deref() {
        Some(c) => Some(
            ListFilter::parse_cursor(c).ok_or_else(|| ApiError::Unprocessable {
                field: "cursor".into(),
                message: "cursor is not one this API returned".into(),
            })?,
        ),
        None => None,
    };
    let filter = ListFilter {
        q: query.q.unwrap_or_default().trim().to_owned(),
        enabled: query.enabled,
        after,
        limit: limit + 1,
        ..ListFilter::default()
    };
    let mut page = app
        .admin
        .list_accounts(&token.actor(&source), &filter)
        .await?;
    let more = page.len() > usize::try_from(limit).unwrap_or(0);
    page.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = more
        .then(|| page.last().map(|s| ListFilter::cursor_after(&s.account)))
        .flatten();
    let policies = app.admin.policies_in_force();
    Ok(Json(json!({
        "items": page.iter().map(|a| account_json(a, &policies)).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

/// Body of `POST /api/v1/service-accounts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    #[serde(default)]
    description: String,
    /// Role names or ids.
    #[serde(default)]
    roles: Vec<String>,
    token_lifetime_secs: Option<i64>,
    /// `client_secret_basic` (default) or `private_key_jwt`.
    token_endpoint_auth_method: Option<String>,
    /// The public keys of a `private_key_jwt` account, as a JWK Set.
    jwks: Option<Value>,
    /// The public key of a `private_key_jwt` account, as PEM SubjectPublicKeyInfo.
    public_key: Option<String>,
    /// Make a P-256 key pair and return its key file once.
    #[serde(default)]
    generate_key: bool,
    /// When the keys stop being accepted (RFC 3339).
    expires_at: Option<String>,
    /// The API it is bound to (its product), by id; absent or null: none.
    api: Option<String>,
}

/// An optional RFC 3339 time of a request body, as epoch ms (422 naming `field` if bad).
pub(crate) fn rfc3339_field(field: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(|s| {
            crate::domain::parse_rfc3339(s).ok_or_else(|| ApiError::Unprocessable {
                field: field.to_owned(),
                message: format!("{field} must be an RFC 3339 time such as 2027-01-31T12:00:00Z"),
            })
        })
        .transpose()
}

/// `POST /api/v1/service-accounts`: 201 with the credentials, shown this once.
pub async fn create_service_account(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let actor = token.actor(&source);
    let keys_expire_at = rfc3339_field("expires_at", body.expires_at.as_deref())?;
    let keys = crate::admin::keys::key_source(
        body.token_endpoint_auth_method.as_deref(),
        body.jwks,
        body.public_key,
        body.generate_key,
    )?;
    let creds = app
        .admin
        .create_account(
            &actor,
            CreateAccount {
                name: body.name,
                description: body.description,
                role_ids: body.roles,
                product: body.api,
                token_lifetime_secs: body.token_lifetime_secs,
                keys,
                keys_expire_at,
                groups: Vec::new(),
            },
        )
        .await?;
    // The answer comes from the create operation itself: a token allowed to create but not
    // to read still gets what it created.
    Ok(credentials_response(StatusCode::CREATED, &creds))
}

/// `GET /api/v1/service-accounts/{id}`.
pub async fn get_service_account(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = token.actor(&source);
    let account = app.admin.get_account(&actor, &id).await?;
    let mut body = account_json(&account, &app.admin.policies_in_force());
    body["bindings"] =
        super::access::bindings_json(&app.admin.account_bindings(&actor, &id).await?);
    Ok(Json(body))
}

/// Body of `PATCH /api/v1/service-accounts/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    name: Option<String>,
    description: Option<String>,
    token_lifetime_secs: Option<i64>,
    enabled: Option<bool>,
    /// Role names or ids; replaces the account's roles.
    roles: Option<Vec<String>>,
    /// Group names or ids; replaces the account's groups.
    groups: Option<Vec<String>>,
    /// The product (an API id), or null for none.
    #[serde(default, deserialize_with = "super::double_option")]
    api: Option<Option<String>>,
    /// Every binding (`{role, node}`), replacing them all.
    bindings: Option<Vec<super::access::BindingBody>>,
}

/// `PATCH /api/v1/service-accounts/{id}`.
pub async fn update_service_account(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<Value>, ApiError> {
    let actor = token.actor(&source);
    let account = app
        .admin
        .update_account(
            &actor,
            &id,
            UpdateAccount {
                name: body.name,
                description: body.description,
                token_lifetime_secs: body.token_lifetime_secs,
                role_ids: body.roles,
                groups: body.groups,
                enabled: body.enabled,
                product: body.api,
                bindings: body.bindings.map(super::access::binding_inputs),
            },
        )
        .await?;
    let mut out = account_json(&account, &app.admin.policies_in_force());
    out["bindings"] = super::access::bindings_json(&app.admin.account_bindings(&actor, &id).await?);
    Ok(Json(out))
}

/// `DELETE /api/v1/service-accounts/{id}`: 204. `{id}` may also be the client ID.
pub async fn delete_service_account(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let actor = token.actor(&source);
    let id = app.admin.account_id_or_client_id(&id).await?;
    app.admin.delete_account(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /api/v1/service-accounts/{id}/regenerate`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RegenerateBody {
    #[serde(default)]
    grace_period_seconds: i64,
}

/// `POST /api/v1/service-accounts/{id}/regenerate`: new credentials, shown this once.
pub async fn regenerate_credentials(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    body: Option<ApiJson<RegenerateBody>>,
) -> Result<Response, ApiError> {
    let grace = body.map(|b| b.0.grace_period_seconds).unwrap_or(0);
    let actor = token.actor(&source);
    let creds = app.admin.regenerate_credentials(&actor, &id, grace).await?;
    Ok(credentials_response(StatusCode::OK, &creds))
}

/// `GET /api/v1/service-accounts/{id}/sessions`: live tokens, newest first.
pub async fn list_sessions(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let sessions = app
        .admin
        .account_sessions(&token.actor(&source), &id)
        .await?;
    Ok(Json(json!({
        "items": sessions.iter().map(|s| json!({
            "jti": s.jti, "client_id": s.client_id,
            "issued_at": format_ms(s.issued_at), "expires_at": format_ms(s.expires_at),
        })).collect::<Vec<_>>(),
    })))
}

/// `DELETE /api/v1/service-accounts/{id}/sessions/{jti}`: 204.
pub async fn revoke_session(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path((id, jti)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.admin
        .revoke_session(&token.actor(&source), &id, &jti)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/service-accounts/{id}/sessions`: revokes them all; 204.
pub async fn revoke_all_sessions(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.admin
        .revoke_all_sessions(&token.actor(&source), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
