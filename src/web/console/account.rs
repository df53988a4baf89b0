//! One service account's page and what an administrator does to it: toggle, edit,
//! regenerate client keys, delete.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::accounts::{AccountRowView, CredentialsPage, ListView, RoleChoice};
use super::when::When;
use super::{
    Chrome, Console, ConsoleError, FormFields, PlacedFlash, form_error, redirect_with_notice,
    redirect_with_notice_at,
};
use crate::admin::accounts::UpdateAccount;
use crate::app::AppState;
use crate::domain::access::Role;
use crate::domain::account::{AccountRow, AccountSummary};
use crate::domain::audit::AuditFilter;
use crate::domain::permission::{AUDIT_READ, SERVICE_ACCOUNTS_WRITE};

/// One row of the list, re-rendered after a toggle.
#[derive(Template, WebTemplate)]
#[template(path = "console/account_row_partial.html")]
pub struct AccountRowPartial {
    r: AccountRowView,
    csrf: String,
    can_write: bool,
    /// The list's view, kept by the row's forms.
    view: ListView,
}

/// `POST /settings/service-accounts/{id}/enabled`: flips the Enabled toggle. htmx gets the
/// new row, saying what changed with an Undo; a plain form post goes back to the list with
/// the search, filters, order and page it came from ([`ListView`]), or to the account page when it came
/// from there (`from=account`), with a notice saying what changed.
pub async fn toggle_service_account(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let enabled = match form.get("enabled") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(ConsoleError::BadRequest(
                "Choose enabled or disabled.".into(),
            ));
        }
    };
    let actor = console.session.actor(&console.source);
    let view = ListView::of_form(&form);
    let account = match app.admin.set_enabled(&actor, &id, enabled).await {
        Ok(account) => account,
        // Refused for a reason the user can act on (a leaked secret must be regenerated
        // first): said where the toggle was.
        Err(e @ crate::admin::AdminError::Invalid(_)) => {
            return refused_toggle(&app, &console, &id, headers, &form, view, form_error(e)?).await;
        }
        Err(e) => return Err(e.into()),
    };
    let notice = format!(
        "{} {}",
        account.account.name,
        if enabled { "enabled" } else { "disabled" }
    );
    // The account page's button is a boosted form (htmx, but the whole page): it gets the
    // page back, never a list row.
    if form.get("from") == Some("account") {
        Ok(redirect_with_notice_at(
            &account_url(&account.account.id),
            "status",
            &format!("{notice}."),
        ))
    } else if headers.contains_key("hx-request") {
        let mut r = AccountRowView::of(&account, &app.admin.policies_in_force());
        r.notice = Some(notice);
        Ok(AccountRowPartial {
            r,
            csrf: console.session.csrf_token.clone(),
            can_write: true,
            view,
        }
        .into_response())
    } else {
        Ok(redirect_with_notice(&view.url(), &format!("{notice}.")))
    }
}

/// The answer to a toggle the operation refused: the row with the reason (htmx), or the
/// page it came from with the reason where the toggle was.
async fn refused_toggle(
    app: &AppState,
    console: &Console,
    id: &str,
    headers: HeaderMap,
    form: &FormFields,
    view: ListView,
    message: String,
) -> Result<Response, ConsoleError> {
    if form.get("from") == Some("account") {
        return Ok(redirect_with_notice_at(
            &account_url(id),
            "status",
            &message,
        ));
    }
    if !headers.contains_key("hx-request") {
        return Ok(redirect_with_notice(&view.url(), &message));
    }
    let account = app
        .admin
        .get_account(&console.session.actor(&console.source), id)
        .await?;
    let mut r = AccountRowView::of(&account, &app.admin.policies_in_force());
    r.refused = Some(message);
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        AccountRowPartial {
            r,
            csrf: console.session.csrf_token.clone(),
            can_write: true,
            view,
        },
    )
        .into_response())
}

/// An audit event as shown on the account page.
pub struct EventView {
    at: When,
    actor: String,
    action: String,
    source: String,
}

/// A live token as shown on the account page.
pub struct SessionView {
    jti: String,
    issued: When,
    expires: When,
    /// The permissions it carries ("" for none).
    scope: String,
    /// The address it was requested from ("" when unknown).
    source: String,
}

