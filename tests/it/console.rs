//! The web console: sign-in, the Service Accounts list and the add-account wizard, driven
//! through the router as a browser without JavaScript would.

use axum::http::{StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keygate::domain::audit::Actor;

use crate::helpers::{Resp, TestApp};

pub const PASSWORD: &str = "correct horse battery staple";

/// A browser's cookie jar and the CSRF token of the last page, against one app.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookies: Vec<(String, String)>,
    address: Option<std::net::SocketAddr>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: Vec::new(),
            address: None,
        }
    }

    /// A browser whose requests come from `address` (as the audit log's source).
    pub fn from_address(app: &'a TestApp, address: std::net::SocketAddr) -> Self {
        Self {
            address: Some(address),
            ..Self::new(app)
        }
    }

    fn send_from(&self, req: crate::helpers::Req<'a>) -> crate::helpers::Req<'a> {
        match self.address {
            Some(a) => req.sent_from(a),
            None => req,
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&mut self, res: &Resp) {
        for v in res.headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            let removed = v.to_ascii_lowercase().contains("max-age=0");
            if !removed && !val.is_empty() {
                self.cookies.push((k.to_owned(), val.to_owned()));
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let req = self.app.get(path).header("cookie", self.cookie_header());
        let res = self.send_from(req).send().await;
        self.remember(&res);
        res
    }

    /// Gets a page with extra request headers (such as htmx's `hx-request`).
    pub async fn get_with_headers(&mut self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.send_from(self.app.get(path).header("cookie", self.cookie_header()));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let res = req.send().await;
        self.remember(&res);
        res
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.post_with_headers(path, form, &[]).await
    }

    /// Posts a form with extra request headers (such as htmx's `hx-request`).
    pub async fn post_with_headers(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.send_from(self.app.post(path).header("cookie", self.cookie_header()));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let res = req.form(form).send().await;
        self.remember(&res);
        res
    }

    /// Follows a post/redirect/get: `res` must be a 303, and the page it points to is
    /// fetched (as a browser does, with the notice cookie it set).
    #[track_caller]
    pub fn follow<'r>(&'r mut self, res: &Resp) -> impl Future<Output = Resp> + 'r {
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
        let to = res.header(header::LOCATION).expect("a Location").to_owned();
        async move { self.get(&to).await }
    }

    /// Signs in through the login form.
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Resp {
        let page = self.get("/login").await;
        let csrf = csrf_of(&page.text());
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("next", "/settings/service-accounts"),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// The CSRF token of the signed-in session, read from a page.
    pub async fn csrf(&mut self) -> String {
        self.csrf_at("/settings/service-accounts").await
    }

    /// The CSRF token of the signed-in session, read from the page at `path`.
    pub async fn csrf_at(&mut self, path: &str) -> String {
        let page = self.get(path).await;
        csrf_of(&page.text())
    }
}

/// The value of the first `name="csrf"` hidden field in a page.
pub fn csrf_of(html: &str) -> String {
    value_of(html, "name=\"csrf\" value=\"").expect("a csrf field")
}

pub fn value_of(html: &str, prefix: &str) -> Option<String> {
    let start = html.find(prefix)? + prefix.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Adds a console user with the given roles.
pub async fn console_user(app: &TestApp, username: &str, roles: &[&str]) {
    let names: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let role_ids = app.state.admin.role_ids_by_names(&names).await.unwrap();
    app.state
        .admin
        .create_user(&Actor::system(), username, PASSWORD.to_owned(), &role_ids)
        .await
        .unwrap();
}

pub async fn signed_in_admin(app: &TestApp) -> Browser<'_> {
    console_user(app, "admin", &["Administrator"]).await;
    let mut b = Browser::new(app);
    let res = b.sign_in("admin", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    b
}

#[tokio::test]
async fn a_fresh_install_explains_how_to_create_the_first_user() {
    let app = TestApp::spawn().await;
    let page = Browser::new(&app).get("/login").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("No console user exists yet"), "{html}");
    assert!(html.contains("keygate admin create --username admin --password-stdin"));
}

#[tokio::test]
async fn the_hint_is_gone_once_a_user_exists() {
    let app = TestApp::spawn().await;
    console_user(&app, "admin", &["Administrator"]).await;
    let html = Browser::new(&app).get("/login").await.text();
    assert!(!html.contains("No console user exists yet"));
}

#[tokio::test]
async fn pages_carry_strict_security_headers() {
    let app = TestApp::spawn().await;
    let page = Browser::new(&app).get("/login").await;
    let csp = page.header(header::CONTENT_SECURITY_POLICY).unwrap();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    assert_eq!(page.header(header::REFERRER_POLICY), Some("no-referrer"));
    assert!(!page.text().contains("<script>"), "no inline script");
    assert!(!page.text().contains("style=\""), "no inline style");
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_lands_on_the_list() {
    let app = TestApp::spawn().await;
    console_user(&app, "admin", &["Administrator"]).await;
    let mut b = Browser::new(&app);
    let res = b.sign_in("admin", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        res.header(header::LOCATION),
        Some("/settings/service-accounts")
    );
    let cookie = res
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("kg_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    // The test issuer is https, so the cookie is Secure.
    assert!(cookie.contains("Secure"), "{cookie}");
    let list = b.get("/settings/service-accounts").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains("Service Accounts"));
    assert_eq!(list.header(header::CACHE_CONTROL), Some("no-store"));
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_gets_the_same_message() {
    let app = TestApp::spawn().await;
    console_user(&app, "admin", &["Administrator"]).await;
    let wrong = Browser::new(&app)
        .sign_in("admin", "not the password")
        .await;
    let unknown = Browser::new(&app).sign_in("nobody", PASSWORD).await;
    for res in [&wrong, &unknown] {
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(
            res.text()
                .contains("The username or password is not correct.")
        );
    }
}

#[tokio::test]
async fn service_account_credentials_cannot_sign_in() {
    let app = TestApp::spawn().await;
    let creds = app
        .account("robot")
        .roles(&["Administrator"])
        .create()
        .await;
    let res = Browser::new(&app)
        .sign_in(&creds.client_id, &creds.client_secret)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = Browser::new(&app)
        .sign_in("robot", &creds.client_secret)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_failures_throttle_the_username_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    console_user(&app, "admin", &["Administrator"]).await;
    for _ in 0..5 {
        let res = Browser::new(&app).sign_in("admin", "wrong password!").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = Browser::new(&app).sign_in("admin", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.text().contains("Too many failed sign-ins"));
}

#[tokio::test]
async fn sign_in_without_its_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    console_user(&app, "admin", &["Administrator"]).await;
    let mut b = Browser::new(&app);
    let res = b
        .post(
            "/login",
            &[
                ("csrf", "forged"),
                ("username", "admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pages_need_a_session() {
    let app = TestApp::spawn().await;
    for path in [
        "/settings/service-accounts",
        "/settings/service-accounts/new",
    ] {
        let res = Browser::new(&app).get(path).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.header(header::LOCATION), Some("/login"));
    }
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let res = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = b.get("/settings/service-accounts").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_empty_list_invites_adding_the_first_account() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let html = b.get("/settings/service-accounts").await.text();
    assert!(html.contains("No service accounts yet"));
    assert!(html.contains("Add Service Account"));
    assert!(html.contains("Users and Access"));
}

#[tokio::test]
async fn the_list_shows_each_account_with_its_roles_and_status() {
    let app = TestApp::spawn().await;
    let creds = app
        .account("billing <exporter>")
        .roles(&["Auditor"])
        .create()
        .await;
    let mut b = signed_in_admin(&app).await;
    let html = b.get("/settings/service-accounts").await.text();
    assert!(
        html.contains("billing &#60;exporter&#62;") || html.contains("billing &lt;exporter&gt;"),
        "{html}"
    );
    assert!(!html.contains("billing <exporter>"), "names are escaped");
    assert!(html.contains(&creds.client_id));
    assert!(html.contains("Auditor"));
    assert!(html.contains("Enabled"));
    assert!(html.contains("Never"), "not used yet");
}

#[tokio::test]
async fn search_finds_by_part_of_the_name_and_htmx_gets_only_the_table() {
    let app = TestApp::spawn().await;
    app.account("billing-exporter").create().await;
    app.account("audit-shipper").create().await;
    let mut b = signed_in_admin(&app).await;
    let html = b.get("/settings/service-accounts?q=EXPORT").await.text();
    assert!(html.contains("billing-exporter"));
    assert!(!html.contains("audit-shipper"));
    let partial = app
        .get("/settings/service-accounts?q=ship")
        .header("cookie", b.cookie_header())
        .header("hx-request", "true")
        .header("hx-target", "accounts-table")
        .send()
        .await
        .text();
    assert!(
        partial.starts_with("<div id=\"accounts-table\">"),
        "{partial}"
    );
    assert!(partial.contains("audit-shipper"));
    assert!(!partial.contains("<html"));
    let none = b.get("/settings/service-accounts?q=zzz").await.text();
    assert!(none.contains("No service account matches"));
}

#[tokio::test]
async fn the_list_pages_by_fifty() {
    let app = TestApp::spawn().await;
    for i in 0..51 {
        app.account(&format!("acct-{i:03}")).create().await;
    }
    let mut b = signed_in_admin(&app).await;
    let first = b.get("/settings/service-accounts").await.text();
    assert!(first.contains("acct-000") && first.contains("acct-049"));
    assert!(!first.contains("acct-050"));
    let next = value_of(&first, "<a href=\"").filter(|u| u.contains("after="));
    let next = next.or_else(|| {
        first
            .split("href=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].to_owned())
            .find(|u| u.contains("after="))
    });
    let next = next.expect("a next-page link").replace("&amp;", "&");
    let second = b.get(&next).await.text();
    assert!(second.contains("acct-050"));
    assert!(!second.contains("acct-049"));
}

#[tokio::test]
async fn step_one_has_labelled_fields_and_says_where_you_are() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let html = b.get("/settings/service-accounts/new").await.text();
    assert!(html.contains("Step 1 of 3"));
    assert!(html.contains("Service Account Details"));
    assert!(html.contains("<label for=\"name\">"));
    assert!(html.contains("<label for=\"description\">"));
    assert!(html.contains(">Next</button>"));
}

async fn step(b: &mut Browser<'_>, fields: &[(&str, &str)]) -> Resp {
    let csrf = b.csrf().await;
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    b.post("/settings/service-accounts/new", &form).await
}

#[tokio::test]
async fn step_one_reports_an_empty_name_next_to_the_field_and_keeps_the_description() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let res = step(
        &mut b,
        &[
            ("step", "roles"),
            ("name", "   "),
            ("description", "ships invoices"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("id=\"name-error\""));
    assert!(html.contains("Name is required."));
    assert!(html.contains(">ships invoices</textarea>"));
}

#[tokio::test]
async fn step_one_reports_a_too_long_or_duplicate_name() {
    let app = TestApp::spawn().await;
    app.account("Billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let long = "x".repeat(101);
    let res = step(
        &mut b,
        &[("step", "roles"), ("name", &long), ("description", "")],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("at most 100 characters"));
    assert!(res.text().contains(&long), "what was typed is kept");
    let res = step(
        &mut b,
        &[("step", "roles"), ("name", "billing"), ("description", "")],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("already exists"));
}

#[tokio::test]
async fn step_two_lists_roles_with_permissions_and_back_keeps_what_was_typed() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let res = step(
        &mut b,
        &[
            ("step", "roles"),
            ("name", "billing"),
            ("description", "ships invoices"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    assert!(html.contains("Step 2 of 3"));
    for role in [
        "Administrator",
        "Service Account Manager",
        "Auditor",
        "Token Introspector",
    ] {
        assert!(html.contains(role), "{role}");
    }
    assert!(html.contains("<code>tokens:introspect</code>"));
    assert!(html.contains("will be able to do nothing"));
    assert!(html.contains(">Back</button>") && html.contains(">Add</button>"));
    let back = step(
        &mut b,
        &[
            ("step", "details"),
            ("name", "billing"),
            ("description", "ships invoices"),
        ],
    )
    .await;
    let html = back.text();
    assert!(html.contains("Step 1 of 3"));
    assert!(html.contains("value=\"billing\""));
    assert!(html.contains(">ships invoices</textarea>"));
}

pub fn data_link(html: &str, id: &str) -> (String, String) {
    let start = html.find(&format!("id=\"{id}\"")).expect("the link");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    let href = value_of(tag, "href=\"").unwrap();
    let file = value_of(tag, "download=\"").unwrap();
    let b64 = href.split_once("base64,").unwrap().1;
    (
        String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap(),
        file,
    )
}

#[tokio::test]
async fn adding_shows_the_credentials_once_with_both_downloads() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let name = "Billing \"Exporter\", Inc.";
    let res = step(
        &mut b,
        &[
            ("step", "create"),
            ("name", name),
            ("description", "ships invoices"),
            ("role", "builtin-token-introspector"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    let html = res.text();
    assert!(html.contains("Step 3 of 3"));
    assert!(html.contains("will not be shown again"));
    let client_id = value_of(&html, "id=\"cred-client-id\" readonly value=\"").unwrap();
    let secret = value_of(&html, "id=\"cred-client-secret\" readonly value=\"").unwrap();
    assert!(secret.starts_with("kgs_"));

    let (json, json_file) = data_link(&html, "download-json");
    assert_eq!(json_file, "Billing--Exporter---Inc-credentials.json");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["name"], name);
    assert_eq!(json["client_id"], client_id.as_str());
    assert_eq!(json["client_secret"], secret.as_str());
    assert_eq!(json["access_token_uri"], "https://keygate.test/oauth/token");

    let (csv, csv_file) = data_link(&html, "download-csv");
    assert_eq!(csv_file, "Billing--Exporter---Inc-credentials.csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["name", "client_id", "client_secret", "access_token_uri"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][0], name);
    assert_eq!(&rows[0][1], client_id.as_str());
    assert_eq!(&rows[0][2], secret.as_str());

    // The keys work at once, and the list shows the account without its secret.
    let creds = crate::helpers::Creds {
        id: String::new(),
        name: name.to_owned(),
        client_id: client_id.clone(),
        client_secret: secret.clone(),
    };
    let token = app.token_response(&creds).await;
    assert_eq!(token.status, StatusCode::OK);
    let list = b.get("/settings/service-accounts").await.text();
    assert!(list.contains(&client_id));
    assert!(!list.contains(&secret));
}

#[tokio::test]
async fn the_secret_is_stored_nowhere_in_plain_text() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let res = step(
        &mut b,
        &[("step", "create"), ("name", "billing"), ("description", "")],
    )
    .await;
    let secret = value_of(&res.text(), "id=\"cred-client-secret\" readonly value=\"").unwrap();
    let pool = app.state.store.pool();
    for (table, column) in [
        ("service_accounts", "secret_hash"),
        ("audit_events", "detail"),
        ("changes", "key"),
    ] {
        let sql = format!("select {column} as v from {table}");
        let rows = sqlx::query(&sql).fetch_all(pool).await;
        let rows = rows.unwrap();
        for r in rows {
            let v: String = sqlx::Row::try_get(&r, "v").unwrap();
            assert!(!v.contains(&secret), "{table}.{column}");
        }
    }
    // Going back to the wizard shows an empty step 1, never the secret.
    let again = b.get("/settings/service-accounts/new").await.text();
    assert!(!again.contains(&secret));
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    for csrf in [None, Some("forged")] {
        let mut form = vec![("step", "create"), ("name", "sneaky"), ("description", "")];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        let res = b.post("/settings/service-accounts/new", &form).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(res.text().contains("Nothing was changed"));
    }
    assert_eq!(app.account_count().await, 0);
}

#[tokio::test]
async fn a_read_only_user_sees_no_add_button_and_cannot_add() {
    let app = TestApp::spawn().await;
    console_user(&app, "auditor", &["Auditor"]).await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in("auditor", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let html = b.get("/settings/service-accounts").await.text();
    assert!(!html.contains("Add Service Account"));
    assert_eq!(
        b.get("/settings/service-accounts/new").await.status,
        StatusCode::FORBIDDEN
    );
    let res = step(
        &mut b,
        &[("step", "create"), ("name", "nope"), ("description", "")],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.account_count().await, 0);
}

#[tokio::test]
async fn static_files_are_served_with_cache_headers_and_htmx_is_vendored() {
    let app = TestApp::spawn().await;
    let res = app.get("/static/vendor/htmx.min.js").send().await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.header(header::CACHE_CONTROL)
            .unwrap()
            .contains("max-age")
    );
    assert!(res.text().contains("htmx"));
    let licence = app.get("/static/vendor/htmx.LICENSE").send().await;
    assert_eq!(licence.status, StatusCode::OK);
}
