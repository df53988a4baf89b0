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
use crate::domain::account::{AccountSummary, COUNT_CAP, ListFilter, ListSort};
use crate::domain::permission::SERVICE_ACCOUNTS_WRITE;

/// Accounts per page unless the list asks for another of [`PAGE_SIZES`].
pub const PAGE_SIZE: i64 = 50;

/// The page sizes offered.
pub const PAGE_SIZES: [i64; 3] = [25, 50, 100];

/// A role as shown in a row: its name, and the group it comes through (if not direct).
pub struct RoleShown {
    pub(crate) name: String,
    pub(crate) via: Option<String>,
}

/// One row of the list, ready to show.
pub struct AccountRowView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) client_id: String,
    pub(crate) roles: Vec<RoleShown>,
    pub(crate) enabled: bool,
    pub(crate) created: When,
    pub(crate) last_used: Option<When>,
    /// What the toggle just did, shown in the row with an Undo ("billing disabled").
    pub(crate) notice: Option<String>,
    /// Why keygate disabled it ("secret reported leaked", "unused for 30 days"), while it
    /// is disabled.
    pub(crate) disabled_reason: Option<String>,
    /// Why the toggle was just refused, shown in the row.
    pub(crate) refused: Option<String>,
    /// When its client secret expires under the credential-lifetime policy ("expires in 5
    /// days", "expired"), if it does.
    pub(crate) secret_expiry: Option<String>,
}

impl AccountRowView {
    /// The row of `s` under `policies`, seen now.
    pub(crate) fn of(s: &AccountSummary, policies: &crate::domain::policy::Policies) -> Self {
        Self {
            secret_expiry: secret_expiry(&s.account, policies, crate::domain::now_ms()),
            ..Self::from(s)
        }
    }
}

/// "expires in 5 days" / "expired": when the client secret of `a` ends under `policies`
/// (`None`: it never does, or `a` has none).
pub(crate) fn secret_expiry(
    a: &crate::domain::account::AccountRow,
    policies: &crate::domain::policy::Policies,
    now: i64,
) -> Option<String> {
    policies
        .secret_expires_at(&a.auth_method, a.secret_created_at)
        .map(|t| crate::domain::policy::expiry_text(t, now))
}

