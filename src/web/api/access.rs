//! `/api/v1/roles`, `/api/v1/groups` and `/api/v1/audit-events`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, Bearer};
use crate::admin::access::{ApiInput, BindingInput, BindingView, NodeInput};
use crate::admin::roles::{GroupInput, RoleInput};
use crate::app::AppState;
use crate::domain::access::{Api, ApiPermission, Node, Role};
use crate::domain::audit::AuditFilter;
use crate::domain::format_ms;
use crate::domain::group::GroupRow;
use crate::web::extract::Source;

fn role_json(r: &Role) -> Value {
    json!({
        "id": r.id, "name": r.name, "description": r.description,
        "builtin": r.builtin, "api": r.api_id, "permissions": r.permissions,
    })
}

/// A binding as the REST API shows it: `{"role": {"id","name","api"}, "node": path|null}`.
pub fn bindings_json(list: &[BindingView]) -> Value {
    list.iter()
        .map(|b| {
            json!({
                "role": {"id": b.role.id, "name": b.role.name, "api": b.role.api_id},
                "node": b.node.as_ref().map(|n| &n.path),
            })
        })
        .collect()
}

/// A binding in a request body: the role by id or name, the node by path or id (null or
/// absent: the root).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingBody {
    role: String,
    #[serde(default)]
    node: Option<String>,
}

/// The admin inputs of request bindings.
pub fn binding_inputs(list: Vec<BindingBody>) -> Vec<BindingInput> {
    list.into_iter()
        .map(|b| BindingInput {
            role: b.role,
            node: b.node,
        })
        .collect()
}

fn api_json(a: &Api) -> Value {
    json!({
        "id": a.id, "name": a.name, "identifier": a.identifier, "description": a.description,
        "builtin": a.builtin,
        "permissions": a.permissions.iter()
            .map(|p| json!({"name": p.name, "description": p.description}))
            .collect::<Vec<_>>(),
    })
}

fn node_json(n: &Node) -> Value {
    json!({
        "id": n.id, "name": n.name, "kind": n.kind, "parent_id": n.parent_id, "path": n.path,
    })
}

/// A permission in a request: `{"name","description"}` or a plain string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PermissionBody {
    /// Just the name.
    Name(String),
    /// Name and description.
    Full {
        /// The permission.
        name: String,
        /// What it allows.
        #[serde(default)]
        description: String,
    },
}

/// Body of `POST /api/v1/apis` and `PATCH /api/v1/apis/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiBody {
    name: Option<String>,
    identifier: Option<String>,
    description: Option<String>,
    permissions: Option<Vec<PermissionBody>>,
}

impl From<ApiBody> for ApiInput {
    fn from(b: ApiBody) -> Self {
        Self {
            name: b.name,
            identifier: b.identifier,
            description: b.description,
            permissions: b.permissions.map(|list| {
                list.into_iter()
                    .map(|p| match p {
                        PermissionBody::Name(name) => ApiPermission {
                            name,
                            description: String::new(),
                        },
                        PermissionBody::Full { name, description } => {
                            ApiPermission { name, description }
                        }
                    })
                    .collect()
            }),
        }
    }
}

/// `GET /api/v1/apis`.
pub async fn list_apis(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
) -> Result<Json<Value>, ApiError> {
    let apis = app.admin.list_apis(&token.actor(&source)).await?;
    Ok(Json(
        json!({ "items": apis.iter().map(api_json).collect::<Vec<_>>() }),
    ))
}

/// `POST /api/v1/apis`: 201.
pub async fn create_api(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    ApiJson(body): ApiJson<ApiBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let api = app
        .admin
        .create_api(&token.actor(&source), body.into())
        .await?;
    Ok((StatusCode::CREATED, Json(api_json(&api))))
}

/// `GET /api/v1/apis/{id}`.
pub async fn get_api(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let api = app.admin.get_api(&token.actor(&source), &id).await?;
    Ok(Json(api_json(&api)))
}

/// `PATCH /api/v1/apis/{id}`: changes the fields it names.
pub async fn update_api(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ApiBody>,
) -> Result<Json<Value>, ApiError> {
    let api = app
        .admin
        .update_api(&token.actor(&source), &id, body.into())
        .await?;
    Ok(Json(api_json(&api)))
}

