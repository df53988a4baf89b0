//! Settings → Service Accounts: the list and the add-account wizard.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::when::When;
use super::{Chrome, Console, ConsoleError, Flash, FormFields};
use crate::admin::AdminError;
use crate::admin::accounts::{CreateAccount, IssuedCredentials};
use crate::app::AppState;
use crate::domain::account::{AccountName, Description};
use crate::domain::permission::SERVICE_ACCOUNTS_WRITE;
use crate::store::accounts::{AccountSummary, ListFilter};

/// Accounts per page.
pub const PAGE_SIZE: i64 = 50;

/// One row of the list, ready to show.
pub struct AccountRowView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) client_id: String,
    pub(crate) roles: String,
    pub(crate) enabled: bool,
    pub(crate) created: When,
    pub(crate) last_used: Option<When>,
    /// What the toggle just did, shown in the row with an Undo ("billing disabled").
    pub(crate) notice: Option<String>,
}

impl From<&AccountSummary> for AccountRowView {
    fn from(s: &AccountSummary) -> Self {
        Self {
            id: s.account.id.clone(),
            name: s.account.name.clone(),
            description: s.account.description.clone(),
            client_id: s.account.client_id.clone(),
            roles: if s.roles.is_empty() {
                "—".to_owned()
            } else {
                s.roles
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            enabled: s.account.enabled,
            created: When::of(s.account.created_at),
            last_used: s.account.last_used_at.map(When::of),
            notice: None,
        }
    }
}

/// The list page.
#[derive(Template, WebTemplate)]
#[template(path = "console/service_accounts.html")]
pub struct ServiceAccountsPage {
    chrome: Option<Chrome>,
    section: &'static str,
    token_url: String,
    notice: Option<String>,
    table: ServiceAccountsTablePartial,
}

/// The table, swapped alone when the search box changes.
#[derive(Template, WebTemplate)]
#[template(path = "console/service_accounts_table_partial.html")]
pub struct ServiceAccountsTablePartial {
    rows: Vec<AccountRowView>,
    csrf: String,
    q: String,
    /// The status filter (`enabled`, `disabled` or empty), sent back by the toggle.
    status: String,
    /// The cursor of this page (empty on the first), sent back by the toggle.
    after: String,
    paged: bool,
    can_write: bool,
    first_url: String,
    next_url: Option<String>,
}

/// Query of the list page.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    /// `enabled`, `disabled`, or empty for every account.
    #[serde(default)]
    status: String,
    after: Option<String>,
}

/// The status filter's value as the list understands it: `enabled`, `disabled` or "".
pub(crate) fn status_filter(status: &str) -> &'static str {
    match status.trim() {
        "enabled" => "enabled",
        "disabled" => "disabled",
        _ => "",
    }
}

/// The list's address for a search, a status filter and a page.
pub(crate) fn list_url(q: &str, status: &str, after: Option<&str>) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        ser.append_pair("q", q);
    }
    let status = status_filter(status);
    if !status.is_empty() {
        ser.append_pair("status", status);
    }
    if let Some(a) = after {
        ser.append_pair("after", a);
    }
    let query = ser.finish();
    if query.is_empty() {
        "/settings/service-accounts".to_owned()
    } else {
        format!("/settings/service-accounts?{query}")
    }
}

