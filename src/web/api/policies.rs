//! `/api/v1/policies`: the installation's account policies. Reading needs
//! `service-accounts:read`, changing `policies:write`; `PATCH` changes only the fields it
//! names, and with `"dry_run": true` lists the accounts a change affects, saving nothing.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, Bearer};
use crate::admin::AdminError;
use crate::app::AppState;
use crate::domain::ValidationError;
use crate::domain::policy::PolicyPatch;
use crate::web::extract::Source;

/// `GET /api/v1/policies`.
pub async fn get_policies(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
) -> Result<Json<Value>, ApiError> {
    let policies = app.admin.get_policies(&token.actor(&source)).await?;
    Ok(Json(policies.to_json()))
}

/// `PATCH /api/v1/policies`: the policies after the change, or with `dry_run` the accounts
/// it would affect (`{"affected": [{id, name, change}]}`).
pub async fn update_policies(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let (patch, rest) = PolicyPatch::from_json(&body, &["dry_run"]).map_err(AdminError::Invalid)?;
    let dry_run = match rest.get("dry_run") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(AdminError::Invalid(ValidationError::new(
                "dry_run",
                "dry_run must be true or false.",
            ))
            .into());
        }
    };
    let actor = token.actor(&source);
    if dry_run {
        let affected = app.admin.preview_policies(&actor, &patch).await?;
        return Ok(Json(json!({
            "affected": affected.iter().map(crate::admin::policies::Affected::to_json).collect::<Vec<_>>(),
        })));
    }
    Ok(Json(
        app.admin.update_policies(&actor, &patch).await?.to_json(),
    ))
}
