//! Settings → Roles and Settings → Groups.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::accounts::RoleChoice;
use super::{
    Chrome, Console, ConsoleError, Flash, FormFields, PlacedFlash, form_error, redirect_with_notice,
};
use crate::admin::roles::{GroupInput, RoleInput};
use crate::app::AppState;
use crate::domain::access::Role;
use crate::domain::group::GroupRow;
use crate::domain::permission::{ROLES_WRITE, SERVICE_ACCOUNTS_WRITE};

/// The roles page.
#[derive(Template, WebTemplate)]
#[template(path = "console/roles.html")]
pub struct RolesPage {
    chrome: Option<Chrome>,
    section: &'static str,
    roles: Vec<Role>,
    apis: Vec<crate::domain::access::Api>,
    can_write: bool,
    notice: Option<String>,
}

impl RolesPage {
    /// The name of the API with id `id`.
    fn api_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.apis
            .iter()
            .find(|a| a.id == id)
            .map_or(id, |a| a.name.as_str())
    }
}

async fn roles_page(
    app: &AppState,
    console: &Console,
    notice: Option<String>,
) -> Result<Response, ConsoleError> {
    let actor = console.session.actor(&console.source);
    let roles = app.admin.list_roles(&actor).await?;
    let apis = app.admin.list_apis(&actor).await?;
    Ok(RolesPage {
        chrome: console.chrome(),
        section: "roles",
        roles,
        apis,
        can_write: console.session.can(ROLES_WRITE),
        notice,
    }
    .into_response())
}

/// `GET /settings/roles`.
pub async fn list_roles(
    State(app): State<AppState>,
    console: Console,
    Flash(notice): Flash,
) -> Result<Response, ConsoleError> {
    roles_page(&app, &console, notice).await
}

/// The role form (new and edit).
#[derive(Template, WebTemplate)]
#[template(path = "console/role_form.html")]
pub struct RoleFormPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    heading: String,
    action: String,
    name: String,
    description: String,
    api: String,
    apis: Vec<ApiChoice>,
    error: Option<String>,
}

/// An API offered by the role form, with its permissions as checkboxes.
pub struct ApiChoice {
    id: String,
    name: String,
    identifier: String,
    /// (permission, description, checked)
    permissions: Vec<(String, String, bool)>,
}

async fn role_form(
    app: &AppState,
    console: &Console,
    heading: String,
    action: String,
    role: &RoleInput,
) -> Result<RoleFormPage, ConsoleError> {
    let api = role.api.clone().unwrap_or_default();
    let apis = app
        .admin
        .list_apis(&console.session.actor(&console.source))
        .await?
        .into_iter()
        .map(|a| ApiChoice {
            permissions: a
                .permissions
                .iter()
                .map(|p| {
                    let checked = a.id == api && role.permissions.contains(&p.name);
                    (p.name.clone(), p.description.clone(), checked)
                })
                .collect(),
            id: a.id,
            name: a.name,
            identifier: a.identifier,
        })
        .collect();
    Ok(RoleFormPage {
        chrome: console.chrome(),
        section: "roles",
        csrf: console.session.csrf_token.clone(),
        heading,
        action,
        name: role.name.clone(),
        description: role.description.clone(),
        api,
        apis,
        error: None,
    })
}

fn role_input(form: &FormFields) -> RoleInput {
    let api = form.get("api").unwrap_or_default().trim().to_owned();
    RoleInput {
        name: form.get("name").unwrap_or_default().to_owned(),
        description: form.get("description").unwrap_or_default().to_owned(),
        // Checkboxes carry "API-id permission"; only the chosen API's count.
        permissions: form
            .all("perm")
            .iter()
            .filter_map(|v| v.split_once(' '))
            .filter(|(a, _)| *a == api)
            .map(|(_, p)| p.to_owned())
            .collect(),
        api: (!api.is_empty()).then_some(api),
    }
}

/// `GET /settings/roles/new`.
pub async fn new_role(
    State(app): State<AppState>,
    console: Console,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    Ok(role_form(
        &app,
        &console,
        "Add Role".into(),
        "/settings/roles/new".into(),
        &RoleInput::default(),
    )
    .await?
    .into_response())
}