/// `DELETE /api/v1/apis/{id}`: 204; 409 while roles use it.
pub async fn delete_api(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.admin.delete_api(&token.actor(&source), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /api/v1/nodes` and `PATCH /api/v1/nodes/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeBody {
    name: Option<String>,
    kind: Option<String>,
    /// The parent by id or path; null or absent (on create): the root.
    #[serde(default, deserialize_with = "super::double_option")]
    parent: Option<Option<String>>,
}

impl From<NodeBody> for NodeInput {
    fn from(b: NodeBody) -> Self {
        Self {
            name: b.name,
            kind: b.kind,
            parent: b.parent,
        }
    }
}

/// `GET /api/v1/nodes`: every node, by path.
pub async fn list_nodes(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
) -> Result<Json<Value>, ApiError> {
    let nodes = app.admin.list_nodes(&token.actor(&source)).await?;
    Ok(Json(
        json!({ "items": nodes.iter().map(node_json).collect::<Vec<_>>() }),
    ))
}

/// `POST /api/v1/nodes`: 201.
pub async fn create_node(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    ApiJson(body): ApiJson<NodeBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let node = app
        .admin
        .create_node(&token.actor(&source), body.into())
        .await?;
    Ok((StatusCode::CREATED, Json(node_json(&node))))
}

/// `GET /api/v1/nodes/{id}`.
pub async fn get_node(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let node = app.admin.get_node(&token.actor(&source), &id).await?;
    Ok(Json(node_json(&node)))
}

/// `PATCH /api/v1/nodes/{id}`: rename, move or relabel.
pub async fn update_node(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NodeBody>,
) -> Result<Json<Value>, ApiError> {
    let node = app
        .admin
        .update_node(&token.actor(&source), &id, body.into())
        .await?;
    Ok(Json(node_json(&node)))
}

/// `DELETE /api/v1/nodes/{id}`: 204; 409 while it has children or bindings.
pub async fn delete_node(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.admin.delete_node(&token.actor(&source), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn group_json(g: &GroupRow) -> Value {
    let refs = |v: &[crate::domain::access::NameRef]| {
        v.iter()
            .map(|r| json!({"id": r.id, "name": r.name}))
            .collect::<Vec<_>>()
    };
    json!({
        "id": g.id, "name": g.name, "description": g.description,
        "roles": refs(&g.roles), "members": refs(&g.members),
    })
}

/// `GET /api/v1/roles`.
pub async fn list_roles(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
) -> Result<Json<Value>, ApiError> {
    let roles = app.admin.list_roles(&token.actor(&source)).await?;
    Ok(Json(
        json!({ "items": roles.iter().map(role_json).collect::<Vec<_>>() }),
    ))
}

/// Body of `POST /api/v1/roles` and `PATCH /api/v1/roles/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    name: Option<String>,
    /// The API it belongs to (id or name); required on create.
    api: Option<String>,
    description: Option<String>,
    permissions: Option<Vec<String>>,
}

/// `POST /api/v1/roles`.
pub async fn create_role(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let role = app
        .admin
        .create_role(
            &token.actor(&source),
            RoleInput {
                name: body.name.unwrap_or_default(),
                description: body.description.unwrap_or_default(),
                permissions: body.permissions.unwrap_or_default(),
                api: body.api,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(role_json(&role))))
}

/// `GET /api/v1/roles/{id}`: the role and how many hold it.
pub async fn get_role(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = token.actor(&source);
    let role = app.admin.get_role(&actor, &id).await?;
    let (accounts, groups, users) = app.admin.role_holders(&actor, &id).await?;
    let mut body = role_json(&role);
    body["held_by"] =
        json!({"service_accounts": accounts, "groups": groups, "console_users": users});
    Ok(Json(body))
}

/// `PATCH /api/v1/roles/{id}`.
pub async fn update_role(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<Value>, ApiError> {
    let actor = token.actor(&source);
    let before = app.admin.get_role(&actor, &id).await?;
    let role = app
        .admin
        .update_role(
            &actor,
            &id,
            RoleInput {
                name: body.name.unwrap_or(before.name),
                description: body.description.unwrap_or(before.description),
                permissions: body.permissions.unwrap_or(before.permissions),
                api: Some(body.api.unwrap_or(before.api_id)),
            },
        )
        .await?;
    Ok(Json(role_json(&role)))
}

/// Query of `DELETE /api/v1/roles/{id}`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeleteRoleQuery {
    #[serde(default)]
    confirm: bool,
}

/// `DELETE /api/v1/roles/{id}`: a role in use needs `?confirm=true`, and is then removed
/// from its holders.
pub async fn delete_role(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    query: Result<Query<DeleteRoleQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let actor = token.actor(&source);
    app.admin.delete_role(&actor, &id, query.confirm).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/groups`.
pub async fn list_groups(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
) -> Result<Json<Value>, ApiError> {
    let groups = app.admin.list_groups(&token.actor(&source)).await?;
    Ok(Json(
        json!({ "items": groups.iter().map(group_json).collect::<Vec<_>>() }),
    ))
}

/// Body of `POST /api/v1/groups` and `PATCH /api/v1/groups/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    name: Option<String>,
    description: Option<String>,
    /// Role names or ids.
    roles: Option<Vec<String>>,
    /// Member service-account ids.
    members: Option<Vec<String>>,
    /// Every binding (`{role, node}`), replacing them all (not with `roles`).
    bindings: Option<Vec<BindingBody>>,
}

async fn save_group(
    app: &AppState,
    token: &crate::oauth::VerifiedToken,
    source: &str,
    id: Option<&str>,
    body: GroupBody,
) -> Result<GroupRow, ApiError> {
    let actor = token.actor(source);
    let before = match id {
        Some(id) => Some(app.admin.get_group(&actor, id).await?),
        None => None,
    };
    if body.roles.is_some() && body.bindings.is_some() {
        return Err(ApiError::Unprocessable {
            field: "bindings".into(),
            message: "Give either roles (bindings at the root) or bindings, not both.".into(),
        });
    }
    let bindings = body.bindings.map(binding_inputs);
    let role_ids = match (body.roles, &bindings) {
        (Some(r), _) => r,
        (None, Some(b)) => b
            .iter()
            .filter(|x| x.at_root())
            .map(|x| x.role.clone())
            .collect(),
        (None, None) => before
            .as_ref()
            .map(|g| g.roles.iter().map(|r| r.id.clone()).collect())
            .unwrap_or_default(),
    };
    let member_ids = body.members.unwrap_or_else(|| {
        before
            .as_ref()
            .map(|g| g.members.iter().map(|m| m.id.clone()).collect())
            .unwrap_or_default()
    });
    let input = GroupInput {
        name: body
            .name
            .or_else(|| before.as_ref().map(|g| g.name.clone()))
            .unwrap_or_default(),
        description: body
            .description
            .or_else(|| before.as_ref().map(|g| g.description.clone()))
            .unwrap_or_default(),
        role_ids,
        member_ids,
        bindings,
    };
    Ok(app.admin.save_group(&actor, id, input).await?)
}

/// `POST /api/v1/groups`.
pub async fn create_group(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    ApiJson(body): ApiJson<GroupBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let g = save_group(&app, &token, &source, None, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(group_with_bindings(&app, &token, &source, &g).await?),
    ))
}

/// A group as GET, POST and PATCH answer it: with its bindings (the list leaves them out).
async fn group_with_bindings(
    app: &AppState,
    token: &crate::oauth::VerifiedToken,
    source: &str,
    g: &GroupRow,
) -> Result<Value, ApiError> {
    let mut body = group_json(g);
    body["bindings"] = bindings_json(
        &app.admin
            .group_bindings(&token.actor(source), &g.id)
            .await?,
    );
    Ok(body)
}

/// `GET /api/v1/groups/{id}`.
pub async fn get_group(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let g = app.admin.get_group(&token.actor(&source), &id).await?;
    Ok(Json(group_with_bindings(&app, &token, &source, &g).await?))
}

/// `PATCH /api/v1/groups/{id}`.
pub async fn update_group(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GroupBody>,
) -> Result<Json<Value>, ApiError> {
    let g = save_group(&app, &token, &source, Some(&id), body).await?;
    Ok(Json(group_with_bindings(&app, &token, &source, &g).await?))
}

/// `DELETE /api/v1/groups/{id}`.
pub async fn delete_group(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.admin.delete_group(&token.actor(&source), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /api/v1/audit-events`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    target: Option<String>,
    action: Option<String>,
    /// Epoch seconds.
    since: Option<i64>,
    /// Epoch seconds.
    until: Option<i64>,
    cursor: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/audit-events`: newest first, filtered, with a cursor.
pub async fn list_audit_events(
    State(app): State<AppState>,
    Source(source): Source,
    Bearer(token): Bearer,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    crate::web::limits::search_texts([
        ("actor", q.actor.as_deref().unwrap_or_default()),
        ("target", q.target.as_deref().unwrap_or_default()),
        ("action", q.action.as_deref().unwrap_or_default()),
    ])?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Unprocessable {
            field: "limit".into(),
            message: "limit must be between 1 and 500".into(),
        });
    }
    let filter = AuditFilter {
        actor: q.actor.filter(|s| !s.is_empty()),
        target: q.target.filter(|s| !s.is_empty()),
        action: q.action.filter(|s| !s.is_empty()),
        action_anywhere: false,
        since: q.since.map(|s| s.saturating_mul(1000)),
        until: q.until.map(|s| s.saturating_mul(1000)),
        before_id: q.cursor,
        limit: limit + 1,
    };
    let mut events = app
        .admin
        .audit_events(&token.actor(&source), &filter)
        .await?;
    let more = events.len() > usize::try_from(limit).unwrap_or(0);
    events.truncate(usize::try_from(limit).unwrap_or(0));
    let next = more.then(|| events.last().map(|e| e.id)).flatten();
    Ok(Json(json!({
        "items": events.iter().map(|e| json!({
            "id": e.id, "at": format_ms(e.at),
            "actor": {"kind": e.actor_kind, "id": e.actor_id, "name": e.actor_name},
            "action": e.action,
            "target": {"kind": e.target_kind, "id": e.target_id, "name": e.target_name},
            "source": e.source,
            "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
        })).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}