/// Failed client authentications of an account in the last hour, from the aggregated
/// `client_auth.failed` audit events (one per account per minute).
#[derive(Debug, Default)]
pub struct FailedAuths {
    /// How many attempts failed.
    pub(crate) count: i64,
    /// The addresses they came from, sorted.
    pub(crate) addresses: Vec<String>,
}

impl FailedAuths {
    /// Adds up the events' `failures` and `addresses`.
    fn of(events: &[crate::domain::audit::AuditRow]) -> Self {
        let mut count = 0;
        let mut addresses = std::collections::BTreeSet::new();
        for e in events {
            let Ok(detail) = serde_json::from_str::<serde_json::Value>(&e.detail) else {
                continue;
            };
            count += detail["failures"].as_i64().unwrap_or(0);
            if let Some(a) = detail["addresses"].as_array() {
                addresses.extend(a.iter().filter_map(|v| v.as_str()).map(str::to_owned));
            }
        }
        Self {
            count,
            addresses: addresses.into_iter().collect(),
        }
    }
}

/// The account page.
#[derive(Template, WebTemplate)]
#[template(path = "console/account.html")]
pub struct AccountPage {
    chrome: Option<Chrome>,
    section: &'static str,
    a: AccountRow,
    created: When,
    last_used: Option<When>,
    previous: Option<(String, When)>,
    token_url: String,
    roles: Vec<Role>,
    groups: Vec<crate::domain::access::NameRef>,
    permissions: Vec<crate::admin::access::EffectiveView>,
    events: Vec<EventView>,
    sessions: Vec<SessionView>,
    /// Failed client authentications in the last hour (shown with `audit:read`).
    failed: FailedAuths,
    /// The token lifetime in words ("1 hour").
    lifetime: String,
    /// When the client secret expires under the policy ("expires in 5 days", "expired").
    secret_expiry: Option<String>,
    csrf: String,
    /// This rendering's id for the forms whose result is shown once (a generated key file,
    /// a personal token), so a reload cannot post them twice.
    form_id: String,
    can_write: bool,
    can_audit: bool,
    notice: Option<String>,
    /// Where the notice shows: "" (the top), `status` or `sessions`.
    notice_at: String,
    /// The keys of a `private_key_jwt` account (empty for a secret account).
    keys: Vec<super::keys::KeyView>,
    /// An error of the Keys section's last form, shown there.
    key_error: Option<String>,
    /// Product and role bindings.
    access: super::bindings::AccessSection,
    /// Personal tokens: the list and the create form.
    tokens: super::personal_tokens::TokensSection,
}

impl AccountPage {
    /// Shows `message` in the Keys section (a refused key form).
    pub(crate) fn with_key_error(mut self, message: String) -> Self {
        self.key_error = Some(message);
        self
    }

    /// Shows the Personal tokens section as given (a refused create form).
    pub(crate) fn with_tokens(mut self, tokens: super::personal_tokens::TokensSection) -> Self {
        self.tokens = tokens;
        self
    }
}

