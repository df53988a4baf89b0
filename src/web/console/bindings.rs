//! The Access section of the account page and of the group page: the product (accounts
//! only), the role bindings the holder has itself (role, API, node), adding and removing
//! them. Every change goes through `Admin::update_account` or `Admin::set_group_bindings`
//! with the whole new set of bindings.

use axum::extract::{Path, State};
use axum::response::Response;

use super::{Console, ConsoleError, FormFields, form_error, redirect_with_notice_at};
use crate::admin::access::{BindingInput, BindingView};
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
    /// The holder's page: its forms post to `{base}/bindings` and `{base}/bindings/remove`.
    pub base: String,
    /// The product's name, if bound to one.
    pub product: Option<String>,
    /// Bindings the holder has itself.
    pub bindings: Vec<BindingRow>,
    /// (id, "role (API)") of the roles it may be given.
    pub roles: Vec<(String, String)>,
    /// (id, path) of every node.
    pub nodes: Vec<(String, String)>,
}

/// What holds the bindings: a service account or a group, by id.
#[derive(Clone, Copy)]
enum Holder<'a> {
    Account(&'a str),
    Group(&'a str),
}

impl Holder<'_> {
    /// Its console page, where the Access section is.
    fn page(self) -> String {
        match self {
            Self::Account(id) => format!("/settings/service-accounts/{id}"),
            Self::Group(id) => format!("/settings/groups/{id}"),
        }
    }

    /// Where on its page the notice of a change shows: the top of the account page (a long
    /// page with one notice place), the Access section of the group page.
    fn notice_place(self) -> &'static str {
        match self {
            Self::Account(_) => "",
            Self::Group(_) => "access",
        }
    }

    async fn bindings(
        self,
        app: &AppState,
        actor: &Actor,
    ) -> Result<Vec<BindingView>, ConsoleError> {
        Ok(match self {
            Self::Account(id) => app.admin.account_bindings(actor, id).await?,
            Self::Group(id) => app.admin.group_bindings(actor, id).await?,
        })
    }
}

/// The Access section of account `id`.
pub async fn section(
    app: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<AccessSection, ConsoleError> {
    let account = app.admin.get_account(actor, id).await?;
    build(app, actor, Holder::Account(id), account.account.api_id).await
}

/// The Access section of group `id` (a group has no product: it may hold roles of any API).
pub async fn group_section(
    app: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<AccessSection, ConsoleError> {
    build(app, actor, Holder::Group(id), None).await
}

async fn build(
    app: &AppState,
    actor: &Actor,
    holder: Holder<'_>,
    product: Option<String>,
) -> Result<AccessSection, ConsoleError> {
    let apis = app.admin.list_apis(actor).await?;
    let api_name = |api_id: &str| {
        apis.iter()
            .find(|a| a.id == api_id)
            .map_or_else(|| api_id.to_owned(), |a| a.name.clone())
    };
    let bindings = holder
        .bindings(app, actor)
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
        base: holder.page(),
        product: product.as_deref().map(api_name),
        bindings,
        roles,
        nodes,
    })
}

async fn current(
    app: &AppState,
    actor: &Actor,
    holder: Holder<'_>,
) -> Result<Vec<BindingInput>, ConsoleError> {
    Ok(holder
        .bindings(app, actor)
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
    holder: Holder<'_>,
    bindings: Vec<BindingInput>,
    done: &str,
) -> Result<Response, ConsoleError> {
    let actor = console.session.actor(&console.source);
    let saved = match holder {
        Holder::Account(id) => app
            .admin
            .update_account(
                &actor,
                id,
                UpdateAccount {
                    bindings: Some(bindings),
                    ..UpdateAccount::default()
                },
            )
            .await
            .map(drop),
        Holder::Group(id) => app
            .admin
            .set_group_bindings(&actor, id, bindings)
            .await
            .map(drop),
    };
    let notice = match saved {
        Ok(()) => done.to_owned(),
        Err(e) => form_error(e)?,
    };
    Ok(redirect_with_notice_at(
        &holder.page(),
        holder.notice_place(),
        &notice,
    ))
}

/// Adds the binding the form names (role at a node, or at the root when no node is chosen).
async fn add(
    app: &AppState,
    console: &Console,
    holder: Holder<'_>,
    form: &FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(form)?;
    let actor = console.session.actor(&console.source);
    let mut all = current(app, &actor, holder).await?;
    all.push(wanted(form));
    save(app, console, holder, all, "Binding added.").await
}

/// Removes the binding the form names.
async fn remove(
    app: &AppState,
    console: &Console,
    holder: Holder<'_>,
    form: &FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(form)?;
    let actor = console.session.actor(&console.source);
    let gone = wanted(form);
    let all = current(app, &actor, holder)
        .await?
        .into_iter()
        .filter(|b| *b != gone)
        .collect();
    save(app, console, holder, all, "Binding removed.").await
}

/// `POST /settings/service-accounts/{id}/bindings`: adds a binding (role at a node, or at
/// the root when no node is chosen).
pub async fn add_binding(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    add(&app, &console, Holder::Account(&id), &form).await
}

/// `POST /settings/service-accounts/{id}/bindings/remove`.
pub async fn remove_binding(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    remove(&app, &console, Holder::Account(&id), &form).await
}

/// `POST /settings/groups/{id}/bindings`: adds a binding to the group.
pub async fn add_group_binding(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    add(&app, &console, Holder::Group(&id), &form).await
}

/// `POST /settings/groups/{id}/bindings/remove`.
pub async fn remove_group_binding(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    remove(&app, &console, Holder::Group(&id), &form).await
}
