//! Settings → APIs (resource servers and the permissions they define) and Settings →
//! Hierarchy (the tree of nodes role bindings are made at).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{Chrome, Console, ConsoleError, Flash, FormFields, form_error, redirect_with_notice};
use crate::admin::access::{ApiInput, NodeInput};
use crate::app::AppState;
use crate::domain::access::{Api, ApiPermission, Node};
use crate::domain::permission::ROLES_WRITE;

/// The APIs page.
#[derive(Template, WebTemplate)]
#[template(path = "console/apis.html")]
pub struct ApisPage {
    chrome: Option<Chrome>,
    section: &'static str,
    apis: Vec<Api>,
    can_write: bool,
    notice: Option<String>,
}

/// `GET /settings/apis`.
pub async fn list_apis(
    State(app): State<AppState>,
    console: Console,
    Flash(notice): Flash,
) -> Result<Response, ConsoleError> {
    let apis = app
        .admin
        .list_apis(&console.session.actor(&console.source))
        .await?;
    Ok(ApisPage {
        chrome: console.chrome(),
        section: "apis",
        apis,
        can_write: console.session.can(ROLES_WRITE),
        notice,
    }
    .into_response())
}

/// The API form (new and edit).
#[derive(Template, WebTemplate)]
#[template(path = "console/api_form.html")]
pub struct ApiFormPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    heading: String,
    action: String,
    name: String,
    identifier: String,
    description: String,
    permissions: String,
    error: Option<String>,
}

fn api_form(console: &Console, heading: String, action: String, form: &ApiFields) -> ApiFormPage {
    ApiFormPage {
        chrome: console.chrome(),
        section: "apis",
        csrf: console.session.csrf_token.clone(),
        heading,
        action,
        name: form.name.clone(),
        identifier: form.identifier.clone(),
        description: form.description.clone(),
        permissions: form.permissions.clone(),
        error: None,
    }
}

/// The form's fields as typed.
#[derive(Debug, Clone, Default)]
struct ApiFields {
    name: String,
    identifier: String,
    description: String,
    /// One permission per line: its name, then optionally a space and its description.
    permissions: String,
}

impl ApiFields {
    fn of_form(form: &FormFields) -> Self {
        Self {
            name: form.get("name").unwrap_or_default().to_owned(),
            identifier: form.get("identifier").unwrap_or_default().to_owned(),
            description: form.get("description").unwrap_or_default().to_owned(),
            permissions: form.get("permissions").unwrap_or_default().to_owned(),
        }
    }