pub(crate) async fn account_page(
    app: &AppState,
    console: &Console,
    id: &str,
    notice: Option<String>,
) -> Result<AccountPage, ConsoleError> {
    let actor = console.session.actor(&console.source);
    let AccountSummary { account, roles, .. } = app.admin.get_account(&actor, id).await?;
    let role_ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
    let all_roles = app.admin.list_roles(&actor).await?;
    let now = crate::domain::now_ms();
    let events = if actor.can(AUDIT_READ) {
        let filter = AuditFilter {
            target: Some(account.id.clone()),
            limit: 50,
            ..AuditFilter::default()
        };
        app.admin
            .audit_events(&actor, &filter)
            .await?
            .into_iter()
            .map(|e| EventView {
                at: When::at(e.at, now),
                actor: e.actor_name,
                action: e.action,
                source: e.source,
            })
            .collect()
    } else {
        Vec::new()
    };
    let failed = if actor.can(AUDIT_READ) {
        let filter = AuditFilter {
            target: Some(account.id.clone()),
            action: Some("client_auth.failed".to_owned()),
            since: Some(now - 3_600_000),
            // One event per minute at most.
            limit: 120,
            ..AuditFilter::default()
        };
        FailedAuths::of(&app.admin.audit_events(&actor, &filter).await?)
    } else {
        FailedAuths::default()
    };
    Ok(AccountPage {
        secret_expiry: super::accounts::secret_expiry(
            &account,
            &app.admin.policies_in_force(),
            now,
        ),
        failed,
        lifetime: super::when::duration_words(account.token_lifetime_secs),
        chrome: console.chrome(),
        section: "service-accounts",
        created: When::at(account.created_at, now),
        last_used: account.last_used_at.map(|t| When::at(t, now)),
        previous: match (&account.old_client_id, account.old_expires_at) {
            (Some(old), Some(t)) if t > now => Some((old.clone(), When::at(t, now))),
            _ => None,
        },
        token_url: app.admin.token_url().to_owned(),
        roles: all_roles
            .into_iter()
            .filter(|r| role_ids.contains(&r.id))
            .collect(),
        groups: app.admin.account_groups(&actor, id).await?,
        permissions: app.admin.permission_sources(&actor, id).await?,
        access: super::bindings::section(app, &actor, id).await?,
        tokens: super::personal_tokens::section(app, &actor, id).await?,
        events,
        sessions: app
            .admin
            .account_sessions(&actor, id)
            .await?
            .into_iter()
            .map(|s| SessionView {
                issued: When::at(s.issued_at, now),
                expires: When::at(s.expires_at, now),
                scope: s.scope,
                source: s.source,
                jti: s.jti,
            })
            .collect(),
        csrf: console.session.csrf_token.clone(),
        form_id: super::form_id(),
        can_write: console.session.can(SERVICE_ACCOUNTS_WRITE),
        can_audit: actor.can(AUDIT_READ),
        notice,
        notice_at: String::new(),
        keys: super::keys::key_views(app, &actor, id).await?,
        key_error: None,
        a: account,
    })
}

/// `GET /settings/service-accounts/{id}`, with the notice of the change just made, shown
/// where it was made.
pub async fn show_service_account(
    State(app): State<AppState>,
    console: Console,
    PlacedFlash(flash): PlacedFlash,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let (place, notice) = flash.map_or((String::new(), None), |(p, n)| (p, Some(n)));
    let mut page = account_page(&app, &console, &id, notice).await?;
    page.notice_at = place;
    Ok(page.into_response())
}

/// The edit form.
#[derive(Template, WebTemplate)]
#[template(path = "console/edit.html")]
pub struct EditPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    id: String,
    original_name: String,
    name: String,
    description: String,
    /// The lifetime's amount and unit (`seconds`, `minutes` or `hours`).
    lifetime: String,
    unit: String,
    roles: Vec<RoleChoice>,
    groups: Vec<RoleChoice>,
    error: Option<String>,
}

/// Every group as a checkbox (its roles shown as its "permissions"), `checked` ticked.
pub(crate) async fn group_choices(
    app: &AppState,
    actor: &crate::domain::audit::Actor,
    checked: &[String],
) -> Result<Vec<RoleChoice>, ConsoleError> {
    Ok(app
        .admin
        .list_groups(actor)
        .await?
        .into_iter()
        .map(|g| RoleChoice {
            checked: checked.contains(&g.id),
            permissions: g.roles.into_iter().map(|r| r.name).collect(),
            id: g.id,
            name: g.name,
            description: g.description,
            api: String::new(),
        })
        .collect())
}

/// `GET /settings/service-accounts/{id}/edit`.
pub async fn edit_service_account(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let actor = console.session.actor(&console.source);
    let s = app.admin.get_account(&actor, &id).await?;
    let checked: Vec<String> = s.roles.iter().map(|r| r.id.clone()).collect();
    let roles = RoleChoice::all(app.admin.list_roles(&actor).await?, &checked);
    let in_groups: Vec<String> = app
        .admin
        .account_groups(&actor, &id)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    let groups = group_choices(&app, &actor, &in_groups).await?;
    let (lifetime, unit) = super::when::amount_and_unit(s.account.token_lifetime_secs);
    Ok(EditPage {
        lifetime,
        unit: unit.to_owned(),
        chrome: console.chrome(),
        section: "service-accounts",
        csrf: console.session.csrf_token.clone(),
        original_name: s.account.name.clone(),
        name: s.account.name,
        description: s.account.description,
        roles,
        groups,
        error: None,
        id,
    }
    .into_response())
}

