//! The Personal tokens section of an account's page (issue 12): make one (name, expiry,
//! permissions of one API), shown once with a copy button; the list; delete with
//! confirmation. Every form works without JavaScript; the operations behind them check the
//! permission and the takeover rule.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::account::account_page;
use super::when::When;
use super::{Chrome, Console, ConsoleError, FormFields, form_error, redirect_with_notice_at};
use crate::admin::personal_tokens::NewPersonalToken;
use crate::app::AppState;
use crate::domain::audit::Actor;
use crate::domain::now_ms;

/// Days a new personal token lives unless the form says otherwise.
pub const DEFAULT_DAYS: i64 = 30;

/// Where on the account page this section's notices show.
const PLACE: &str = "personal-tokens";

/// A personal token as listed (never its value).
pub struct TokenView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) prefix: String,
    /// Its permissions ("" for none).
    pub(crate) scope: String,
    /// The API it is for, by name.
    pub(crate) api: String,
    pub(crate) created: When,
    pub(crate) expires: When,
    pub(crate) expired: bool,
    pub(crate) last_used: Option<When>,
}

/// One permission the account holds, offered as a checkbox.
pub struct PermissionChoice {
    /// The checkbox's value: the API's identifier and the permission, space-separated.
    pub(crate) value: String,
    pub(crate) permission: String,
    pub(crate) checked: bool,
}

/// The permissions the account holds for one API.
pub struct ApiChoice {
    pub(crate) api: String,
    pub(crate) permissions: Vec<PermissionChoice>,
}

/// What the Personal tokens section shows.
pub struct TokensSection {
    pub(crate) tokens: Vec<TokenView>,
    pub(crate) choices: Vec<ApiChoice>,
    /// The longest lifetime, in days, by policy (`None`: no limit; 0: new ones are off).
    pub(crate) max_days: Option<i64>,
    /// The form as typed (kept when refused).
    pub(crate) name: String,
    pub(crate) days: String,
    /// Why the last create was refused, shown in the section.
    pub(crate) error: Option<String>,
}

/// The Personal tokens section of account `id`, with the form empty.
pub(crate) async fn section(
    app: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<TokensSection, ConsoleError> {
    let max_days = app.admin.policies_in_force().max_personal_token_days;
    let apis = app.admin.list_apis(actor).await?;
    let api_of = |api_id: &str| apis.iter().find(|a| a.id == api_id);
    let now = now_ms();
    let tokens = app
        .admin
        .list_personal_tokens(actor, id)
        .await?
        .into_iter()
        .map(|t| TokenView {
            api: api_of(&t.api_id).map_or_else(|| t.api_id.clone(), |a| a.name.clone()),
            created: When::at(t.created_at, now),
            expires: When::at(t.expires_at, now),
            expired: t.expires_at <= now,
            last_used: t.last_used_at.map(|l| When::at(l, now)),
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            scope: t.scope,
        })
        .collect();
    // What the account holds, per API (at the root or at any node: a token may carry a
    // permission held below the root, which travels in its authorization details).
    let mut choices: Vec<ApiChoice> = Vec::new();
    for e in app.admin.effective_permissions(actor, id).await? {
        let Some(api) = api_of(&e.api_id) else {
            continue;
        };
        let value = format!("{} {}", api.identifier, e.permission);
        let at = match choices.iter().position(|c| c.api == api.name) {
            Some(i) => i,
            None => {
                choices.push(ApiChoice {
                    api: api.name.clone(),
                    permissions: Vec::new(),
                });
                choices.len() - 1
            }
        };
        if !choices[at].permissions.iter().any(|p| p.value == value) {
            choices[at].permissions.push(PermissionChoice {
                value,
                permission: e.permission,
                checked: false,
            });
        }
    }
    Ok(TokensSection {
        tokens,
        choices,
        max_days,
        name: String::new(),
        days: max_days
            .map_or(DEFAULT_DAYS, |m| m.clamp(1, DEFAULT_DAYS))
            .to_string(),
        error: None,
    })
}

impl TokensSection {
    /// The section showing `error`, with the form as it was sent.
    fn refused(mut self, form: &FormFields, error: String) -> Self {
        let ticked = form.all("permission");
        for c in &mut self.choices {
            for p in &mut c.permissions {
                p.checked = ticked.contains(&p.value);
            }
        }
        self.name = form.get("name").unwrap_or_default().to_owned();
        self.days = form.get("expires_in_days").unwrap_or_default().to_owned();
        self.error = Some(error);
        self
    }
}

/// The API and scope the ticked permissions ask for: none ticked is everything the account
/// holds for its default API; permissions of two APIs are refused (a token is for one API).
fn wanted(form: &FormFields) -> Result<(Option<String>, Option<String>), String> {
    let mut resource: Option<String> = None;
    let mut scope = Vec::new();
    for v in form.all("permission") {
        let Some((api, permission)) = v.split_once(' ') else {
            return Err("Choose the permissions from the list.".to_owned());
        };
        match &resource {
            Some(r) if r != api => {
                return Err(
                    "A personal token is for one API: tick permissions of one API only.".into(),
                );
            }
            _ => resource = Some(api.to_owned()),
        }
        scope.push(permission.to_owned());
    }
    Ok((resource, (!scope.is_empty()).then(|| scope.join(" "))))
}

/// The one-time page of a new personal token.
#[derive(Template, WebTemplate)]
#[template(path = "console/personal_token_created.html")]
pub struct TokenCreatedPage {
    chrome: Option<Chrome>,
    section: &'static str,
    account_id: String,
    account_name: String,
    name: String,
    token: String,
    scope: String,
    expires: When,
}

/// `POST /settings/service-accounts/{id}/personal-tokens`: makes a personal token and shows
/// it this once (`no-store`); a refusal shows in the section, with what was typed.
pub async fn create_personal_token(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    let back = format!("/settings/service-accounts/{id}");
    let sent = console
        .claim_form(&app, &form, &format!("{back}/personal-tokens"), &back)
        .await?;
    let days = form.get("expires_in_days").unwrap_or_default().trim();
    let result = match (wanted(&form), days.parse::<i64>()) {
        (Err(m), _) => Err(Ok(m)),
        (_, Err(_)) => Err(Ok(
            match app.admin.policies_in_force().max_personal_token_days {
                Some(max) => {
                    format!("Type how many days it lives, a whole number from 1 to {max}.")
                }
                None => "Type how many days it lives, a whole number from 1.".to_owned(),
            },
        )),
        (Ok((resource, scope)), Ok(days)) => app
            .admin
            .create_personal_token(
                &actor,
                &id,
                NewPersonalToken {
                    name: form.get("name").unwrap_or_default().to_owned(),
                    expires_in_days: Some(days),
                    scope,
                    resource,
                },
            )
            .await
            .map_err(form_error),
    };
    let made = match result {
        Ok(made) => made,
        Err(Err(e)) => {
            sent.refused(&app).await;
            return Err(e);
        }
        Err(Ok(message)) => {
            sent.refused(&app).await;
            let section = section(&app, &actor, &id).await?.refused(&form, message);
            let page = account_page(&app, &console, &id, None)
                .await?
                .with_tokens(section);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let account = app.admin.get_account(&actor, &id).await?;
    let page = TokenCreatedPage {
        chrome: console.chrome(),
        section: "service-accounts",
        account_id: id,
        account_name: account.account.name,
        name: made.row.name.clone(),
        scope: made.row.scope.clone(),
        expires: When::of(made.row.expires_at),
        token: made.token.clone(),
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], page).into_response())
}

/// The delete confirmation (the shared template).
#[derive(Template, WebTemplate)]
#[template(path = "console/confirm_delete.html")]
pub struct ConfirmDeleteTokenPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    name: String,
    consequence: String,
    action: String,
    back: String,
}