/// `GET /settings/service-accounts`: search by name (or find one account by its exact
/// client ID or id), filter by status, pages of 50 (keyset, not OFFSET).
pub async fn list_service_accounts(
    State(app): State<AppState>,
    console: Console,
    Flash(notice): Flash,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let actor = console.session.actor(&console.source);
    let q = query.q.trim().to_owned();
    crate::web::limits::search_text("q", &q)
        .map_err(|e| ConsoleError::BadRequest(e.sentence("search text")))?;
    let status = status_filter(&query.status);
    let enabled = match status {
        "enabled" => Some(true),
        "disabled" => Some(false),
        _ => None,
    };
    let after = query.after.as_deref().and_then(ListFilter::parse_cursor);
    // A client ID or account id from a log line finds its account, whatever its name.
    let exact = if q.is_empty() || after.is_some() {
        None
    } else {
        match app.admin.find_account(&actor, &q).await {
            Ok(s)
                if (s.account.client_id == q || s.account.id == q)
                    && enabled.is_none_or(|e| e == s.account.enabled) =>
            {
                Some(s)
            }
            Ok(_) | Err(AdminError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        }
    };
    let (page, more) = match exact {
        Some(s) => (vec![s], false),
        None => {
            let filter = ListFilter {
                q: q.clone(),
                enabled,
                after: after.clone(),
                limit: PAGE_SIZE + 1,
            };
            let mut page = app.admin.list_accounts(&actor, &filter).await?;
            let more = page.len() > usize::try_from(PAGE_SIZE).unwrap_or(50);
            page.truncate(usize::try_from(PAGE_SIZE).unwrap_or(50));
            (page, more)
        }
    };
    let next_url = more
        .then(|| page.last())
        .flatten()
        .map(|s| list_url(&q, status, Some(&ListFilter::cursor_after(&s.account))));
    let table = ServiceAccountsTablePartial {
        rows: page.iter().map(AccountRowView::from).collect(),
        csrf: console.session.csrf_token.clone(),
        paged: after.is_some(),
        can_write: console.session.can(SERVICE_ACCOUNTS_WRITE),
        first_url: list_url(&q, status, None),
        status: status.to_owned(),
        next_url,
        after: if after.is_some() {
            query.after.clone().unwrap_or_default()
        } else {
            String::new()
        },
        q,
    };
    let htmx_table = headers
        .get("hx-target")
        .is_some_and(|v| v.as_bytes() == b"accounts-table");
    Ok(if htmx_table {
        table.into_response()
    } else {
        ServiceAccountsPage {
            chrome: console.chrome(),
            section: "service-accounts",
            token_url: app.admin.token_url().to_owned(),
            notice,
            table,
        }
        .into_response()
    })
}

/// Step 1 of the wizard.
#[derive(Template, WebTemplate)]
#[template(path = "console/wizard_details.html")]
pub struct WizardDetailsPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    name: String,
    description: String,
    name_error: Option<String>,
    description_error: Option<String>,
    auth: AuthChoice,
    key_error: Option<String>,
    /// (id, name, identifier) of every API but keygate's own, for the product select.
    apis: Vec<(String, String, String)>,
}

/// How a new account will authenticate, as chosen in step 1 and carried through step 2.
#[derive(Debug, Clone, Default)]
pub struct AuthChoice {
    /// `private_key_jwt` chosen (else a client secret).
    pub(crate) key: bool,
    /// "Generate a key pair for me" chosen (else a pasted key).
    pub(crate) generate: bool,
    /// The pasted public key (PEM or JWK).
    pub(crate) public_key: String,
    /// The API chosen as the account's product ("" for none).
    pub(crate) product: String,
}

impl AuthChoice {
    /// The choice sent by a wizard form.
    fn of(form: &FormFields) -> Self {
        Self {
            key: form.get("auth") == Some("private_key_jwt"),
            generate: form.get("key_source") == Some("generate"),
            public_key: form.get("public_key").unwrap_or_default().trim().to_owned(),
            product: form.get("api").unwrap_or_default().trim().to_owned(),
        }
    }

    /// The keys to create the account with (`None` for a client secret).
    fn source(&self) -> Option<crate::admin::keys::KeySource> {
        match (self.key, self.generate) {
            (false, _) => None,
            (true, true) => Some(crate::admin::keys::KeySource::Generate),
            (true, false) => Some(super::keys::pasted_key(&self.public_key)),
        }
    }
}

/// A role offered as a checkbox (wizard step 2, edit page).
pub struct RoleChoice {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) permissions: Vec<String>,
    pub(crate) checked: bool,
    /// The id of the role's API.
    pub(crate) api: String,
}

impl RoleChoice {
    /// Every role, with those in `checked` ticked.
    pub fn all(roles: Vec<crate::store::roles::RoleRow>, checked: &[String]) -> Vec<Self> {
        roles
            .into_iter()
            .map(|r| Self {
                checked: checked.contains(&r.id),
                id: r.id,
                name: r.name,
                description: r.description,
                permissions: r.permissions,
                api: r.api_id,
            })
            .collect()
    }
}

/// Step 2 of the wizard.
#[derive(Template, WebTemplate)]
#[template(path = "console/wizard_roles.html")]
pub struct WizardRolesPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    name: String,
    description: String,
    roles: Vec<RoleChoice>,
    error: Option<String>,
    auth: AuthChoice,
    /// (id, name) of every API.
    api_names: Vec<(String, String)>,
    /// The chosen product's name.
    product_name: Option<String>,
}

impl WizardRolesPage {
    /// The name of API `id`.
    fn api_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.api_names
            .iter()
            .find(|(i, _)| i == id)
            .map_or(id, |(_, n)| n.as_str())
    }
}

/// Step 3 of the wizard (also shown after regenerating keys): the secret, this once.
#[derive(Template, WebTemplate)]
#[template(path = "console/wizard_credentials.html")]
pub struct CredentialsPage {
    chrome: Option<Chrome>,
    section: &'static str,
    step: Option<&'static str>,
    heading: String,
    client_id: String,
    client_secret: String,
    access_token_uri: String,
    json_href: String,
    json_filename: String,
    csv_href: String,
    csv_filename: String,
    /// For a `private_key_jwt` account: its key's id (no secret exists).
    key_id: Option<String>,
    /// For a generated key: the key file, as a `data:` link, and its file name.
    key_file: Option<(String, String)>,
}

