//! Service accounts: rows, credentials and role assignments.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, Tx, like_escape, placeholders};
use crate::domain::access::{self, Catalog};
use crate::domain::account::name_key;

pub use crate::domain::access::NameRef as RoleRef;
pub use crate::domain::account::{
    AccountRow, AccountSummary, AuthRecord, COUNT_CAP, ListFilter, ListSort,
};

/// A new account, ready to insert.
#[derive(Debug)]
pub struct NewAccount<'a> {
    /// Fresh UUID.
    pub id: &'a str,
    /// Checked name.
    pub name: &'a str,
    /// Checked description.
    pub description: &'a str,
    /// Fresh client ID.
    pub client_id: &'a str,
    /// Keyed hash of the fresh secret.
    pub secret_hash: &'a str,
    /// Access-token lifetime in seconds.
    pub token_lifetime_secs: i64,
    /// `client_secret_basic` or `private_key_jwt`.
    pub auth_method: &'a str,
    /// Roles to assign.
    pub role_ids: &'a [String],
    /// Creation time (epoch ms).
    pub now: i64,
}

/// The SQL expression a [`ListSort`] orders by, each backed by an index on `(expression, id)`.
fn sort_key(sort: ListSort) -> &'static str {
    match sort {
        ListSort::Name => "name_key",
        ListSort::Created => "created_at",
        ListSort::LastUsed => "coalesce(last_used_at, 0)",
    }
}

/// A value bound to a built query.
enum Arg {
    Text(String),
    Int(i64),
}

/// A query's text with its arguments, numbered as they are added (`$1`, `$2`, …).
#[derive(Default)]
struct Built {
    args: Vec<Arg>,
}

