//! The account page's Access section: the product, the role bindings the account holds
//! itself (role, API, node), adding and removing them. Every change goes through
//! `Admin::update_account` with the whole new set of bindings.

use axum::extract::{Path, State};
use axum::response::Response;

use super::{Console, ConsoleError, FormFields, form_error, redirect_with_notice};
use crate::admin::access::BindingInput;
use crate::admin::accounts::UpdateAccount;
use crate::app::AppState;
use crate::domain::audit::Actor;

/// One binding as listed.
pub struct BindingRow {
    /// Role name.
    pub role: String,
    /// Role id.
    pub role_id: String,
    /// API name.
    pub api: String,
    /// Node path ("" at the root).
    pub node: String,
    /// Node id ("" at the root).
    pub node_id: String,
}

/// What the Access section shows.
#[derive(Default)]
pub struct AccessSection {
    /// The product's name, if bound to one.
    pub product: Option<String>,
    /// Bindings the account holds itself.
    pub bindings: Vec<BindingRow>,
    /// (id, "role (API)") of the roles it may be given.
    pub roles: Vec<(String, String)>,
    /// (id, path) of every node.
    pub nodes: Vec<(String, String)>,
}

/// The Access section of account `id`.
pub async fn section(
    app: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<AccessSection, ConsoleError> {
    let account = app.admin.get_account(actor, id).await?;
    let apis = app.admin.list_apis(actor).await?;
    let api_name = |api_id: &str| {
        apis.iter()
            .find(|a| a.id == api_id)
            .map_or_else(|| api_id.to_owned(), |a| a.name.clone())
    };
    let product = account.account.api_id.clone();
    let bindings = app
        .admin
        .account_bindings(actor, id)
        .await?
        .into_iter()
        .map(|b| BindingRow {
            api: api_name(&b.role.api_id),
            role: b.role.name,
            role_id: b.role.id,
            node: b.node.as_ref().map(|n| n.path.clone()).unwrap_or_default(),
            node_id: b.node.map(|n| n.id).unwrap_or_default(),
        })
        .collect();
    let roles = app
        .admin
        .list_roles(actor)
        .await?
        .into_iter()
        .filter(|r| product.as_deref().is_none_or(|p| p == r.api_id))
        .map(|r| {
            (
                r.id.clone(),
                format!("{} ({})", r.name, api_name(&r.api_id)),
            )
        })
        .collect();
    let nodes = app
        .admin
        .list_nodes(actor)
        .await?
        .into_iter()
        .map(|n| (n.id, n.path))
        .collect();
    Ok(AccessSection {
        product: product.as_deref().map(api_name),
        bindings,
        roles,
        nodes,
    })
}

async fn current(
    app: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<Vec<BindingInput>, ConsoleError> {
    Ok(app
        .admin
        .account_bindings(actor, id)
        .await?
        .into_iter()
        .map(|b| BindingInput {
            role: b.role.id,
            node: b.node.map(|n| n.id),
        })
        .collect())
}

fn wanted(form: &FormFields) -> BindingInput {
    let node = form.get("node").unwrap_or_default().trim().to_owned();
    BindingInput {
        role: form.get("role").unwrap_or_default().to_owned(),
        node: (!node.is_empty()).then_some(node),
    }
}

async fn save(
    app: &AppState,
    console: &Console,
    id: &str,
    bindings: Vec<BindingInput>,
    done: &str,
) -> Result<Response, ConsoleError> {
    let back = format!("/settings/service-accounts/{id}");
    match app
        .admin
        .update_account(
            &console.session.actor(&console.source),
            id,
            UpdateAccount {
                bindings: Some(bindings),
                ..UpdateAccount::default()
            },
        )
        .await
    {
        Ok(_) => Ok(redirect_with_notice(&back, done)),
        Err(e) => Ok(redirect_with_notice(&back, &form_error(e)?)),
    }
}

/// `POST /settings/service-accounts/{id}/bindings`: adds a binding (role at a node, or at
/// the root when no node is chosen).
pub async fn add_binding(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    let mut all = current(&app, &actor, &id).await?;
    all.push(wanted(&form));
    save(&app, &console, &id, all, "Binding added.").await
}

/// `POST /settings/service-accounts/{id}/bindings/remove`.
pub async fn remove_binding(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    let gone = wanted(&form);
    let all = current(&app, &actor, &id)
        .await?
        .into_iter()
        .filter(|b| *b != gone)
        .collect();
    save(&app, &console, &id, all, "Binding removed.").await
}