impl AccountRowView {
    /// The roles in one line, for the cell's title ("Admin, Deployer (via group ops)").
    pub(crate) fn roles_text(&self) -> String {
        self.roles
            .iter()
            .map(|r| match &r.via {
                Some(g) => format!("{} (via group {g})", r.name),
                None => r.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl From<&AccountSummary> for AccountRowView {
    fn from(s: &AccountSummary) -> Self {
        let mut roles: Vec<RoleShown> = s
            .roles
            .iter()
            .map(|r| RoleShown {
                name: r.name.clone(),
                via: None,
            })
            .collect();
        roles.extend(s.via_groups.iter().map(|(r, g)| RoleShown {
            name: r.name.clone(),
            via: Some(g.clone()),
        }));
        Self {
            id: s.account.id.clone(),
            name: s.account.name.clone(),
            description: s.account.description.clone(),
            client_id: s.account.client_id.clone(),
            roles,
            enabled: s.account.enabled,
            created: When::of(s.account.created_at),
            last_used: s.account.last_used_at.map(When::of),
            notice: None,
            disabled_reason: s
                .account
                .disabled_reason
                .clone()
                .filter(|_| !s.account.enabled),
            refused: None,
            secret_expiry: None,
        }
    }
}

/// A role offered by the list's role filter.
pub struct RoleOption {
    pub(crate) id: String,
    pub(crate) name: String,
}

/// The list page.
#[derive(Template, WebTemplate)]
#[template(path = "console/service_accounts.html")]
pub struct ServiceAccountsPage {
    chrome: Option<Chrome>,
    section: &'static str,
    token_url: String,
    notice: Option<String>,
    role_options: Vec<RoleOption>,
    table: ServiceAccountsTablePartial,
}

/// The table, swapped alone when the search box or a filter changes.
#[derive(Template, WebTemplate)]
#[template(path = "console/service_accounts_table_partial.html")]
pub struct ServiceAccountsTablePartial {
    rows: Vec<AccountRowView>,
    csrf: String,
    /// What the list shows (search, filters, order, page), kept by every link and form.
    view: ListView,
    /// Whether this is a page after the first.
    paged: bool,
    can_write: bool,
    /// "51–62 of 62".
    total: String,
    prev_url: Option<String>,
    next_url: Option<String>,
}

impl ServiceAccountsTablePartial {
    /// The header cell's `aria-sort` for `column`, if the list is ordered by it.
    fn aria_sort(&self, column: &str) -> &'static str {
        match (self.view.sort == column, self.view.dir) {
            (false, _) => "none",
            (true, "desc") => "descending",
            (true, _) => "ascending",
        }
    }
}

/// Query of the list page (and the fields the toggle sends back to keep it).
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    /// `enabled`, `disabled`, or empty for every account.
    #[serde(default)]
    status: String,
    /// A role id, or empty for every account.
    #[serde(default)]
    role: String,
    /// `name`, `created` or `last_used`.
    #[serde(default)]
    sort: String,
    /// `asc` or `desc`.
    #[serde(default)]
    dir: String,
    /// 25, 50 or 100.
    #[serde(default)]
    size: String,
    after: Option<String>,
    before: Option<String>,
}

/// The status filter's value as the list understands it: `enabled`, `disabled` or "".
pub(crate) fn status_filter(status: &str) -> &'static str {
    match status.trim() {
        "enabled" => "enabled",
        "disabled" => "disabled",
        _ => "",
    }
}

/// What the list shows: search, filters, order, page size and page, all in its address.
#[derive(Debug, Clone, Default)]
pub struct ListView {
    pub(crate) q: String,
    pub(crate) status: &'static str,
    pub(crate) role: String,
    pub(crate) sort: &'static str,
    pub(crate) dir: &'static str,
    pub(crate) size: i64,
    pub(crate) after: String,
    pub(crate) before: String,
}

impl ListView {
    /// The view a query asks for, anything unknown replaced by its default.
    pub(crate) fn of(query: &ListQuery) -> Self {
        let sort = match query.sort.trim() {
            "created" => "created",
            "last_used" => "last_used",
            _ => "name",
        };
        let dir = match query.dir.trim() {
            "asc" => "asc",
            "desc" => "desc",
            _ => Self::default_dir(sort),
        };
        let size = query
            .size
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| PAGE_SIZES.contains(n))
            .unwrap_or(PAGE_SIZE);
        let cursor = |c: &Option<String>| {
            c.as_deref()
                .map(str::trim)
                .filter(|c| ListFilter::parse_cursor(c).is_some())
                .unwrap_or_default()
                .to_owned()
        };
        let after = cursor(&query.after);
        let before = if after.is_empty() {
            cursor(&query.before)
        } else {
            String::new()
        };
        Self {
            q: query.q.trim().to_owned(),
            status: status_filter(&query.status),
            role: query.role.trim().to_owned(),
            sort,
            dir,
            size,
            after,
            before,
        }
    }

    /// The view the list's forms send back (the toggle keeps the list as it was).
    pub(crate) fn of_form(form: &FormFields) -> Self {
        let get = |k: &str| form.get(k).unwrap_or_default().to_owned();
        Self::of(&ListQuery {
            q: get("q"),
            status: get("status"),
            role: get("role"),
            sort: get("sort"),
            dir: get("dir"),
            size: get("size"),
            after: form.get("after").map(str::to_owned),
            before: form.get("before").map(str::to_owned),
        })
    }

    fn default_dir(sort: &str) -> &'static str {
        if sort == "name" { "asc" } else { "desc" }
    }

    /// The fields that differ from the defaults, in the address's order (also the hidden
    /// fields of the list's forms).
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !self.q.is_empty() {
            out.push(("q", self.q.clone()));
        }
        if !self.status.is_empty() {
            out.push(("status", self.status.to_owned()));
        }
        if !self.role.is_empty() {
            out.push(("role", self.role.clone()));
        }
        if self.sort != "name" {
            out.push(("sort", self.sort.to_owned()));
        }
        if self.dir != Self::default_dir(self.sort) {
            out.push(("dir", self.dir.to_owned()));
        }
        if self.size != PAGE_SIZE {
            out.push(("size", self.size.to_string()));
        }
        if !self.after.is_empty() {
            out.push(("after", self.after.clone()));
        }
        if !self.before.is_empty() {
            out.push(("before", self.before.clone()));
        }
        out
    }

    /// The order's fields that differ from the defaults (kept by the search form).
    pub(crate) fn order_pairs(&self) -> Vec<(&'static str, String)> {
        self.pairs()
            .into_iter()
            .filter(|(k, _)| matches!(*k, "sort" | "dir"))
            .collect()
    }

    /// The list's address for this view.
    pub(crate) fn url(&self) -> String {
        let pairs = self.pairs();
        if pairs.is_empty() {
            return "/settings/service-accounts".to_owned();
        }
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            ser.append_pair(k, v);
        }
        format!("/settings/service-accounts?{}", ser.finish())
    }

    /// This view from its first page.
    fn first(&self) -> Self {
        Self {
            after: String::new(),
            before: String::new(),
            ..self.clone()
        }
    }

    /// The address that orders by `column`: the other way round if it already is.
    pub(crate) fn sort_url(&self, column: &str) -> String {
        let mut v = self.first();
        v.sort = match column {
            "created" => "created",
            "last_used" => "last_used",
            _ => "name",
        };
        v.dir = if self.sort == v.sort {
            if self.dir == "asc" { "desc" } else { "asc" }
        } else {
            Self::default_dir(v.sort)
        };
        v.url()
    }

    fn list_sort(&self) -> ListSort {
        match self.sort {
            "created" => ListSort::Created,
            "last_used" => ListSort::LastUsed,
            _ => ListSort::Name,
        }
    }
}