/// `GET /settings/service-accounts/{id}/personal-tokens/{tid}/delete`.
pub async fn confirm_delete_personal_token(
    State(app): State<AppState>,
    console: Console,
    Path((id, tid)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    console.require(crate::domain::permission::SERVICE_ACCOUNTS_WRITE)?;
    let actor = console.session.actor(&console.source);
    let account = app.admin.get_account(&actor, &id).await?;
    let Some(token) = app
        .admin
        .list_personal_tokens(&actor, &id)
        .await?
        .into_iter()
        .find(|t| t.id == tid)
    else {
        return Err(ConsoleError::NotFound(
            "That personal token does not exist.".into(),
        ));
    };
    Ok(ConfirmDeleteTokenPage {
        chrome: console.chrome(),
        section: "service-accounts",
        csrf: console.session.csrf_token.clone(),
        name: format!("the personal token \u{201c}{}\u{201d}", token.name),
        consequence: format!(
            "The token {}… of {} stops working at once, on every instance. Whoever uses it \
             needs a new one.",
            token.prefix, account.account.name
        ),
        action: format!("/settings/service-accounts/{id}/personal-tokens/{tid}/delete"),
        back: format!("/settings/service-accounts/{id}#{PLACE}"),
    }
    .into_response())
}

/// `POST /settings/service-accounts/{id}/personal-tokens/{tid}/delete`: deletes it, then back
/// to the section with a notice (a refusal shows there too).
pub async fn delete_personal_token(
    State(app): State<AppState>,
    console: Console,
    Path((id, tid)): Path<(String, String)>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    let back = format!(
        "/settings/service-accounts/{}",
        form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    );
    let notice = match app.admin.delete_personal_token(&actor, &id, &tid).await {
        Ok(()) => "Personal token deleted.".to_owned(),
        Err(e) => form_error(e)?,
    };
    Ok(redirect_with_notice_at(&back, PLACE, &notice))
}

#[cfg(test)]
mod tests {
    use super::{FormFields, wanted};

    fn form(pairs: &[(&str, &str)]) -> FormFields {
        FormFields(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn nothing_ticked_asks_for_the_default_api_and_everything() {
        assert_eq!(wanted(&form(&[])), Ok((None, None)));
    }

    #[test]
    fn ticked_permissions_of_one_api_become_its_resource_and_scope() {
        let f = form(&[
            ("permission", "https://a/api x:read"),
            ("permission", "https://a/api x:write"),
        ]);
        assert_eq!(
            wanted(&f),
            Ok((
                Some("https://a/api".to_owned()),
                Some("x:read x:write".to_owned())
            ))
        );
    }

    #[test]
    fn permissions_of_two_apis_are_refused() {
        let f = form(&[
            ("permission", "https://a/api x:read"),
            ("permission", "https://b/api y:read"),
        ]);
        assert!(wanted(&f).is_err());
    }
}