/// `POST /settings/roles/new`.
pub async fn create_role(
    State(app): State<AppState>,
    console: Console,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let input = role_input(&form);
    match app
        .admin
        .create_role(&console.session.actor(&console.source), input.clone())
        .await
    {
        Ok(r) => Ok(redirect_with_notice(
            "/settings/roles",
            &format!("Role {} added.", r.name),
        )),
        Err(e) => {
            let mut page = role_form(
                &app,
                &console,
                "Add Role".into(),
                "/settings/roles/new".into(),
                &input,
            )
            .await?;
            page.error = Some(form_error(e)?);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `GET /settings/roles/{id}/edit`.
pub async fn edit_role(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    let r = app
        .admin
        .get_role(&console.session.actor(&console.source), &id)
        .await?;
    if r.builtin {
        return Err(ConsoleError::Forbidden(
            "Built-in roles cannot be changed.".into(),
        ));
    }
    let input = RoleInput {
        name: r.name.clone(),
        description: r.description,
        permissions: r.permissions,
        api: Some(r.api_id),
    };
    Ok(role_form(
        &app,
        &console,
        format!("Edit {}", r.name),
        format!("/settings/roles/{id}/edit"),
        &input,
    )
    .await?
    .into_response())
}

/// `POST /settings/roles/{id}/edit`.
pub async fn save_role(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let input = role_input(&form);
    match app
        .admin
        .update_role(&console.session.actor(&console.source), &id, input.clone())
        .await
    {
        Ok(r) => Ok(redirect_with_notice(
            "/settings/roles",
            &format!("Role {} saved.", r.name),
        )),
        Err(e) => {
            let mut page = role_form(
                &app,
                &console,
                "Edit role".into(),
                format!("/settings/roles/{id}/edit"),
                &input,
            )
            .await?;
            page.error = Some(form_error(e)?);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// A delete confirmation (roles, groups).
#[derive(Template, WebTemplate)]
#[template(path = "console/confirm_delete.html")]
pub struct ConfirmDeletePage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    name: String,
    consequence: String,
    action: String,
    back: String,
}

/// The confirmation of a role's deletion, listing who holds it.
#[derive(Template, WebTemplate)]
#[template(path = "console/confirm_delete_role.html")]
pub struct ConfirmDeleteRolePage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    name: String,
    consequence: String,
    /// What the deletion touches, by kind ("Service accounts", names), shown as lists.
    affected: Vec<(String, Vec<String>)>,
    action: String,
    back: String,
}

/// Most names listed per kind on a confirmation; the count says how many more.
const LISTED: usize = 20;

/// Names for a confirmation's list, with "and N more" past [`LISTED`].
fn listed(mut names: Vec<String>, total: i64) -> Vec<String> {
    names.truncate(LISTED);
    let shown = i64::try_from(names.len()).unwrap_or(0);
    if total > shown {
        names.push(format!("and {} more", total - shown));
    }
    names
}

/// `GET /settings/roles/{id}/delete`: says who holds the role before it goes.
pub async fn confirm_delete_role(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    let actor = console.session.actor(&console.source);
    let r = app.admin.get_role(&actor, &id).await?;
    let (a, g, u) = app.admin.role_holders(&actor, &id).await?;
    let consequence = if a + g + u == 0 {
        "Nobody holds this role.".to_owned()
    } else {
        format!(
            "This role is in use: it will be removed from {a} service account(s), {g} group(s) \
             and {u} console user(s), who lose its permissions at once."
        )
    };
    let mut affected = Vec::new();
    if a > 0 {
        // Direct holders only (members of a group holding it are listed under the group).
        let filter = crate::domain::account::ListFilter {
            role: Some(id.clone()),
            limit: 200,
            ..Default::default()
        };
        let names = app
            .admin
            .list_accounts(&actor, &filter)
            .await?
            .into_iter()
            .filter(|s| s.roles.iter().any(|r| r.id == id))
            .map(|s| s.account.name)
            .collect();
        affected.push(("Service accounts".to_owned(), listed(names, a)));
    }
    if g > 0 {
        let names = app
            .admin
            .list_groups(&actor)
            .await?
            .into_iter()
            .filter(|grp| grp.roles.iter().any(|r| r.id == id))
            .map(|grp| {
                format!(
                    "{} ({} member{})",
                    grp.name,
                    grp.members.len(),
                    if grp.members.len() == 1 { "" } else { "s" }
                )
            })
            .collect();
        affected.push(("Groups".to_owned(), listed(names, g)));
    }
    if u > 0 && console.session.can(crate::domain::permission::USERS_READ) {
        let names = app
            .admin
            .list_users(&actor)
            .await?
            .into_iter()
            .filter(|(_, roles)| roles.iter().any(|r| r.id == id))
            .map(|(user, _)| user.username)
            .collect();
        affected.push(("Console users".to_owned(), listed(names, u)));
    }
    Ok(ConfirmDeleteRolePage {
        chrome: console.chrome(),
        section: "roles",
        csrf: console.session.csrf_token.clone(),
        name: r.name,
        consequence,
        affected,
        action: format!("/settings/roles/{id}/delete"),
        back: "/settings/roles".into(),
    }
    .into_response())
}

/// `POST /settings/roles/{id}/delete`.
pub async fn delete_role(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    app.admin
        .delete_role(&console.session.actor(&console.source), &id, true)
        .await?;
    Ok(redirect_with_notice("/settings/roles", "Role deleted."))
}

/// The groups page.
#[derive(Template, WebTemplate)]
#[template(path = "console/groups.html")]
pub struct GroupsPage {
    chrome: Option<Chrome>,
    section: &'static str,
    groups: Vec<GroupRow>,
    can_write: bool,
    notice: Option<String>,
}

async fn groups_page(
    app: &AppState,
    console: &Console,
    notice: Option<String>,
) -> Result<Response, ConsoleError> {
    let groups = app
        .admin
        .list_groups(&console.session.actor(&console.source))
        .await?;
    Ok(GroupsPage {
        chrome: console.chrome(),
        section: "groups",
        groups,
        can_write: console.session.can(ROLES_WRITE) && console.session.can(SERVICE_ACCOUNTS_WRITE),
        notice,
    }
    .into_response())
}

/// `GET /settings/groups`.
pub async fn list_groups(
    State(app): State<AppState>,
    console: Console,
    Flash(notice): Flash,
) -> Result<Response, ConsoleError> {
    groups_page(&app, &console, notice).await
}

/// A group's page: its members and its bindings (the Access section, as on the account
/// page).
#[derive(Template, WebTemplate)]
#[template(path = "console/group.html")]
pub struct GroupPage {
    chrome: Option<Chrome>,
    section: &'static str,
    g: GroupRow,
    /// Role bindings, with the forms to add and remove them.
    access: super::bindings::AccessSection,
    csrf: String,
    /// Whether the user may change the group (`roles:write` and `service-accounts:write`).
    can_write: bool,
    notice: Option<String>,
    /// Where the notice shows: "" (the top) or `access`.
    notice_at: String,
}

/// `GET /settings/groups/{id}`, with the notice of the change just made, shown where it was
/// made.
pub async fn show_group(
    State(app): State<AppState>,
    console: Console,
    PlacedFlash(flash): PlacedFlash,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let (notice_at, notice) = flash.map_or((String::new(), None), |(p, n)| (p, Some(n)));
    let actor = console.session.actor(&console.source);
    let g = app.admin.get_group(&actor, &id).await?;
    Ok(GroupPage {
        chrome: console.chrome(),
        section: "groups",
        access: super::bindings::group_section(&app, &actor, &g.id).await?,
        g,
        csrf: console.session.csrf_token.clone(),
        can_write: console.session.can(ROLES_WRITE) && console.session.can(SERVICE_ACCOUNTS_WRITE),
        notice,
        notice_at,
    }
    .into_response())
}

/// The group form (new and edit).
#[derive(Template, WebTemplate)]
#[template(path = "console/group_form.html")]
pub struct GroupFormPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    heading: String,
    action: String,
    name: String,
    description: String,
    roles: Vec<RoleChoice>,
    /// The members, each a ticked checkbox (untick to remove).
    members: Vec<crate::domain::access::NameRef>,
    /// What was typed in "Add a service account".
    add_member: String,
    error: Option<String>,
}

async fn group_form(
    app: &AppState,
    console: &Console,
    heading: String,
    action: String,
    input: &GroupInput,
) -> Result<GroupFormPage, ConsoleError> {
    let actor = console.session.actor(&console.source);
    let roles = app.admin.list_roles(&actor).await?;
    let mut members = Vec::new();
    for id in &input.member_ids {
        match app.admin.get_account(&actor, id).await {
            Ok(s) => members.push(crate::domain::access::NameRef {
                id: s.account.id,
                name: s.account.name,
            }),
            Err(crate::admin::AdminError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(GroupFormPage {
        chrome: console.chrome(),
        section: "groups",
        csrf: console.session.csrf_token.clone(),
        heading,
        action,
        name: input.name.clone(),
        description: input.description.clone(),
        roles: RoleChoice::all(roles, &input.role_ids),
        members,
        add_member: String::new(),
        error: None,
    })
}

fn group_input(form: &FormFields) -> GroupInput {
    GroupInput {
        name: form.get("name").unwrap_or_default().to_owned(),
        description: form.get("description").unwrap_or_default().to_owned(),
        role_ids: form.all("role"),
        member_ids: form.all("member"),
        bindings: None,
    }
}

/// `GET /settings/groups/new`.
pub async fn new_group(
    State(app): State<AppState>,
    console: Console,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    Ok(group_form(
        &app,
        &console,
        "Add Group".into(),
        "/settings/groups/new".into(),
        &GroupInput::default(),
    )
    .await?
    .into_response())
}

async fn save_group_form(
    app: &AppState,
    console: &Console,
    id: Option<&str>,
    form: &FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(form)?;
    let actor = console.session.actor(&console.source);
    let mut input = group_input(form);
    // "Add a service account": by name, client ID or id, saved with the rest.
    let add = form.get("add_member").unwrap_or_default().trim().to_owned();
    let added = if add.is_empty() {
        Ok(())
    } else {
        match app.admin.find_account(&actor, &add).await {
            Ok(s) => {
                if !input.member_ids.contains(&s.account.id) {
                    input.member_ids.push(s.account.id);
                }
                Ok(())
            }
            Err(crate::admin::AdminError::NotFound(_)) => Err(format!(
                "No service account has the name, client ID or id \u{201c}{add}\u{201d}."
            )),
            Err(e) => return Err(e.into()),
        }
    };
    let saved = match added {
        Ok(()) => app
            .admin
            .save_group(&actor, id, input.clone())
            .await
            .map_err(form_error),
        Err(message) => Err(Ok(message)),
    };
    match saved {
        Ok(g) => Ok(redirect_with_notice(
            "/settings/groups",
            &format!("Group {} saved.", g.name),
        )),
        Err(Err(e)) => Err(e),
        Err(Ok(message)) => {
            let (heading, action) = match id {
                Some(id) => (
                    "Edit group".to_owned(),
                    format!("/settings/groups/{id}/edit"),
                ),
                None => ("Add Group".to_owned(), "/settings/groups/new".to_owned()),
            };
            let mut page = group_form(app, console, heading, action, &input).await?;
            page.error = Some(message);
            page.add_member = add;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `POST /settings/groups/new`.
pub async fn create_group(
    State(app): State<AppState>,
    console: Console,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    save_group_form(&app, &console, None, &form).await
}

/// `GET /settings/groups/{id}/edit`.
pub async fn edit_group(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    let g = app
        .admin
        .get_group(&console.session.actor(&console.source), &id)
        .await?;
    let input = GroupInput {
        name: g.name.clone(),
        description: g.description,
        role_ids: g.roles.iter().map(|r| r.id.clone()).collect(),
        member_ids: g.members.iter().map(|m| m.id.clone()).collect(),
        bindings: None,
    };
    Ok(group_form(
        &app,
        &console,
        format!("Edit {}", g.name),
        format!("/settings/groups/{id}/edit"),
        &input,
    )
    .await?
    .into_response())
}

/// `POST /settings/groups/{id}/edit`.
pub async fn save_group(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    save_group_form(&app, &console, Some(&id), &form).await
}

/// `GET /settings/groups/{id}/delete`.
pub async fn confirm_delete_group(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    let g = app
        .admin
        .get_group(&console.session.actor(&console.source), &id)
        .await?;
    Ok(ConfirmDeletePage {
        chrome: console.chrome(),
        section: "groups",
        csrf: console.session.csrf_token.clone(),
        consequence: format!(
            "Its {} member(s) lose the roles it gives them, at once.",
            g.members.len()
        ),
        name: g.name,
        action: format!("/settings/groups/{id}/delete"),
        back: "/settings/groups".into(),
    }
    .into_response())
}

/// `POST /settings/groups/{id}/delete`.
pub async fn delete_group(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    app.admin
        .delete_group(&console.session.actor(&console.source), &id)
        .await?;
    Ok(redirect_with_notice("/settings/groups", "Group deleted."))
}