/// A count for people: "1,234".
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "51–62 of 62" (or "of more than 10,000" past the counted limit).
fn range_text(before: i64, shown: usize, total: i64) -> String {
    let shown = i64::try_from(shown).unwrap_or(0);
    let of = if total > COUNT_CAP {
        format!("more than {}", thousands(COUNT_CAP))
    } else {
        thousands(total)
    };
    if shown == 0 {
        return format!("0 of {of}");
    }
    let first = if before > COUNT_CAP {
        format!("{}+", thousands(COUNT_CAP))
    } else {
        thousands(before + 1)
    };
    let last = if before > COUNT_CAP {
        String::new()
    } else {
        format!("\u{2013}{}", thousands(before + shown))
    };
    format!("{first}{last} of {of}")
}

/// `GET /settings/service-accounts`: search by name (or find one account by its exact
/// client ID or id), filter by status and role, order by name, creation or last use, pages
/// of 25, 50 or 100 (keyset, not OFFSET) with a total; all of it in the address.
pub async fn list_service_accounts(
    State(app): State<AppState>,
    console: Console,
    Flash(notice): Flash,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let actor = console.session.actor(&console.source);
    let view = ListView::of(&query);
    crate::web::limits::search_text("q", &view.q)
        .map_err(|e| ConsoleError::BadRequest(e.sentence("search text")))?;
    crate::web::limits::search_text("role", &view.role)
        .map_err(|e| ConsoleError::BadRequest(e.sentence("role")))?;
    let enabled = match view.status {
        "enabled" => Some(true),
        "disabled" => Some(false),
        _ => None,
    };
    let role = (!view.role.is_empty()).then(|| view.role.clone());
    let cursor = if view.after.is_empty() {
        &view.before
    } else {
        &view.after
    };
    let cursor = ListFilter::parse_cursor(cursor);
    // A client ID or account id from a log line finds its account, whatever its name.
    let exact = if view.q.is_empty() || cursor.is_some() {
        None
    } else {
        match app.admin.find_account(&actor, &view.q).await {
            Ok(s)
                if (s.account.client_id == view.q || s.account.id == view.q)
                    && enabled.is_none_or(|e| e == s.account.enabled)
                    && role.is_none() =>
            {
                Some(s)
            }
            Ok(_) | Err(AdminError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        }
    };
    let size = usize::try_from(view.size).unwrap_or(50);
    let backward = !view.before.is_empty();
    let filter = ListFilter {
        q: view.q.clone(),
        enabled,
        role,
        sort: view.list_sort(),
        descending: view.dir == "desc",
        after: cursor,
        backward,
        limit: view.size + 1,
    };
    let (page, more, total, before) = match exact {
        Some(s) => (vec![s], false, 1, 0),
        None => {
            let mut page = app.admin.list_accounts(&actor, &filter).await?;
            let more = page.len() > size;
            if more {
                if backward {
                    page.remove(0);
                } else {
                    page.truncate(size);
                }
            }
            let uncursored = ListFilter {
                after: None,
                backward: false,
                ..filter.clone()
            };
            let first = page.first().map(|s| &s.account);
            let (total, before) = app
                .admin
                .count_accounts(
                    &actor,
                    &uncursored,
                    first.filter(|_| filter.after.is_some()),
                )
                .await?;
            (page, more, total, before)
        }
    };
    let has_next = if backward { !page.is_empty() } else { more };
    let next_url = has_next.then(|| page.last()).flatten().map(|s| {
        ListView {
            after: ListFilter::cursor(filter.sort, &s.account),
            ..view.first()
        }
        .url()
    });
    let prev_url = (before > 0).then(|| page.first()).flatten().map(|s| {
        if before <= view.size {
            view.first().url()
        } else {
            ListView {
                before: ListFilter::cursor(filter.sort, &s.account),
                ..view.first()
            }
            .url()
        }
    });
    let table = ServiceAccountsTablePartial {
        total: range_text(before, page.len(), total),
        rows: page
            .iter()
            .map(|s| AccountRowView::of(s, &app.admin.policies_in_force()))
            .collect(),
        csrf: console.session.csrf_token.clone(),
        paged: filter.after.is_some(),
        can_write: console.session.can(SERVICE_ACCOUNTS_WRITE),
        prev_url,
        next_url,
        view,
    };
    let htmx_table = headers
        .get("hx-target")
        .is_some_and(|v| v.as_bytes() == b"accounts-table");
    Ok(if htmx_table {
        table.into_response()
    } else {
        let role_options = app
            .admin
            .list_roles(&actor)
            .await?
            .into_iter()
            .map(|r| RoleOption {
                id: r.id,
                name: r.name,
            })
            .collect();
        ServiceAccountsPage {
            chrome: console.chrome(),
            section: "service-accounts",
            token_url: app.admin.token_url().to_owned(),
            notice,
            role_options,
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
    /// Roles and groups ticked in step 2, kept when going back to step 1.
    role_ids: Vec<String>,
    group_ids: Vec<String>,
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
    pub fn all(roles: Vec<crate::domain::access::Role>, checked: &[String]) -> Vec<Self> {
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
    groups: Vec<RoleChoice>,
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
    /// The account's page.
    account_url: String,
    /// The account's name (remembered by console.js, so browser Back can say it exists).
    name: String,
    /// A first token request with these credentials (secret accounts).
    curl: Option<String>,
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
        let curl = c.client_secret.as_ref().map(|secret| {
            format!(
                "curl -u '{}:{}' \\\n  -d grant_type=client_credentials \\\n  {}",
                c.client_id,
                secret.expose(),
                c.access_token_uri
            )
        });
        Ok(Self {
            account_url: format!("/settings/service-accounts/{}", c.id),
            name: c.name.clone(),
            curl,
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
        role_ids: Vec::new(),
        group_ids: Vec::new(),
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

/// The roles and groups ticked in step 2.
#[derive(Clone, Copy)]
struct Ticked<'a> {
    roles: &'a [String],
    groups: &'a [String],
}

async fn roles_page(
    app: &AppState,
    console: &Console,
    name: &str,
    description: &str,
    ticked: Ticked<'_>,
    error: Option<String>,
    auth: &AuthChoice,
) -> Result<WizardRolesPage, ConsoleError> {
    let (checked, checked_groups) = (ticked.roles, ticked.groups);
    let actor = console.session.actor(&console.source);
    let groups = super::account::group_choices(app, &actor, checked_groups).await?;
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
        groups,
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
    let group_ids = form.all("group");
    let auth = AuthChoice::of(&form);
    match form.get("step") {
        Some("details") => {
            let mut page =
                details_page_with_apis(&app, &console, &name, &description, &auth).await?;
            page.role_ids = role_ids;
            page.group_ids = group_ids;
            Ok(page.into_response())
        }
        Some("roles") => {
            let mut page =
                details_page_with_apis(&app, &console, &name, &description, &auth).await?;
            page.role_ids = role_ids.clone();
            page.group_ids = group_ids.clone();
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
                Ticked {
                    roles: &role_ids,
                    groups: &group_ids,
                },
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
                groups: group_ids.clone(),
            };
            match app.admin.create_account(&actor, input).await {
                Ok(creds) => Ok(CredentialsPage::new(&console, &creds)?.into_response()),
                Err(AdminError::Conflict { message, .. }) => {
                    let mut page =
                        details_page_with_apis(&app, &console, &name, &description, &auth).await?;
                    page.name_error = Some(message);
                    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
                }
                Err(AdminError::Invalid(v)) if v.field == "roles" || v.field == "groups" => {
                    let page = roles_page(
                        &app,
                        &console,
                        &name,
                        &description,
                        Ticked {
                            roles: &[],
                            groups: &[],
                        },
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
                        Ticked {
                            roles: &role_ids,
                            groups: &group_ids,
                        },
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
                    } else if [
                        "jwks",
                        "public_key",
                        "expires_at",
                        "token_endpoint_auth_method",
                    ]
                    .contains(&v.field)
                    {
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