    fn of_api(api: &Api) -> Self {
        Self {
            name: api.name.clone(),
            identifier: api.identifier.clone(),
            description: api.description.clone(),
            permissions: api
                .permissions
                .iter()
                .map(|p| {
                    if p.description.is_empty() {
                        p.name.clone()
                    } else {
                        format!("{} {}", p.name, p.description)
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn input(&self) -> ApiInput {
        let permissions = self
            .permissions
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (name, description) = l.split_once([' ', '\t']).unwrap_or((l, ""));
                ApiPermission {
                    name: name.to_owned(),
                    description: description.trim().to_owned(),
                }
            })
            .collect();
        ApiInput {
            name: Some(self.name.clone()),
            identifier: Some(self.identifier.clone()),
            description: Some(self.description.clone()),
            permissions: Some(permissions),
        }
    }
}

/// `GET /settings/apis/new`.
pub async fn new_api(console: Console) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    Ok(api_form(
        &console,
        "Add API".into(),
        "/settings/apis/new".into(),
        &ApiFields::default(),
    )
    .into_response())
}

/// `POST /settings/apis/new`.
pub async fn create_api(
    State(app): State<AppState>,
    console: Console,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let fields = ApiFields::of_form(&form);
    match app
        .admin
        .create_api(&console.session.actor(&console.source), fields.input())
        .await
    {
        Ok(a) => Ok(redirect_with_notice(
            "/settings/apis",
            &format!("API {} added.", a.name),
        )),
        Err(e) => {
            let mut page = api_form(
                &console,
                "Add API".into(),
                "/settings/apis/new".into(),
                &fields,
            );
            page.error = Some(form_error(e)?);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `GET /settings/apis/{id}/edit`.
pub async fn edit_api(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    let api = app
        .admin
        .get_api(&console.session.actor(&console.source), &id)
        .await?;
    if api.builtin {
        return Err(ConsoleError::Forbidden(
            "keygate's own API cannot be changed.".into(),
        ));
    }
    Ok(api_form(
        &console,
        format!("Edit {}", api.name),
        format!("/settings/apis/{id}/edit"),
        &ApiFields::of_api(&api),
    )
    .into_response())
}

/// `POST /settings/apis/{id}/edit`.
pub async fn save_api(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let fields = ApiFields::of_form(&form);
    match app
        .admin
        .update_api(&console.session.actor(&console.source), &id, fields.input())
        .await
    {
        Ok(a) => Ok(redirect_with_notice(
            "/settings/apis",
            &format!("API {} saved.", a.name),
        )),
        Err(e) => {
            let mut page = api_form(
                &console,
                "Edit API".into(),
                format!("/settings/apis/{id}/edit"),
                &fields,
            );
            page.error = Some(form_error(e)?);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// A delete confirmation for an API or a node.
#[derive(Template, WebTemplate)]
#[template(path = "console/confirm_delete.html")]
pub struct ConfirmPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    name: String,
    consequence: String,
    action: String,
    back: String,
}

/// `GET /settings/apis/{id}/delete`.
pub async fn confirm_delete_api(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    let api = app
        .admin
        .get_api(&console.session.actor(&console.source), &id)
        .await?;
    Ok(ConfirmPage {
        chrome: console.chrome(),
        section: "apis",
        csrf: console.session.csrf_token.clone(),
        consequence: format!(
            "Tokens for {} stop working at once. An API that roles still use cannot be \
             deleted.",
            api.identifier
        ),
        name: api.name,
        action: format!("/settings/apis/{id}/delete"),
        back: "/settings/apis".into(),
    }
    .into_response())
}

/// `POST /settings/apis/{id}/delete`.
pub async fn delete_api(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    match app
        .admin
        .delete_api(&console.session.actor(&console.source), &id)
        .await
    {
        Ok(()) => Ok(redirect_with_notice("/settings/apis", "API deleted.")),
        Err(e) => Ok(redirect_with_notice("/settings/apis", &form_error(e)?)),
    }
}

/// One row of the hierarchy: a node with its depth.
pub struct TreeRow {
    node: Node,
    depth: usize,
    children: usize,
}

/// The hierarchy page.
#[derive(Template, WebTemplate)]
#[template(path = "console/nodes.html")]
pub struct NodesPage {
    chrome: Option<Chrome>,
    section: &'static str,
    rows: Vec<TreeRow>,
    can_write: bool,
    notice: Option<String>,
}

/// `GET /settings/hierarchy`.
pub async fn list_nodes(
    State(app): State<AppState>,
    console: Console,
    Flash(notice): Flash,
) -> Result<Response, ConsoleError> {
    let nodes = app
        .admin
        .list_nodes(&console.session.actor(&console.source))
        .await?;
    let rows = nodes
        .iter()
        .map(|n| TreeRow {
            depth: n.path.matches('/').count(),
            children: nodes
                .iter()
                .filter(|c| c.parent_id.as_deref() == Some(n.id.as_str()))
                .count(),
            node: n.clone(),
        })
        .collect();
    Ok(NodesPage {
        chrome: console.chrome(),
        section: "hierarchy",
        rows,
        can_write: console.session.can(ROLES_WRITE),
        notice,
    }
    .into_response())
}

/// The node form (new child and edit).
#[derive(Template, WebTemplate)]
#[template(path = "console/node_form.html")]
pub struct NodeFormPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    heading: String,
    action: String,
    name: String,
    kind: String,
    parent: String,
    /// (id, path) of every node it may be put under ("" for the root).
    parents: Vec<(String, String)>,
    error: Option<String>,
}

async fn node_form(
    app: &AppState,
    console: &Console,
    heading: String,
    action: String,
    editing: Option<&str>,
    fields: (&str, &str, &str),
) -> Result<NodeFormPage, ConsoleError> {
    let nodes = app
        .admin
        .list_nodes(&console.session.actor(&console.source))
        .await?;
    let catalog_nodes = nodes.clone();
    let below = |candidate: &Node, of: &str| {
        // Whether `candidate` is `of` or lies below it (a node cannot move there).
        let mut at = Some(candidate);
        while let Some(n) = at {
            if n.id == of {
                return true;
            }
            at = n
                .parent_id
                .as_deref()
                .and_then(|p| catalog_nodes.iter().find(|x| x.id == p));
        }
        false
    };
    let parents = nodes
        .iter()
        .filter(|n| editing.is_none_or(|e| !below(n, e)))
        .map(|n| (n.id.clone(), n.path.clone()))
        .collect();
    Ok(NodeFormPage {
        chrome: console.chrome(),
        section: "hierarchy",
        csrf: console.session.csrf_token.clone(),
        heading,
        action,
        name: fields.0.to_owned(),
        kind: fields.1.to_owned(),
        parent: fields.2.to_owned(),
        parents,
        error: None,
    })
}

fn node_input(form: &FormFields) -> NodeInput {
    let parent = form.get("parent").unwrap_or_default().trim().to_owned();
    NodeInput {
        name: Some(form.get("name").unwrap_or_default().to_owned()),
        kind: Some(form.get("kind").unwrap_or_default().to_owned()),
        parent: Some((!parent.is_empty()).then_some(parent)),
    }
}

/// Query of the new-node form: the parent to add a child to.
#[derive(Debug, serde::Deserialize, Default)]
pub struct NewNodeQuery {
    #[serde(default)]
    parent: String,
}

/// `GET /settings/hierarchy/new?parent=ID`.
pub async fn new_node(
    State(app): State<AppState>,
    console: Console,
    axum::extract::Query(q): axum::extract::Query<NewNodeQuery>,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    Ok(node_form(
        &app,
        &console,
        "Add node".into(),
        "/settings/hierarchy/new".into(),
        None,
        ("", "", &q.parent),
    )
    .await?
    .into_response())
}

/// `POST /settings/hierarchy/new`.
pub async fn create_node(
    State(app): State<AppState>,
    console: Console,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    match app
        .admin
        .create_node(&console.session.actor(&console.source), node_input(&form))
        .await
    {
        Ok(n) => Ok(redirect_with_notice(
            "/settings/hierarchy",
            &format!("Node {} added.", n.path),
        )),
        Err(e) => {
            let mut page = node_form(
                &app,
                &console,
                "Add node".into(),
                "/settings/hierarchy/new".into(),
                None,
                (
                    form.get("name").unwrap_or_default(),
                    form.get("kind").unwrap_or_default(),
                    form.get("parent").unwrap_or_default(),
                ),
            )
            .await?;
            page.error = Some(form_error(e)?);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `GET /settings/hierarchy/{id}/edit`: rename, relabel or move.
pub async fn edit_node(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    let n = app
        .admin
        .get_node(&console.session.actor(&console.source), &id)
        .await?;
    let parent = n.parent_id.clone().unwrap_or_default();
    Ok(node_form(
        &app,
        &console,
        format!("Edit {}", n.path),
        format!("/settings/hierarchy/{id}/edit"),
        Some(&n.id),
        (&n.name, &n.kind, &parent),
    )
    .await?
    .into_response())
}

/// `POST /settings/hierarchy/{id}/edit`.
pub async fn save_node(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    match app
        .admin
        .update_node(
            &console.session.actor(&console.source),
            &id,
            node_input(&form),
        )
        .await
    {
        Ok(n) => Ok(redirect_with_notice(
            "/settings/hierarchy",
            &format!("Node {} saved.", n.path),
        )),
        Err(e) => {
            let mut page = node_form(
                &app,
                &console,
                "Edit node".into(),
                format!("/settings/hierarchy/{id}/edit"),
                Some(&id),
                (
                    form.get("name").unwrap_or_default(),
                    form.get("kind").unwrap_or_default(),
                    form.get("parent").unwrap_or_default(),
                ),
            )
            .await?;
            page.error = Some(form_error(e)?);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `GET /settings/hierarchy/{id}/delete`.
pub async fn confirm_delete_node(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    let n = app
        .admin
        .get_node(&console.session.actor(&console.source), &id)
        .await?;
    Ok(ConfirmPage {
        chrome: console.chrome(),
        section: "hierarchy",
        csrf: console.session.csrf_token.clone(),
        consequence: "Only a node without children and without role bindings can be deleted."
            .into(),
        name: n.path,
        action: format!("/settings/hierarchy/{id}/delete"),
        back: "/settings/hierarchy".into(),
    }
    .into_response())
}

/// `POST /settings/hierarchy/{id}/delete`.
pub async fn delete_node(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    match app
        .admin
        .delete_node(&console.session.actor(&console.source), &id)
        .await
    {
        Ok(()) => Ok(redirect_with_notice("/settings/hierarchy", "Node deleted.")),
        Err(e) => Ok(redirect_with_notice("/settings/hierarchy", &form_error(e)?)),
    }
}