/// The downloads' file name stem: the account name with anything unusual replaced.
pub(crate) fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let stem = stem.trim_matches(['-', '.']).to_owned();
    if stem.is_empty() {
        "service-account".to_owned()
    } else {
        stem
    }
}

/// The credentials as a JSON document: `{"name","client_id","client_secret","access_token_uri"}`.
pub fn credentials_json(c: &IssuedCredentials) -> String {
    serde_json::json!({
        "name": c.name,
        "client_id": c.client_id,
        "client_secret": c.secret(),
        "access_token_uri": c.access_token_uri,
    })
    .to_string()
}

/// The credentials as CSV: a header and one row, quoted by the csv crate.
pub fn credentials_csv(c: &IssuedCredentials) -> Result<String, ConsoleError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| ConsoleError::Internal(e.to_string());
    w.write_record(["name", "client_id", "client_secret", "access_token_uri"])
        .map_err(internal)?;
    w.write_record(
        [
            c.name.as_str(),
            c.client_id.as_str(),
            c.secret(),
            c.access_token_uri.as_str(),
        ]
        .map(|cell| crate::domain::csv_cell(cell).into_owned()),
    )
    .map_err(internal)?;
    let bytes = w
        .into_inner()
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ConsoleError::Internal(e.to_string()))
}

impl CredentialsPage {
    /// Changes the step label and heading (the page also follows a key regeneration).
    pub fn retitle(&mut self, step: Option<&'static str>, heading: String) {
        self.step = step;
        self.heading = heading;
    }