/// `POST /settings/service-accounts/{id}/edit`.
pub async fn save_service_account(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let actor = console.session.actor(&console.source);
    let name = form.get("name").unwrap_or_default().to_owned();
    let description = form.get("description").unwrap_or_default().to_owned();
    // The lifetime comes as an amount and a unit (or, from older forms, in seconds).
    let (lifetime_text, unit) = match form.get("lifetime_amount") {
        Some(a) => (a.to_owned(), form.get("lifetime_unit").unwrap_or("seconds")),
        None => (
            form.get("token_lifetime_secs")
                .unwrap_or_default()
                .to_owned(),
            "seconds",
        ),
    };
    let unit = if super::when::unit_seconds(unit).is_some() {
        unit
    } else {
        "seconds"
    };
    let role_ids = form.all("role");
    let group_ids = form.all("group");
    let lifetime = lifetime_text
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(super::when::unit_seconds(unit).unwrap_or(1)))
        .ok_or_else(|| {
            crate::domain::ValidationError::new(
                "token_lifetime_secs",
                "Token lifetime must be a whole number (of seconds, minutes or hours).",
            )
        });
    let result = match lifetime {
        Ok(secs) => {
            app.admin
                .update_account(
                    &actor,
                    &id,
                    UpdateAccount {
                        name: Some(name.clone()),
                        description: Some(description.clone()),
                        token_lifetime_secs: Some(secs),
                        role_ids: Some(role_ids.clone()),
                        groups: Some(group_ids.clone()),
                        ..UpdateAccount::default()
                    },
                )
                .await
        }
        Err(e) => Err(e.into()),
    };
    let message = match result {
        Ok(_) => {
            return Ok(redirect_with_notice(&account_url(&id), "Changes saved."));
        }
        Err(e) => super::form_error(e)?,
    };
    let current = app.admin.get_account(&actor, &id).await?;
    let roles = RoleChoice::all(app.admin.list_roles(&actor).await?, &role_ids);
    let groups = group_choices(&app, &actor, &group_ids).await?;
    let page = EditPage {
        chrome: console.chrome(),
        section: "service-accounts",
        csrf: console.session.csrf_token.clone(),
        original_name: current.account.name,
        name,
        description,
        lifetime: lifetime_text,
        unit: unit.to_owned(),
        roles,
        groups,
        error: Some(message),
        id,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// The regenerate confirmation.
#[derive(Template, WebTemplate)]
#[template(path = "console/regenerate.html")]
pub struct RegeneratePage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    /// This rendering's id, so a reload of the new keys cannot regenerate them again.
    form_id: String,
    id: String,
    name: String,
    /// The chosen option: seconds, or `custom`.
    choice: String,
    /// The custom grace period as typed, and its unit (`minutes` or `hours`).
    amount: String,
    unit: String,
    error: Option<String>,
}

impl RegeneratePage {
    fn new(console: &Console, id: String, name: String) -> Self {
        Self {
            chrome: console.chrome(),
            section: "service-accounts",
            csrf: console.session.csrf_token.clone(),
            form_id: super::form_id(),
            id,
            name,
            choice: "0".to_owned(),
            amount: String::new(),
            unit: "minutes".to_owned(),
            error: None,
        }
    }
}

/// The grace period a regenerate form asks for, in seconds: one of the offered choices,
/// or a custom amount of minutes or hours.
fn grace_seconds(form: &FormFields) -> Result<i64, String> {
    match form.get("grace_period_seconds").unwrap_or("0") {
        "custom" => {
            let amount = form.get("grace_amount").unwrap_or_default().trim();
            let per = match form.get("grace_unit") {
                Some("hours") => 3_600,
                _ => 60,
            };
            amount
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .and_then(|n| n.checked_mul(per))
                .ok_or_else(|| "Type the grace period as a whole number above 0.".to_owned())
        }
        other => other
            .trim()
            .parse::<i64>()
            .map_err(|_| "Choose when the current keys stop working.".to_owned()),
    }
}

/// `GET /settings/service-accounts/{id}/regenerate`.
pub async fn confirm_regenerate(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let s = app
        .admin
        .get_account(&console.session.actor(&console.source), &id)
        .await?;
    Ok(RegeneratePage::new(&console, id, s.account.name).into_response())
}