impl Built {
    /// Adds an argument; returns its placeholder.
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn query<'q>(
        &self,
        sql: &'q str,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let mut q = sqlx::query(sql);
        for a in &self.args {
            q = match a {
                Arg::Text(t) => q.bind(t.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// The parts of a list query: the keyset condition, the filters and the order.
struct ListSql {
    key: &'static str,
    /// Ascending in the order the rows are read (flipped for a backward page).
    ascending: bool,
}

impl ListSql {
    fn of(filter: &ListFilter) -> Self {
        Self {
            key: sort_key(filter.sort),
            ascending: filter.descending == (filter.after.is_some() && filter.backward),
        }
    }

    fn order(&self) -> String {
        let dir = if self.ascending { "asc" } else { "desc" };
        format!("{} {dir}, id {dir}", self.key)
    }

    /// Rows after the cursor in reading order ("1 = 1" without one). The key comes first
    /// as a range, so the `(key, id)` index serves it.
    fn keyset(&self, b: &mut Built, filter: &ListFilter) -> String {
        let Some((value, id)) = &filter.after else {
            return "1 = 1".to_owned();
        };
        let v = match filter.sort {
            ListSort::Name => b.arg(Arg::Text(name_key(value))),
            _ => b.arg(Arg::Int(value.parse().unwrap_or(0))),
        };
        let id = b.arg(Arg::Text(id.clone()));
        let (ge, gt) = if self.ascending {
            (">=", ">")
        } else {
            ("<=", "<")
        };
        format!(
            "{k} {ge} {v} and ({k} {gt} {v} or id {gt} {id})",
            k = self.key
        )
    }

    /// The status and role filters. A role held by few accounts (`rare_role`) is matched
    /// from its holders (a short list the index finds); a common one row by row on the
    /// ordered scan (primary-key lookups that a page's limit soon ends), so either way the
    /// work is bounded.
    fn filters(b: &mut Built, filter: &ListFilter, rare_role: bool) -> String {
        let mut out = "1 = 1".to_owned();
        if let Some(e) = filter.enabled {
            out.push_str(&format!(" and enabled = {}", b.arg(Arg::Int(i64::from(e)))));
        }
        if let Some(role) = &filter.role {
            let r = b.arg(Arg::Text(role.clone()));
            if rare_role {
                out.push_str(&format!(
                    " and id in (select account_id from account_roles where role_id = {r} \
                     union select ag.account_id from account_groups ag \
                     join group_roles gr on gr.group_id = ag.group_id where gr.role_id = {r})"
                ));
            } else {
                out.push_str(&format!(
                    " and (exists (select 1 from account_roles ar \
                       where ar.account_id = service_accounts.id and ar.role_id = {r}) \
                     or exists (select 1 from account_groups ag \
                       join group_roles gr on gr.group_id = ag.group_id \
                       where ag.account_id = service_accounts.id and gr.role_id = {r}))"
                ));
            }
        }
        out
    }
}

/// Most holders of a role that the list matches from the holders' side (see
/// [`ListSql::filters`]).
const RARE_ROLE: i64 = 5000;

/// Whether the filter's role (if any) is held by at most [`RARE_ROLE`] accounts.
async fn rare_role(pool: &AnyPool, filter: &ListFilter) -> Result<bool, StoreError> {
    let Some(role) = &filter.role else {
        return Ok(false);
    };
    // Each side counted alone with its own limit (a union would be built whole first).
    let mut n = 0;
    for sql in [
        "select count(*) as n from (select account_id from account_roles \
         where role_id = $1 limit $2) as c",
        "select count(*) as n from (select ag.account_id from account_groups ag \
         join group_roles gr on gr.group_id = ag.group_id where gr.role_id = $1 limit $2) as c",
    ] {
        let side: i64 = sqlx::query(sql)
            .bind(role)
            .bind(RARE_ROLE + 1)
            .fetch_one(pool)
            .await?
            .try_get("n")?;
        n += side;
    }
    Ok(n <= RARE_ROLE)
}

const ACCOUNT_COLUMNS: &str = "id, name, description, enabled, client_id, old_client_id, \
     old_expires_at, token_lifetime_secs, token_generation, created_at, updated_at, last_used_at, \
     auth_method, api_id, disabled_reason, secret_created_at";

fn account_from_row(row: &sqlx::any::AnyRow) -> Result<AccountRow, sqlx::Error> {
    Ok(AccountRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        client_id: row.try_get("client_id")?,
        old_client_id: row.try_get("old_client_id")?,
        old_expires_at: row.try_get("old_expires_at")?,
        token_lifetime_secs: row.try_get("token_lifetime_secs")?,
        token_generation: row.try_get("token_generation")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_used_at: row.try_get("last_used_at")?,
        auth_method: row.try_get("auth_method")?,
        api_id: row.try_get("api_id")?,
        disabled_reason: row.try_get("disabled_reason")?,
        secret_created_at: row.try_get("secret_created_at")?,
    })
}

/// Inserts a new account and its role assignments.
#[instrument(skip_all)]
pub async fn insert(tx: &mut Tx, new: &NewAccount<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "insert into service_accounts (id, name, description, enabled, client_id, secret_hash, \
         token_lifetime_secs, token_generation, created_at, updated_at, name_key, auth_method, \
         secret_created_at) values ($1, $2, $3, 1, $4, $5, $6, 0, $7, $7, $8, $9, $7)",
    )
    .bind(new.id)
    .bind(new.name)
    .bind(new.description)
    .bind(new.client_id)
    .bind(new.secret_hash)
    .bind(new.token_lifetime_secs)
    .bind(new.now)
    .bind(name_key(new.name))
    .bind(new.auth_method)
    .execute(&mut **tx)
    .await?;
    for role_id in new.role_ids {
        sqlx::query("insert into account_roles (account_id, role_id) values ($1, $2)")
            .bind(new.id)
            .bind(role_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Inserts many new accounts and their role assignments with multi-row inserts (bulk
/// loading: seeding, imports). Every account gets the same `now`; `news` may be any length.
#[instrument(skip_all)]
pub async fn insert_many(tx: &mut Tx, news: &[NewAccount<'_>]) -> Result<(), StoreError> {
    // 8 parameters a row: well under SQLite's and PostgreSQL's limits per statement.
    const ROWS: usize = 1000;
    for chunk in news.chunks(ROWS) {
        let values = (0..chunk.len())
            .map(|i| {
                let p = i * 8;
                format!(
                    "(${}, ${}, ${}, 1, ${}, ${}, ${}, 0, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 7,
                    p + 8,
                    p + 7
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "insert into service_accounts (id, name, description, enabled, client_id, \
             secret_hash, token_lifetime_secs, token_generation, created_at, updated_at, \
             name_key, secret_created_at) values {values}"
        );
        let mut q = sqlx::query(&sql);
        for n in chunk {
            q = q
                .bind(n.id)
                .bind(n.name)
                .bind(n.description)
                .bind(n.client_id)
                .bind(n.secret_hash)
                .bind(n.token_lifetime_secs)
                .bind(n.now)
                .bind(name_key(n.name));
        }
        q.execute(&mut **tx).await?;
        let pairs: Vec<(&str, &str)> = chunk
            .iter()
            .flat_map(|n| n.role_ids.iter().map(move |r| (n.id, r.as_str())))
            .collect();
        for pairs in pairs.chunks(ROWS) {
            let sql = format!(
                "insert into account_roles (account_id, role_id) values {}",
                (0..pairs.len())
                    .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut q = sqlx::query(&sql);
            for (a, r) in pairs {
                q = q.bind(*a).bind(*r);
            }
            q.execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// The account whose current or grace-period client ID is `client_id`.
#[instrument(skip_all)]
pub async fn auth_by_client_id(
    pool: &AnyPool,
    catalog: &Catalog,
    client_id: &str,
) -> Result<Option<AuthRecord>, StoreError> {
    auth_where(
        pool,
        catalog,
        "client_id = $1 or old_client_id = $1",
        client_id,
    )
    .await
}

/// The account with id `id`, as the token verifier needs it.
#[instrument(skip_all)]
pub async fn auth_by_id(
    pool: &AnyPool,
    catalog: &Catalog,
    id: &str,
) -> Result<Option<AuthRecord>, StoreError> {
    auth_where(pool, catalog, "id = $1", id).await
}

async fn auth_where(
    pool: &AnyPool,
    catalog: &Catalog,
    condition: &'static str,
    value: &str,
) -> Result<Option<AuthRecord>, StoreError> {
    let sql = format!(
        "select id, name, enabled, client_id, secret_hash, old_client_id, old_secret_hash, \
         old_expires_at, token_lifetime_secs, token_generation, auth_method, api_id, \
         secret_created_at \
         from service_accounts where {condition}"
    );
    let Some(row) = sqlx::query(&sql).bind(value).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let id: String = row.try_get("id")?;
    let product = row
        .try_get::<Option<String>, _>("api_id")?
        .and_then(|p| catalog.api(&p))
        .map(|a| (a.id.clone(), a.identifier.clone()));
    let direct = super::access::account_bindings(pool, &id).await?;
    let groups = super::access::account_groups(pool, &id).await?;
    let grants = access::grants(
        catalog,
        &direct,
        &groups,
        product.as_ref().map(|(p, _)| p.as_str()),
    );
    let access = access::access(catalog, &grants);
    let keys = super::client_keys::of_account(pool, &id).await?;
    let federated = super::federation::credentials_of_account(pool, &id).await?;
    Ok(Some(AuthRecord {
        auth_method: row.try_get("auth_method")?,
        keys,
        federated,
        id,
        name: row.try_get("name")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        client_id: row.try_get("client_id")?,
        secret_hash: row.try_get("secret_hash")?,
        secret_created_at: row.try_get("secret_created_at")?,
        old_client_id: row.try_get("old_client_id")?,
        old_secret_hash: row.try_get("old_secret_hash")?,
        old_expires_at: row.try_get("old_expires_at")?,
        token_lifetime_secs: row.try_get("token_lifetime_secs")?,
        token_generation: row.try_get("token_generation")?,
        product,
        access,
    }))
}

/// One account with its direct roles.
#[instrument(skip_all)]
pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<AccountSummary>, StoreError> {
    let sql = format!("select {ACCOUNT_COLUMNS} from service_accounts where id = $1");
    let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let account = account_from_row(&row)?;
    let mut roles = roles_of(pool, std::slice::from_ref(&account.id)).await?;
    Ok(Some(AccountSummary {
        roles: roles.remove(&account.id).unwrap_or_default(),
        via_groups: Vec::new(),
        account,
    }))
}

/// Rows a search first looks at, in list order from the cursor, before it asks the trigram
/// index (see [`list`]).
const SEARCH_WINDOW: i64 = 1000;

/// Most trigram candidates a search sorts; a term with more is common enough that the ordered
/// scan finds a page of matches quickly.
const MAX_CANDIDATES: i64 = 5000;

/// A page of accounts matching `filter`, with their direct roles and those through groups.
///
/// Pages are read in `(key, id)` order from the keyset cursor on (the key is the sort's:
/// name, creation or last use), through the index of that order, so a deep page costs what
/// the first one does; a backward page reads the other way and is turned round. A name
/// search first filters the next [`SEARCH_WINDOW`] rows of that order: a common term fills
/// its page there. If it does not, the trigram index (`service_account_names`: FTS5 on
/// SQLite, pg_trgm on PostgreSQL) counts the candidates: up to [`MAX_CANDIDATES`] are
/// checked with the exact `like` and sorted; more mean a common term, and the ordered scan
/// goes on until the page is full.
#[instrument(skip_all)]
pub async fn list(pool: &AnyPool, filter: &ListFilter) -> Result<Vec<AccountSummary>, StoreError> {
    let parts = ListSql::of(filter);
    let rare = rare_role(pool, filter).await?;
    let mut rows = if filter.q.is_empty() {
        let mut b = Built::default();
        let keyset = parts.keyset(&mut b, filter);
        let filters = ListSql::filters(&mut b, filter, rare);
        let limit = b.arg(Arg::Int(filter.limit));
        let sql = format!(
            "select {ACCOUNT_COLUMNS} from service_accounts where {keyset} and {filters} \
             order by {} limit {limit}",
            parts.order()
        );
        b.query(&sql).fetch_all(pool).await?
    } else {
        search(pool, filter, &parts, rare).await?
    };
    if filter.after.is_some() && filter.backward {
        rows.reverse();
    }
    let accounts = rows
        .iter()
        .map(account_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<String> = accounts.iter().map(|a| a.id.clone()).collect();
    let mut roles = roles_of(pool, &ids).await?;
    let mut via = group_roles_of(pool, &ids).await?;
    Ok(accounts
        .into_iter()
        .map(|account| AccountSummary {
            roles: roles.remove(&account.id).unwrap_or_default(),
            via_groups: via.remove(&account.id).unwrap_or_default(),
            account,
        })
        .collect())
}

/// How many accounts match `filter` (its search, status and role; not its cursor), counted
/// up to [`COUNT_CAP`] + 1 so a huge list costs a bounded scan.
#[instrument(skip_all)]
pub async fn count_matching(pool: &AnyPool, filter: &ListFilter) -> Result<i64, StoreError> {
    let rare = rare_role(pool, filter).await?;
    let mut b = Built::default();
    let filters = ListSql::filters(&mut b, filter, rare);
    let search = search_condition(&mut b, &filter.q);
    let cap = b.arg(Arg::Int(COUNT_CAP + 1));
    let sql = format!(
        "select count(*) as n from (select id from service_accounts \
         where {filters} and {search} limit {cap}) as c"
    );
    Ok(b.query(&sql).fetch_one(pool).await?.try_get("n")?)
}

/// How many accounts matching `filter` come before `row` in its order, up to
/// [`COUNT_CAP`] + 1 (the position of a page that starts at `row`).
#[instrument(skip_all)]
pub async fn count_before(
    pool: &AnyPool,
    filter: &ListFilter,
    row: &AccountRow,
) -> Result<i64, StoreError> {
    let mut back = filter.clone();
    back.after = ListFilter::parse_cursor(&ListFilter::cursor(filter.sort, row));
    back.backward = true;
    let parts = ListSql::of(&back);
    let rare = rare_role(pool, &back).await?;
    let mut b = Built::default();
    let keyset = parts.keyset(&mut b, &back);
    let filters = ListSql::filters(&mut b, &back, rare);
    let search = search_condition(&mut b, &back.q);
    let cap = b.arg(Arg::Int(COUNT_CAP + 1));
    let sql = format!(
        "select count(*) as n from (select id from service_accounts \
         where {keyset} and {filters} and {search} limit {cap}) as c"
    );
    Ok(b.query(&sql).fetch_one(pool).await?.try_get("n")?)
}

/// The exact name match of a search ("1 = 1" without one), through the trigram index's
/// candidates so that a rare term is not a full scan.
fn search_condition(b: &mut Built, q: &str) -> String {
    if q.is_empty() {
        return "1 = 1".to_owned();
    }
    let key = name_key(q);
    let pattern = b.arg(Arg::Text(format!("%{}%", like_escape(&key))));
    let candidates = b.arg(Arg::Text(format!("%{}%", key.replace('\\', "_"))));
    format!(
        "id in (select account_id from service_account_names where name like {candidates}) \
         and name_key like {pattern} escape '\\'"
    )
}

/// The rows of a name search (see [`list`]).
async fn search(
    pool: &AnyPool,
    filter: &ListFilter,
    parts: &ListSql,
    rare: bool,
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    let q = name_key(&filter.q);
    let pattern = format!("%{}%", like_escape(&q));
    let order = parts.order();
    // The next `size` rows in list order, materialised from the (key, id) index, then
    // filtered: no planner may swap this for the trigram index and sort every match.
    let window = |size: i64| {
        let mut b = Built::default();
        let keyset = parts.keyset(&mut b, filter);
        let size = b.arg(Arg::Int(size));
        let pat = b.arg(Arg::Text(pattern.clone()));
        let filters = ListSql::filters(&mut b, filter, rare);
        let limit = b.arg(Arg::Int(filter.limit));
        let sql = format!(
            "with w as materialized (select id, name_key as lname from service_accounts \
                 where {keyset} order by {order} limit {size}) \
             select {ACCOUNT_COLUMNS} from service_accounts \
             where id in (select id from w where lname like {pat} escape '\\') \
               and {filters} order by {order} limit {limit}"
        );
        async move { b.query(&sql).fetch_all(pool).await }
    };
    let full = |rows: &Vec<sqlx::any::AnyRow>| {
        i64::try_from(rows.len()).unwrap_or(i64::MAX) >= filter.limit
    };
    let rows = window(SEARCH_WINDOW).await?;
    if full(&rows) {
        return Ok(rows);
    }
    // Matches in the first window: likely a common term, which a wider one completes.
    if !rows.is_empty() {
        let rows = window(SEARCH_WINDOW * 10).await?;
        if full(&rows) {
            return Ok(rows);
        }
    }
    // Candidates only, a superset: without an escape clause `%` and `_` match more, and `_`
    // for a backslash (PostgreSQL's default escape) matches it too.
    let candidates = format!("%{}%", q.replace('\\', "_"));
    let counted = sqlx::query(
        "select count(*) as n from (select account_id from service_account_names \
         where name like $1 limit $2) as c",
    )
    .bind(&candidates)
    .bind(MAX_CANDIDATES + 1)
    .fetch_one(pool)
    .await?
    .try_get::<i64, _>("n")?;
    if counted <= MAX_CANDIDATES {
        // A rare term: sort its few candidates.
        let mut b = Built::default();
        let keyset = parts.keyset(&mut b, filter);
        let filters = ListSql::filters(&mut b, filter, rare);
        let search = search_condition(&mut b, &filter.q);
        let limit = b.arg(Arg::Int(filter.limit));
        let sql = format!(
            "select {ACCOUNT_COLUMNS} from service_accounts \
             where {search} and {keyset} and {filters} order by {order} limit {limit}"
        );
        return Ok(b.query(&sql).fetch_all(pool).await?);
    }
    // A common term: wider windows of the ordered scan fill the page.
    for size in [SEARCH_WINDOW * 10, SEARCH_WINDOW * 100] {
        let rows = window(size).await?;
        if full(&rows) {
            return Ok(rows);
        }
    }
    Ok(window(i64::MAX).await?)
}

/// Roles each of `ids` holds through its groups, with the group's name, sorted by role
/// then group name.
async fn group_roles_of(
    pool: &AnyPool,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<(RoleRef, String)>>, StoreError> {
    let mut out: std::collections::HashMap<String, Vec<(RoleRef, String)>> = Default::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "select ag.account_id as account_id, r.id as id, r.name as name, g.name as group_name \
         from account_groups ag join groups g on g.id = ag.group_id \
         join group_roles gr on gr.group_id = ag.group_id join roles r on r.id = gr.role_id \
         where ag.account_id in ({}) order by lower(r.name), lower(g.name)",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    for row in q.fetch_all(pool).await? {
        out.entry(row.try_get("account_id")?).or_default().push((
            RoleRef {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
            },
            row.try_get("group_name")?,
        ));
    }
    Ok(out)
}

/// Direct roles of each of `ids`, sorted by name.
async fn roles_of(
    pool: &AnyPool,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<RoleRef>>, StoreError> {
    let mut out: std::collections::HashMap<String, Vec<RoleRef>> = Default::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "select ar.account_id as account_id, r.id as id, r.name as name from account_roles ar \
         join roles r on r.id = ar.role_id where ar.account_id in ({}) order by lower(r.name)",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    for row in q.fetch_all(pool).await? {
        out.entry(row.try_get("account_id")?)
            .or_default()
            .push(RoleRef {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
            });
    }
    Ok(out)
}

/// Records last-used times gathered by the token endpoint, in one transaction.
#[instrument(skip_all)]
pub async fn record_last_used(tx: &mut Tx, used: &[(String, i64)]) -> Result<(), StoreError> {
    for (id, at) in used {
        sqlx::query(
            "update service_accounts set last_used_at = $2 \
             where id = $1 and (last_used_at is null or last_used_at < $2)",
        )
        .bind(id)
        .bind(*at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Number of accounts.
#[instrument(skip_all)]
pub async fn count(pool: &AnyPool) -> Result<i64, StoreError> {
    Ok(sqlx::query("select count(*) as n from service_accounts")
        .fetch_one(pool)
        .await?
        .try_get("n")?)
}

/// Enables or disables an account; disabling also moves its token generation on and ends
/// any grace period, so every token it holds dies (and stays dead when it is enabled again).
#[instrument(skip_all)]
pub async fn set_enabled(
    tx: &mut Tx,
    id: &str,
    enabled: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let sql = if enabled {
        "update service_accounts set enabled = 1, disabled_reason = null, updated_at = $2 \
         where id = $1"
    } else {
        "update service_accounts set enabled = 0, token_generation = token_generation + 1, \
         old_client_id = null, old_secret_hash = null, old_expires_at = null, updated_at = $2 \
         where id = $1"
    };
    let done = sqlx::query(sql)
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// New credentials for an account; the previous pair keeps working until `old_expires_at`
/// when given, and its tokens with it. Tokens of the new pair start a new generation.
#[instrument(skip_all)]
pub async fn replace_credentials(
    tx: &mut Tx,
    id: &str,
    client_id: &str,
    secret_hash: &str,
    old_expires_at: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update service_accounts set \
           old_client_id = case when $4 > 0 then client_id else null end, \
           old_secret_hash = case when $4 > 0 then secret_hash else null end, \
           old_expires_at = case when $4 > 0 then $4 else null end, \
           client_id = $2, secret_hash = $3, token_generation = token_generation + 1, \
           disabled_reason = null, updated_at = $5, secret_created_at = $5 \
         where id = $1",
    )
    .bind(id)
    .bind(client_id)
    .bind(secret_hash)
    .bind(old_expires_at.unwrap_or(0))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The id and name of the account whose current or previous secret hashes to `hash`.
#[instrument(skip_all)]
pub async fn by_secret_hash(
    pool: &AnyPool,
    hash: &str,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(sqlx::query(
        "select id, name from service_accounts where secret_hash = $1 or old_secret_hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?
    .map(|r| Ok::<_, sqlx::Error>((r.try_get("id")?, r.try_get("name")?)))
    .transpose()?)
}

/// Disables an account (as [`set_enabled`] does) and records why.
#[instrument(skip_all)]
pub async fn disable_because(
    tx: &mut Tx,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<bool, StoreError> {
    if !set_enabled(tx, id, false, now).await? {
        return Ok(false);
    }
    sqlx::query("update service_accounts set disabled_reason = $2 where id = $1")
        .bind(id)
        .bind(reason)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// Deletes an account with its role and group memberships and revocation records.
#[instrument(skip_all)]
pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    sqlx::query("delete from revoked_tokens where account_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let done = sqlx::query("delete from service_accounts where id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether an account with this name exists (case-insensitive).
#[instrument(skip_all)]
pub async fn name_taken(pool: &AnyPool, name: &str) -> Result<bool, StoreError> {
    Ok(
        sqlx::query("select id from service_accounts where name_key = $1")
            .bind(name_key(name))
            .fetch_optional(pool)
            .await?
            .is_some(),
    )
}

/// Changes an account's name, description and token lifetime.
#[instrument(skip_all)]
pub async fn update_details(
    tx: &mut Tx,
    id: &str,
    name: &str,
    description: &str,
    token_lifetime_secs: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update service_accounts set name = $2, description = $3, token_lifetime_secs = $4, \
         updated_at = $5, name_key = $6 where id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(description)
    .bind(token_lifetime_secs)
    .bind(now)
    .bind(name_key(name))
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces an account's directly assigned roles.
#[instrument(skip_all)]
pub async fn set_roles(tx: &mut Tx, id: &str, role_ids: &[String]) -> Result<(), StoreError> {
    sqlx::query("delete from account_roles where account_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for role_id in role_ids {
        sqlx::query("insert into account_roles (account_id, role_id) values ($1, $2)")
            .bind(id)
            .bind(role_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The id of the account whose id, current client ID or name is `wanted`, in that order of
/// precedence: an exact id wins over a client ID, which wins over a name (compared by
/// [`name_key`]), so no account can be reached through another's identifier.
#[instrument(skip_all)]
pub async fn find_id(pool: &AnyPool, wanted: &str) -> Result<Option<String>, StoreError> {
    let wanted = wanted.trim();
    let rows = sqlx::query(
        "select id, client_id from service_accounts \
         where id = $1 or client_id = $1 or name_key = $2",
    )
    .bind(wanted)
    .bind(name_key(wanted))
    .fetch_all(pool)
    .await?;
    let mut by_id = None;
    let mut by_client = None;
    let mut by_name = None;
    for r in &rows {
        let id: String = r.try_get("id")?;
        let client_id: String = r.try_get("client_id")?;
        if id == wanted {
            by_id = Some(id);
        } else if client_id == wanted {
            by_client = Some(id);
        } else {
            by_name = Some(id);
        }
    }
    Ok(by_id.or(by_client).or(by_name))
}

/// The id of the account whose current client ID is `client_id`.
#[instrument(skip_all)]
pub async fn id_by_client_id(
    pool: &AnyPool,
    client_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query("select id from service_accounts where client_id = $1")
            .bind(client_id)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get("id"))
            .transpose()?,
    )
}

/// Ids of every role an account holds, directly or through its groups.
#[instrument(skip_all)]
pub async fn held_role_ids(pool: &AnyPool, id: &str) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "select role_id from account_roles where account_id = $1 \
         union select role_id from account_bindings where account_id = $1 \
         union select gr.role_id from group_roles gr \
         join account_groups ag on ag.group_id = gr.group_id where ag.account_id = $1 \
         union select gb.role_id from group_bindings gb \
         join account_groups ag on ag.group_id = gb.group_id where ag.account_id = $1",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("role_id")?)).collect()
}

/// Gives every account whose comparison key is missing (rows from before it existed) its
/// [`name_key`], computed here rather than by the database so both backends agree. An
/// account whose key would clash with another's (two names that differ only in the case of
/// a non-ASCII letter, which older SQLite databases allowed) keeps no key and is logged.
#[instrument(skip_all)]
pub async fn fill_name_keys(pool: &AnyPool) -> Result<(), StoreError> {
    let rows = sqlx::query("select id, name from service_accounts where name_key is null")
        .fetch_all(pool)
        .await?;
    for r in &rows {
        let id: String = r.try_get("id")?;
        let name: String = r.try_get("name")?;
        let done = sqlx::query("update service_accounts set name_key = $2 where id = $1")
            .bind(&id)
            .bind(name_key(&name))
            .execute(pool)
            .await;
        match done.map_err(StoreError::from) {
            Ok(_) => {}
            Err(StoreError::Conflict) => {
                tracing::warn!(
                    account = %id,
                    "two service accounts have names that differ only in case; rename one"
                );
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Moves an account's token generation on, killing every token it holds (and ending any
/// grace period of its previous credentials).
#[instrument(skip_all)]
pub async fn revoke_all_tokens(tx: &mut Tx, id: &str, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update service_accounts set token_generation = token_generation + 1, \
         old_client_id = null, old_secret_hash = null, old_expires_at = null, updated_at = $2 \
         where id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
