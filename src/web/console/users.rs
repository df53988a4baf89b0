//! Settings → Console Users and Settings → Audit Log.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::accounts::RoleChoice;
use super::when::When;
use super::{Chrome, Console, ConsoleError, FormFields, form_error};
use crate::app::AppState;
use crate::domain::permission::{USERS_READ, USERS_WRITE};

/// A console user as listed.
pub struct UserView {
    id: String,
    username: String,
    roles: String,
    enabled: bool,
    last_login: Option<When>,
}

/// The console users page.
#[derive(Template, WebTemplate)]
#[template(path = "console/users.html")]
pub struct UsersPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    users: Vec<UserView>,
    roles: Vec<RoleChoice>,
    can_write: bool,
    new_username: String,
    notice: Option<String>,
    error: Option<String>,
}

async fn users_page(
    app: &AppState,
    console: &Console,
    notice: Option<String>,
    error: Option<String>,
    form: Option<&FormFields>,
) -> Result<UsersPage, ConsoleError> {
    let actor = console.session.actor(&console.source);
    let users = app.admin.list_users(&actor).await?;
    let roles = app.admin.console_user_roles(&actor).await?;
    let checked = form.map(|f| f.all("role")).unwrap_or_default();
    Ok(UsersPage {
        chrome: console.chrome(),
        section: "users",
        csrf: console.session.csrf_token.clone(),
        users: users
            .into_iter()
            .map(|(u, roles)| UserView {
                id: u.id,
                username: u.username,
                roles: if roles.is_empty() {
                    "—".into()
                } else {
                    roles
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                enabled: u.enabled,
                last_login: u.last_login_at.map(When::of),
            })
            .collect(),
        roles: RoleChoice::all(roles, &checked),
        can_write: console.session.can(USERS_WRITE),
        new_username: form
            .and_then(|f| f.get("username"))
            .unwrap_or_default()
            .to_owned(),
        notice,
        error,
    })
}

/// `GET /settings/users`, with the notice of the change just made.
pub async fn list_users(
    State(app): State<AppState>,
    console: Console,
    super::Flash(notice): super::Flash,
) -> Result<Response, ConsoleError> {
    console.require(USERS_READ)?;
    Ok(users_page(&app, &console, notice, None, None)
        .await?
        .into_response())
}

/// `POST /settings/users`: adds a console user.
pub async fn add_user(
    State(app): State<AppState>,
    console: Console,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    let username = form.get("username").unwrap_or_default().to_owned();
    let password = form.get("password").unwrap_or_default().to_owned();
    match app
        .admin
        .create_user(&actor, &username, password, &form.all("role"))
        .await
    {
        Ok(u) => Ok(users_page(
            &app,
            &console,
            Some(format!("Added {}.", u.username)),
            None,
            None,
        )
        .await?
        .into_response()),
        Err(e) => {
            let message = form_error(e)?;
            let page = users_page(&app, &console, None, Some(message), Some(&form)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `POST /settings/users/{id}/enabled`.
pub async fn toggle_user(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let enabled = form.get("enabled") == Some("true");
    match app
        .admin
        .set_user_enabled(&console.session.actor(&console.source), &id, enabled)
        .await
    {
        Ok(()) => Ok(Redirect::to("/settings/users").into_response()),
        Err(e) => {
            let message = form_error(e)?;
            let page = users_page(&app, &console, None, Some(message), None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// The roles of one console user.
#[derive(Template, WebTemplate)]
#[template(path = "console/user_roles.html")]
pub struct UserRolesPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    id: String,
    username: String,
    roles: Vec<RoleChoice>,
    error: Option<String>,
    /// Said before saving when this user is the last who can manage users.
    warning: Option<String>,
    /// Whether this is the signed-in user (who changes their password elsewhere and
    /// cannot delete themselves).
    is_self: bool,
    /// The reset-password form's message, shown there.
    password_error: Option<String>,
}

async fn user_roles_page(
    app: &AppState,
    console: &Console,
    id: &str,
    checked: Option<Vec<String>>,
    error: Option<String>,
) -> Result<UserRolesPage, ConsoleError> {
    console.require(USERS_WRITE)?;
    let actor = console.session.actor(&console.source);
    let (user, roles) = app
        .admin
        .list_users(&actor)
        .await?
        .into_iter()
        .find(|(u, _)| u.id == id)
        .ok_or_else(|| ConsoleError::NotFound("That console user does not exist.".into()))?;
    let held: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
    let checked = checked.unwrap_or_else(|| held.clone());
    // Roles with keygate permissions, and any other role the user already holds.
    let mut offered = app.admin.console_user_roles(&actor).await?;
    for r in app.admin.list_roles_for_users(&actor).await? {
        if held.contains(&r.id) && !offered.iter().any(|o| o.id == r.id) {
            offered.push(r);
        }
    }
    let warning = app
        .admin
        .is_last_user_manager(&actor, &user.id)
        .await?
        .then(|| {
            format!(
                "{} is the only enabled console user who can manage users (users:write). \
                 keygate refuses a change that takes that permission away, so that nobody is \
                 locked out: give it to another user first.",
                user.username
            )
        });
    let is_self = user.id == console.session.user_id;
    Ok(UserRolesPage {
        chrome: console.chrome(),
        section: "users",
        csrf: console.session.csrf_token.clone(),
        id: user.id,
        username: user.username,
        is_self,
        roles: RoleChoice::all(offered, &checked),
        error,
        warning,
        password_error: None,
    })
}

/// `GET /settings/users/{id}/roles`.
pub async fn edit_user_roles(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    Ok(user_roles_page(&app, &console, &id, None, None)
        .await?
        .into_response())
}

/// `POST /settings/users/{id}/roles`.
pub async fn save_user_roles(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let role_ids = form.all("role");
    match app
        .admin
        .set_user_roles(&console.session.actor(&console.source), &id, &role_ids)
        .await
    {
        Ok(()) => Ok(Redirect::to("/settings/users").into_response()),
        Err(e) => {
            let message = form_error(e)?;
            let page = user_roles_page(&app, &console, &id, Some(role_ids), Some(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// The Change password page (one's own).
#[derive(Template, WebTemplate)]
#[template(path = "console/password.html")]
pub struct PasswordPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    /// For password managers: the form names whose password it changes.
    username: String,
    error: Option<String>,
    min_chars: usize,
}

fn password_page(console: &Console, error: Option<String>) -> PasswordPage {
    PasswordPage {
        chrome: console.chrome(),
        section: "",
        csrf: console.session.csrf_token.clone(),
        username: console.session.username.clone(),
        error,
        min_chars: crate::admin::users::MIN_PASSWORD_CHARS,
    }
}

/// `GET /settings/password`: change one's own password.
pub async fn edit_own_password(console: Console) -> Response {
    password_page(&console, None).into_response()
}

/// `POST /settings/password`: the current password, then the new one.
pub async fn change_own_password(
    State(app): State<AppState>,
    console: Console,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let current = form.get("current_password").unwrap_or_default().to_owned();
    let new = form.get("new_password").unwrap_or_default().to_owned();
    match app
        .admin
        .change_own_password(&console.session.actor(&console.source), current, new)
        .await
    {
        Ok(()) => Ok(super::redirect_with_notice(
            "/settings/service-accounts",
            "Your password was changed.",
        )),
        Err(e) => {
            let page = password_page(&console, Some(form_error(e)?));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `POST /settings/users/{id}/password`: sets another user's password (their sessions end).
pub async fn reset_user_password(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let new = form.get("new_password").unwrap_or_default().to_owned();
    match app
        .admin
        .reset_user_password(&console.session.actor(&console.source), &id, new)
        .await
    {
        Ok(()) => Ok(super::redirect_with_notice(
            "/settings/users",
            "Password reset; that user's sessions have ended.",
        )),
        Err(e) => {
            let message = form_error(e)?;
            let mut page = user_roles_page(&app, &console, &id, None, None).await?;
            page.password_error = Some(message);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// The delete-user confirmation.
#[derive(Template, WebTemplate)]
#[template(path = "console/delete_user.html")]
pub struct DeleteUserPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    id: String,
    username: String,
    error: Option<String>,
}

/// `GET /settings/users/{id}/delete`.
pub async fn confirm_delete_user(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let page = user_roles_page(&app, &console, &id, None, None).await?;
    Ok(DeleteUserPage {
        chrome: console.chrome(),
        section: "users",
        csrf: console.session.csrf_token.clone(),
        id,
        username: page.username,
        error: None,
    }
    .into_response())
}

/// `POST /settings/users/{id}/delete`.
pub async fn delete_user(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    match app
        .admin
        .delete_user(&console.session.actor(&console.source), &id)
        .await
    {
        Ok(user) => Ok(super::redirect_with_notice(
            "/settings/users",
            &format!("{} deleted.", user.username),
        )),
        Err(e) => {
            let message = form_error(e)?;
            let page = user_roles_page(&app, &console, &id, None, None).await?;
            let page = DeleteUserPage {
                chrome: console.chrome(),
                section: "users",
                csrf: console.session.csrf_token.clone(),
                id,
                username: page.username,
                error: Some(message),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}