/// `POST /settings/service-accounts/{id}/regenerate`: the new keys, shown once, with the
/// same downloads as the wizard's last step.
pub async fn regenerate_keys(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    let back = format!("/settings/service-accounts/{id}");
    let sent = console
        .claim_form(&app, &form, &format!("{back}/regenerate"), &back)
        .await?;
    let result = match grace_seconds(&form) {
        Ok(grace) => app
            .admin
            .regenerate_credentials(&actor, &id, grace)
            .await
            .map_err(super::form_error),
        Err(message) => Err(Ok(message)),
    };
    let creds = match result {
        Ok(creds) => creds,
        Err(Err(e)) => {
            sent.refused(&app).await;
            return Err(e);
        }
        Err(Ok(message)) => {
            sent.refused(&app).await;
            let s = app.admin.get_account(&actor, &id).await?;
            let mut page = RegeneratePage::new(&console, id, s.account.name);
            page.choice = form.get("grace_period_seconds").unwrap_or("0").to_owned();
            page.amount = form.get("grace_amount").unwrap_or_default().to_owned();
            page.unit = form.get("grace_unit").unwrap_or("minutes").to_owned();
            page.error = Some(message);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let mut page = CredentialsPage::new(&console, &creds)?;
    page.retitle(None, format!("New client keys for {}", creds.name));
    Ok(page.into_response())
}

/// The delete confirmation.
#[derive(Template, WebTemplate)]
#[template(path = "console/delete.html")]
pub struct DeletePage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    id: String,
    name: String,
    error: Option<String>,
}

/// `GET /settings/service-accounts/{id}/delete`.
pub async fn confirm_delete(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let s = app
        .admin
        .get_account(&console.session.actor(&console.source), &id)
        .await?;
    Ok(DeletePage {
        chrome: console.chrome(),
        section: "service-accounts",
        csrf: console.session.csrf_token.clone(),
        id,
        name: s.account.name,
        error: None,
    }
    .into_response())
}

/// `POST /settings/service-accounts/{id}/delete`: deletes when the typed name matches.
pub async fn delete_service_account(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let actor = console.session.actor(&console.source);
    let s = app.admin.get_account(&actor, &id).await?;
    if form.get("confirm_name").map(str::trim) != Some(s.account.name.as_str()) {
        let page = DeletePage {
            chrome: console.chrome(),
            section: "service-accounts",
            csrf: console.session.csrf_token.clone(),
            id,
            name: s.account.name,
            error: Some("The name you typed does not match; nothing was deleted.".into()),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    app.admin.delete_account(&actor, &id).await?;
    Ok(redirect_with_notice(
        "/settings/service-accounts",
        &format!("{} deleted.", s.account.name),
    ))
}

/// `POST /settings/service-accounts/{id}/sessions/revoke`: revokes one token.
pub async fn revoke_session(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let jti = form.get("jti").unwrap_or_default().to_owned();
    app.admin
        .revoke_session(&console.session.actor(&console.source), &id, &jti)
        .await?;
    Ok(redirect_with_notice_at(
        &account_url(&id),
        "sessions",
        "Token revoked.",
    ))
}

/// The "Revoke all" confirmation, listing the tokens that will stop working.
#[derive(Template, WebTemplate)]
#[template(path = "console/revoke_all.html")]
pub struct RevokeAllPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    id: String,
    name: String,
    sessions: Vec<SessionView>,
}

/// `GET /settings/service-accounts/{id}/sessions/revoke-all`: what "Revoke all" ends, to
/// confirm (the page a plain form reaches; with scripts the same page is shown).
pub async fn confirm_revoke_all(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let actor = console.session.actor(&console.source);
    let s = app.admin.get_account(&actor, &id).await?;
    let now = crate::domain::now_ms();
    let sessions = app
        .admin
        .account_sessions(&actor, &id)
        .await?
        .into_iter()
        .map(|s| SessionView {
            issued: When::at(s.issued_at, now),
            expires: When::at(s.expires_at, now),
            scope: s.scope,
            source: s.source,
            jti: s.jti,
        })
        .collect();
    Ok(RevokeAllPage {
        chrome: console.chrome(),
        section: "service-accounts",
        csrf: console.session.csrf_token.clone(),
        name: s.account.name,
        sessions,
        id,
    }
    .into_response())
}

/// `POST /settings/service-accounts/{id}/sessions/revoke-all`.
pub async fn revoke_all_sessions(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    app.admin
        .revoke_all_sessions(&console.session.actor(&console.source), &id)
        .await?;
    Ok(redirect_with_notice_at(
        &account_url(&id),
        "sessions",
        "Every token of this account was revoked.",
    ))
}

/// The account page's address (`id` as the router matched it, so it is path-safe).
fn account_url(id: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/settings/service-accounts/{id}")
}