    /// The page for freshly issued credentials. The downloads are built into the page as
    /// `data:` links, so the secret is never kept anywhere on the server.
    pub fn new(console: &Console, c: &IssuedCredentials) -> Result<Self, ConsoleError> {
        let stem = file_stem(&c.name);
        Ok(Self {
            chrome: console.chrome(),
            section: "service-accounts",
            step: Some("Step 3 of 3"),
            heading: format!("Credentials for {}", c.name),
            client_id: c.client_id.clone(),
            client_secret: c.secret().to_owned(),
            access_token_uri: c.access_token_uri.clone(),
            json_href: format!(
                "data:application/json;base64,{}",
                STANDARD.encode(credentials_json(c))
            ),
            json_filename: format!("{stem}-credentials.json"),
            csv_href: format!(
                "data:text/csv;charset=utf-8;base64,{}",
                STANDARD.encode(credentials_csv(c)?)
            ),
            csv_filename: format!("{stem}-credentials.csv"),
            key_id: (c.client_secret.is_none()).then(|| {
                c.keys
                    .iter()
                    .map(|k| k.kid.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            key_file: c.key_file.as_ref().map(|f| {
                (
                    format!(
                        "data:application/json;base64,{}",
                        STANDARD.encode(f.to_json().to_string())
                    ),
                    format!("{stem}-key.json"),
                )
            }),
        })
    }
}

fn details_page(
    console: &Console,
    name: &str,
    description: &str,
    auth: &AuthChoice,
) -> WizardDetailsPage {
    WizardDetailsPage {
        chrome: console.chrome(),
        section: "service-accounts",
        csrf: console.session.csrf_token.clone(),
        name: name.to_owned(),
        description: description.to_owned(),
        name_error: None,
        description_error: None,
        auth: auth.clone(),
        key_error: None,
        apis: Vec::new(),
    }
}

/// Step 1 with the APIs offered as the account's product.
async fn details_page_with_apis(
    app: &AppState,
    console: &Console,
    name: &str,
    description: &str,
    auth: &AuthChoice,
) -> Result<WizardDetailsPage, ConsoleError> {
    let mut page = details_page(console, name, description, auth);
    page.apis = app
        .admin
        .list_apis(&console.session.actor(&console.source))
        .await?
        .into_iter()
        .filter(|a| !a.builtin)
        .map(|a| (a.id, a.name, a.identifier))
        .collect();
    Ok(page)
}

/// `GET /settings/service-accounts/new`: step 1.
pub async fn new_service_account(
    State(app): State<AppState>,
    console: Console,
) -> Result<Response, ConsoleError> {
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    Ok(
        details_page_with_apis(&app, &console, "", "", &AuthChoice::default())
            .await?
            .into_response(),
    )
}

async fn roles_page(
    app: &AppState,
    console: &Console,
    name: &str,
    description: &str,
    checked: &[String],
    error: Option<String>,
    auth: &AuthChoice,
) -> Result<WizardRolesPage, ConsoleError> {
    let actor = console.session.actor(&console.source);
    let apis = app.admin.list_apis(&actor).await?;
    // With a product, only its roles can be given; otherwise every role, by API.
    let mut roles: Vec<_> = app
        .admin
        .list_roles(&actor)
        .await?
        .into_iter()
        .filter(|r| auth.product.is_empty() || r.api_id == auth.product)
        .collect();
    roles.sort_by_key(|r| {
        (
            r.api_id != crate::domain::access::KEYGATE_API_ID,
            r.api_id.clone(),
        )
    });
    let api_names = apis
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    let product_name = apis
        .iter()
        .find(|a| a.id == auth.product)
        .map(|a| a.name.clone());
    Ok(WizardRolesPage {
        api_names,
        product_name,
        chrome: console.chrome(),
        section: "service-accounts",
        csrf: console.session.csrf_token.clone(),
        name: name.to_owned(),
        description: description.to_owned(),
        roles: RoleChoice::all(roles, checked),
        error,
        auth: auth.clone(),
    })
}

/// `POST /settings/service-accounts/new`: moves the wizard along. `step=roles` checks step
/// 1 and shows the roles; `step=details` goes back to step 1 with what was typed;
/// `step=create` adds the account and shows its credentials once.
pub async fn add_service_account_step(
    State(app): State<AppState>,
    console: Console,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let name = form.get("name").unwrap_or_default().to_owned();
    let description = form.get("description").unwrap_or_default().to_owned();
    let role_ids = form.all("role");
    let auth = AuthChoice::of(&form);
    match form.get("step") {
        Some("details") => Ok(
            details_page_with_apis(&app, &console, &name, &description, &auth)
                .await?
                .into_response(),
        ),
        Some("roles") => {
            let mut page =
                details_page_with_apis(&app, &console, &name, &description, &auth).await?;
            if let Some(source) = auth.source()
                && let Err(e) = crate::admin::keys::check_keys(&source)
            {
                page.key_error = Some(super::form_error(e)?);
            }
            match AccountName::parse(&name) {
                Err(e) => page.name_error = Some(e.message),
                Ok(n) => {
                    if app.admin.account_name_taken(&actor, n.as_ref()).await? {
                        page.name_error = Some(format!(
                            "A service account named \u{201c}{}\u{201d} already exists.",
                            n.as_ref()
                        ));
                    }
                }
            }
            if let Err(e) = Description::parse(&description) {
                page.description_error = Some(e.message);
            }
            if page.name_error.is_some()
                || page.description_error.is_some()
                || page.key_error.is_some()
            {
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
            }
            let page = roles_page(
                &app,
                &console,
                name.trim(),
                description.trim(),
                &role_ids,
                None,
                &auth,
            )
            .await?;
            Ok(page.into_response())
        }
        Some("create") => {
            let input = CreateAccount {
                name: name.clone(),
                description: description.clone(),
                role_ids: role_ids.clone(),
                product: (!auth.product.is_empty()).then(|| auth.product.clone()),
                token_lifetime_secs: None,
                keys: auth.source(),
                keys_expire_at: None,
            };
            match app.admin.create_account(&actor, input).await {
                Ok(creds) => Ok(CredentialsPage::new(&console, &creds)?.into_response()),
                Err(AdminError::Conflict { message, .. }) => {
                    let mut page =
                        details_page_with_apis(&app, &console, &name, &description, &auth).await?;
                    page.name_error = Some(message);
                    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
                }
                Err(AdminError::Invalid(v)) if v.field == "roles" => {
                    let page = roles_page(
                        &app,
                        &console,
                        &name,
                        &description,
                        &[],
                        Some(v.message),
                        &auth,
                    )
                    .await?;
                    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
                }
                Err(AdminError::Escalation(message)) => {
                    let page = roles_page(
                        &app,
                        &console,
                        &name,
                        &description,
                        &role_ids,
                        Some(message),
                        &auth,
                    )
                    .await?;
                    Ok((StatusCode::FORBIDDEN, page).into_response())
                }
                Err(AdminError::Invalid(v)) => {
                    let mut page =
                        details_page_with_apis(&app, &console, &name, &description, &auth).await?;
                    if v.field == "description" {
                        page.description_error = Some(v.message);
                    } else if ["jwks", "public_key", "expires_at"].contains(&v.field) {
                        page.key_error = Some(v.message);
                    } else {
                        page.name_error = Some(v.message);
                    }
                    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
                }
                Err(e) => Err(e.into()),
            }
        }
        _ => Err(ConsoleError::BadRequest(
            "The wizard step is missing or unknown.".into(),
        )),
    }
}
