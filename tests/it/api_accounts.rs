//! The REST API `/api/v1/service-accounts`, called with the bearer tokens of service
//! accounts: what each operation returns, what it does at the token endpoint, whoami and
//! introspection, who may call it, how it fails, and what it writes to the audit log.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use keygate::domain::audit::Actor;
use keygate::store::audit::{AuditFilter, AuditRow};
use serde_json::{Value, json};

use crate::helpers::{Creds, Resp, TestApp};

pub(crate) const MANAGER: &str = "Service Account Manager";

/// An account calling the API, with a token.
pub(crate) struct Caller {
    pub(crate) creds: Creds,
    pub(crate) token: String,
}

pub(crate) async fn caller(app: &TestApp, name: &str, roles: &[&str]) -> Caller {
    let creds = app.account(name).roles(roles).create().await;
    let token = app.token(&creds).await;
    Caller { creds, token }
}

pub(crate) async fn manager(app: &TestApp) -> Caller {
    caller(app, "automation", &[MANAGER]).await
}

/// An administrator account, which may give every role.
pub(crate) async fn administrator(app: &TestApp) -> Caller {
    caller(app, "root", &["Administrator"]).await
}

/// An account that may introspect, to ask about other tokens.
pub(crate) async fn introspector(app: &TestApp) -> Creds {
    app.account("introspector")
        .roles(&["Token Introspector"])
        .create()
        .await
}

/// Sends an API request with `token` (if any) and a JSON body (if any). Every API answer
/// is checked to be JSON `{"error","message"}` when it is an error, and never a 5xx.
pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut req = app.request(method.clone(), path);
    if let Some(t) = token {
        req = req.bearer(t);
    }
    if let Some(b) = &body {
        req = req.json(b);
    }
    let res = req.send().await;
    assert!(
        !res.status.is_server_error(),
        "{method} {path}: {} {}",
        res.status,
        res.text()
    );
    if res.status.is_client_error() {
        let v = res.json();
        assert!(v["error"].is_string(), "{method} {path}: {v}");
        assert!(v["message"].is_string(), "{method} {path}: {v}");
    }
    res
}

pub(crate) async fn create(app: &TestApp, token: &str, body: Value) -> Resp {
    call(
        app,
        Method::POST,
        "/api/v1/service-accounts",
        Some(token),
        Some(body),
    )
    .await
}

pub(crate) async fn get(app: &TestApp, token: &str, path: &str) -> Resp {
    call(app, Method::GET, path, Some(token), None).await
}

pub(crate) async fn patch(app: &TestApp, token: &str, id: &str, body: Value) -> Resp {
    let path = format!("/api/v1/service-accounts/{id}");
    call(app, Method::PATCH, &path, Some(token), Some(body)).await
}

pub(crate) async fn delete(app: &TestApp, token: &str, id: &str) -> Resp {
    let path = format!("/api/v1/service-accounts/{id}");
    call(app, Method::DELETE, &path, Some(token), None).await
}

async fn regenerate(app: &TestApp, token: &str, id: &str, body: Option<Value>) -> Resp {
    let path = format!("/api/v1/service-accounts/{id}/regenerate");
    call(app, Method::POST, &path, Some(token), body).await
}

/// The credentials in a 201/200 answer of create or regenerate.
pub(crate) fn creds_of(res: &Resp) -> Creds {
    let v = res.json();
    Creds {
        id: v["id"].as_str().unwrap().to_owned(),
        name: v["name"].as_str().unwrap().to_owned(),
        client_id: v["client_id"].as_str().unwrap().to_owned(),
        client_secret: v["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// Creates an account through the API and returns its credentials.
pub(crate) async fn create_ok(app: &TestApp, token: &str, body: Value) -> Creds {
    let res = create(app, token, body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    creds_of(&res)
}

pub(crate) async fn account(app: &TestApp, token: &str, id: &str) -> Value {
    let res = get(app, token, &format!("/api/v1/service-accounts/{id}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()
}

#[track_caller]
pub(crate) fn assert_invalid_client(res: &Resp) {
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    assert_eq!(res.error(), "invalid_client", "{}", res.text());
}

/// Asserts that `token` is dead everywhere: whoami 401 and introspection inactive.
pub(crate) async fn assert_dead(app: &TestApp, introspector: &Creds, token: &str) {
    app.whoami(token).await.assert_invalid_token();
    assert!(!app.is_active(introspector, token).await, "still active");
}

/// Asserts that `token` works: whoami 200 and introspection active.
pub(crate) async fn assert_alive(app: &TestApp, introspector: &Creds, token: &str) {
    let res = app.whoami(token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(app.is_active(introspector, token).await, "not active");
}

pub(crate) async fn events(app: &TestApp, id: &str) -> Vec<AuditRow> {
    app.state
        .admin
        .audit_events(
            &Actor::system(),
            &AuditFilter {
                target: Some(id.to_owned()),
                limit: 50,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The operations

#[tokio::test]
async fn a_manager_creates_an_account_whose_credentials_get_a_token() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let res = create(
        &app,
        &m.token,
        json!({
            "name": "  billing  ",
            "description": "ships invoices",
            "roles": ["service account MANAGER"],
            "token_lifetime_secs": 600,
        }),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    let v = res.json();
    assert_eq!(v["name"], "billing", "the name is trimmed");
    assert_eq!(v["description"], "ships invoices");
    assert_eq!(v["enabled"], true);
    assert_eq!(v["token_lifetime_secs"], 600);
    assert_eq!(v["roles"][0]["name"], MANAGER);
    assert_eq!(v["access_token_uri"], "https://keygate.test/oauth/token");
    assert!(v["client_id"].as_str().unwrap().starts_with("kgc_"));
    assert!(v["client_secret"].as_str().unwrap().starts_with("kgs_"));
    assert!(v["created_at"].is_string() && v["last_used_at"].is_null());
    assert!(v["previous_client_id"].is_null());

    let creds = creds_of(&res);
    let token = app.token_response(&creds).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text());
    assert_eq!(
        token.json()["scope"],
        "service-accounts:read service-accounts:write"
    );
    assert_eq!(token.json()["expires_in"], 600);

    // GET shows the same account, never the secret.
    let one = get(
        &app,
        &m.token,
        &format!("/api/v1/service-accounts/{}", creds.id),
    )
    .await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(one.json().get("client_secret").is_none());
    assert!(!one.text().contains(&creds.client_secret));
    assert_eq!(one.json()["client_id"], creds.client_id.as_str());
    let list = get(&app, &m.token, "/api/v1/service-accounts").await;
    assert!(!list.text().contains(&creds.client_secret));
}

#[tokio::test]
async fn the_list_filters_by_name_and_status_and_its_pages_hold_every_account_once() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let names = [
        "Alpha", "alpha-2", "beta", "Émile", "Ölfeld", "émilie", "Zeta", "ZEBRA", "gamma_%",
        "delta",
    ];
    let mut ids = BTreeSet::from([m.creds.id.clone()]);
    for n in names {
        ids.insert(create_ok(&app, &m.token, json!({ "name": n })).await.id);
    }
    let all = get(&app, &m.token, "/api/v1/service-accounts").await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), names.len() + 1);
    assert!(all["next_cursor"].is_null());

    // Substring, case-insensitive; `%` and `_` are literal.
    let alphas = get(&app, &m.token, "/api/v1/service-accounts?q=ALPH")
        .await
        .json();
    let found: BTreeSet<&str> = alphas["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(found, BTreeSet::from(["Alpha", "alpha-2"]));
    let pct = get(&app, &m.token, "/api/v1/service-accounts?q=a_%25")
        .await
        .json();
    assert_eq!(pct["items"].as_array().unwrap().len(), 1, "{pct}");
    assert_eq!(pct["items"][0]["name"], "gamma_%");

    // Disabled only.
    let alpha = alphas["items"][0]["id"].as_str().unwrap().to_owned();
    let off = patch(&app, &m.token, &alpha, json!({"enabled": false})).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text());
    let disabled = get(&app, &m.token, "/api/v1/service-accounts?enabled=false")
        .await
        .json();
    let items = disabled["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{disabled}");
    assert_eq!(items[0]["id"], alpha.as_str());
    assert_eq!(items[0]["enabled"], false);
    let enabled = get(&app, &m.token, "/api/v1/service-accounts?enabled=true")
        .await
        .json();
    assert_eq!(enabled["items"].as_array().unwrap().len(), names.len());

    // Every page size walks every account exactly once, in the same order.
    let order: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    for limit in [1, 2, 3, 4, 10] {
        let mut seen = Vec::new();
        let mut path = format!("/api/v1/service-accounts?limit={limit}");
        loop {
            let page = get(&app, &m.token, &path).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text());
            let page = page.json();
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit);
            seen.extend(items.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/service-accounts?limit={limit}&cursor={c}"),
                None => break,
            }
            assert!(seen.len() <= ids.len(), "the walk does not end");
        }
        assert_eq!(seen, order, "limit {limit}");
    }
}

#[tokio::test]
async fn patch_changes_each_field_and_get_shows_it() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let c = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    let res = patch(
        &app,
        &m.token,
        &c.id,
        json!({
            "name": "Billing v2",
            "description": "new words",
            "token_lifetime_secs": 120,
            "roles": [MANAGER],
        }),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let v = account(&app, &m.token, &c.id).await;
    assert_eq!(v["name"], "Billing v2");
    assert_eq!(v["description"], "new words");
    assert_eq!(v["token_lifetime_secs"], 120);
    let roles: Vec<&str> = v["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, [MANAGER]);
    assert_eq!(res.json(), v, "PATCH answers with the account");
    let token = app.token_response(&c).await.json();
    assert_eq!(token["expires_in"], 120);

    // A field left out stays as it is; an empty description clears it.
    let res = patch(&app, &m.token, &c.id, json!({"description": ""})).await;
    assert_eq!(res.status, StatusCode::OK);
    let v = account(&app, &m.token, &c.id).await;
    assert_eq!(v["name"], "Billing v2");
    assert_eq!(v["description"], "");
    assert_eq!(v["roles"].as_array().unwrap().len(), 1);

    // Renaming to a different case of the same name is not a conflict with itself.
    let res = patch(&app, &m.token, &c.id, json!({"name": "BILLING V2"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn delete_answers_204_and_then_404() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let c = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    let res = delete(&app, &m.token, &c.id).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(res.body.is_empty());
    let path = format!("/api/v1/service-accounts/{}", c.id);
    get(&app, &m.token, &path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    delete(&app, &m.token, &c.id)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    regenerate(&app, &m.token, &c.id, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    patch(&app, &m.token, &c.id, json!({"name": "x"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

// ---------------------------------------------------------------------------------------------
// Effects at the token endpoint, whoami and introspection

#[tokio::test]
async fn disabling_kills_the_keys_and_tokens_and_enabling_does_not_revive_old_tokens() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let inspector = introspector(&app).await;
    let c = create_ok(
        &app,
        &m.token,
        json!({"name": "billing", "roles": [MANAGER]}),
    )
    .await;
    let old = app.token(&c).await;
    assert_alive(&app, &inspector, &old).await;

    let res = patch(&app, &m.token, &c.id, json!({"enabled": false})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["enabled"], false);
    assert_invalid_client(&app.token_response(&c).await);
    assert_dead(&app, &inspector, &old).await;
    // The disabled account's token cannot call the API either.
    get(&app, &old, "/api/v1/service-accounts")
        .await
        .assert_invalid_token();

    let res = patch(&app, &m.token, &c.id, json!({"enabled": true})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["enabled"], true);
    assert_dead(&app, &inspector, &old).await;
    let new = app.token(&c).await;
    assert_alive(&app, &inspector, &new).await;
    // Others are untouched.
    assert_alive(&app, &inspector, &m.token).await;
}

#[tokio::test]
async fn regenerating_without_grace_kills_the_old_pair_and_its_tokens_at_once() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let inspector = introspector(&app).await;
    let c = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    let old = app.token(&c).await;

    let res = regenerate(&app, &m.token, &c.id, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    let v = res.json();
    assert_eq!(v["name"], "billing");
    assert_eq!(v["access_token_uri"], "https://keygate.test/oauth/token");
    assert!(v["previous_client_id"].is_null());
    assert!(v["previous_credentials_expire_at"].is_null());
    let new = creds_of(&res);
    assert_eq!(new.id, c.id);
    assert_ne!(new.client_id, c.client_id);
    assert_ne!(new.client_secret, c.client_secret);

    assert_invalid_client(&app.token_response(&c).await);
    // Neither half of the old pair works with the other half of the new one.
    assert_invalid_client(&app.token_response(&new.with_secret(&c.client_secret)).await);
    assert_invalid_client(&app.token_response(&c.with_secret(&new.client_secret)).await);
    assert_dead(&app, &inspector, &old).await;
    let fresh = app.token(&new).await;
    assert_alive(&app, &inspector, &fresh).await;

    // An explicit grace of zero is the same.
    let res = regenerate(
        &app,
        &m.token,
        &c.id,
        Some(json!({"grace_period_seconds": 0})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_invalid_client(&app.token_response(&new).await);
    assert_dead(&app, &inspector, &fresh).await;
}

#[tokio::test]
async fn with_a_grace_period_both_pairs_work_until_it_ends() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let inspector = introspector(&app).await;
    let c = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    let old = app.token(&c).await;

    let before = crate::helpers::unix_secs();
    let res = regenerate(
        &app,
        &m.token,
        &c.id,
        Some(json!({"grace_period_seconds": 3})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let new = creds_of(&res);
    let v = account(&app, &m.token, &c.id).await;
    assert_eq!(v["previous_client_id"], c.client_id.as_str());
    let until = humantime::parse_rfc3339(v["previous_credentials_expire_at"].as_str().unwrap())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (before + 2..=before + 4).contains(&until),
        "{until} vs {before}"
    );
    assert_eq!(res.json()["previous_client_id"], c.client_id.as_str());

    // During the grace period both pairs and the old token work.
    let during_old = app.token(&c).await;
    let during_new = app.token(&new).await;
    assert_alive(&app, &inspector, &old).await;
    assert_alive(&app, &inspector, &during_old).await;
    assert_alive(&app, &inspector, &during_new).await;

    // Afterwards only the new pair and its tokens do.
    tokio::time::sleep(Duration::from_millis(3300)).await;
    assert_invalid_client(&app.token_response(&c).await);
    assert_dead(&app, &inspector, &old).await;
    assert_dead(&app, &inspector, &during_old).await;
    assert_alive(&app, &inspector, &during_new).await;
    assert_eq!(app.token_response(&new).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_grace_period_does_not_revive_tokens_that_died_when_the_account_was_disabled() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let inspector = introspector(&app).await;
    let c = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    let before_disable = app.token(&c).await;
    patch(&app, &m.token, &c.id, json!({"enabled": false})).await;
    patch(&app, &m.token, &c.id, json!({"enabled": true})).await;
    assert_dead(&app, &inspector, &before_disable).await;
    let after_enable = app.token(&c).await;

    let res = regenerate(
        &app,
        &m.token,
        &c.id,
        Some(json!({"grace_period_seconds": 600})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_dead(&app, &inspector, &before_disable).await;
    assert_alive(&app, &inspector, &after_enable).await;
}

#[tokio::test]
async fn disabling_during_a_grace_period_ends_it() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let inspector = introspector(&app).await;
    let c = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    let old = app.token(&c).await;
    let res = regenerate(
        &app,
        &m.token,
        &c.id,
        Some(json!({"grace_period_seconds": 600})),
    )
    .await;
    let new = creds_of(&res);
    patch(&app, &m.token, &c.id, json!({"enabled": false})).await;
    patch(&app, &m.token, &c.id, json!({"enabled": true})).await;
    let v = account(&app, &m.token, &c.id).await;
    assert!(v["previous_client_id"].is_null(), "{v}");
    assert_invalid_client(&app.token_response(&c).await);
    assert_dead(&app, &inspector, &old).await;
    assert_eq!(app.token_response(&new).await.status, StatusCode::OK);
}

#[tokio::test]
async fn deleting_kills_keys_and_tokens_and_the_name_can_be_used_again_with_new_keys() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let inspector = introspector(&app).await;
    let c = create_ok(
        &app,
        &m.token,
        json!({"name": "billing", "roles": [MANAGER]}),
    )
    .await;
    let old = app.token(&c).await;
    assert_eq!(
        delete(&app, &m.token, &c.id).await.status,
        StatusCode::NO_CONTENT
    );
    assert_invalid_client(&app.token_response(&c).await);
    assert_dead(&app, &inspector, &old).await;

    let again = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    assert_ne!(again.id, c.id);
    assert_ne!(again.client_id, c.client_id);
    assert_ne!(again.client_secret, c.client_secret);
    assert_invalid_client(&app.token_response(&c).await);
    assert_dead(&app, &inspector, &old).await;
    let t = app.token(&again).await;
    assert_alive(&app, &inspector, &t).await;
}

#[tokio::test]
async fn roles_added_widen_new_tokens_and_roles_removed_narrow_existing_ones_at_once() {
    let app = TestApp::spawn().await;
    // Only someone holding their permissions may give these roles.
    let m = administrator(&app).await;
    let c = create_ok(
        &app,
        &m.token,
        json!({"name": "billing", "roles": ["Auditor"]}),
    )
    .await;
    let auditor_token = app.token(&c).await;
    let who = app.whoami(&auditor_token).await.json();
    assert_eq!(
        who["permissions"],
        json!(["audit:read", "service-accounts:read"])
    );

    // Adding a role: tokens issued afterwards carry it.
    patch(
        &app,
        &m.token,
        &c.id,
        json!({"roles": ["Auditor", "Token Introspector"]}),
    )
    .await;
    let wide = app.token_response(&c).await.json();
    assert_eq!(
        wide["scope"],
        "audit:read service-accounts:read tokens:introspect"
    );
    let wide_token = wide["access_token"].as_str().unwrap().to_owned();
    let who = app.whoami(&wide_token).await.json();
    assert_eq!(who["roles"], json!(["Auditor", "Token Introspector"]));
    // The earlier token keeps only its own scope.
    let who = app.whoami(&auditor_token).await.json();
    assert_eq!(
        who["permissions"],
        json!(["audit:read", "service-accounts:read"])
    );

    // Removing a role takes its permissions away from tokens already out.
    patch(
        &app,
        &m.token,
        &c.id,
        json!({"roles": ["Token Introspector"]}),
    )
    .await;
    let who = app.whoami(&wide_token).await.json();
    assert_eq!(who["permissions"], json!(["tokens:introspect"]));
    assert_eq!(who["roles"], json!(["Token Introspector"]));
    let who = app.whoami(&auditor_token).await.json();
    assert_eq!(who["permissions"], json!([]));
    // …and from what the API lets them do.
    get(&app, &wide_token, "/api/v1/service-accounts")
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    let narrow = app.token_response(&c).await.json();
    assert_eq!(narrow["scope"], "tokens:introspect");

    // Removing every role.
    patch(&app, &m.token, &c.id, json!({"roles": []})).await;
    let who = app.whoami(&wide_token).await.json();
    assert_eq!(who["permissions"], json!([]));
    assert_eq!(account(&app, &m.token, &c.id).await["roles"], json!([]));
}

#[tokio::test]
async fn a_manager_losing_its_role_loses_the_api_at_once() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let admin = administrator(&app).await;
    let res = patch(
        &app,
        &admin.token,
        &m.creds.id,
        json!({"roles": ["Auditor"]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    create(&app, &m.token, json!({"name": "late"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        get(&app, &m.token, "/api/v1/service-accounts").await.status,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// Who may call what

#[tokio::test]
async fn an_auditor_may_read_but_not_change() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let a = caller(&app, "auditor", &["Auditor"]).await;
    let c = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    let one = format!("/api/v1/service-accounts/{}", c.id);
    assert_eq!(
        get(&app, &a.token, "/api/v1/service-accounts").await.status,
        StatusCode::OK
    );
    assert_eq!(get(&app, &a.token, &one).await.status, StatusCode::OK);
    assert_eq!(
        get(&app, &a.token, "/api/v1/roles").await.status,
        StatusCode::OK
    );

    let refused = [
        create(&app, &a.token, json!({"name": "nope"})).await,
        patch(&app, &a.token, &c.id, json!({"name": "renamed"})).await,
        patch(&app, &a.token, &c.id, json!({"enabled": false})).await,
        delete(&app, &a.token, &c.id).await,
        regenerate(&app, &a.token, &c.id, None).await,
        regenerate(
            &app,
            &a.token,
            &c.id,
            Some(json!({"grace_period_seconds": 60})),
        )
        .await,
    ];
    for res in &refused {
        res.assert_error(StatusCode::FORBIDDEN, "forbidden");
    }
    let v = account(&app, &m.token, &c.id).await;
    assert_eq!(v["name"], "billing");
    assert_eq!(v["enabled"], true);
    assert_eq!(v["client_id"], c.client_id.as_str());
    assert_eq!(app.token_response(&c).await.status, StatusCode::OK);
    assert_eq!(app.account_count().await, 3);
}

#[tokio::test]
async fn permission_is_checked_before_the_body_is() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let a = caller(&app, "auditor", &["Auditor"]).await;
    let nobody = caller(&app, "nobody", &[]).await;
    let c = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    for t in [&a.token, &nobody.token] {
        // An unknown role must not tell a caller without the permission which roles exist.
        let res = create(&app, t, json!({"name": "x", "roles": ["no such role"]})).await;
        res.assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert!(!res.text().contains("Administrator"), "{}", res.text());
        let res = patch(&app, t, &c.id, json!({"roles": ["no such role"]})).await;
        res.assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert!(!res.text().contains("Administrator"), "{}", res.text());
    }
}

#[tokio::test]
async fn a_token_without_roles_may_not_even_read() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let nobody = caller(&app, "nobody", &[]).await;
    let one = format!("/api/v1/service-accounts/{}", m.creds.id);
    for path in ["/api/v1/service-accounts", one.as_str(), "/api/v1/roles"] {
        get(&app, &nobody.token, path)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
    }
    create(&app, &nobody.token, json!({"name": "x"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    delete(&app, &nobody.token, &m.creds.id)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    // whoami is for everyone with a token.
    assert_eq!(app.whoami(&nobody.token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn no_token_or_a_bad_one_is_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let id = &m.creds.id;
    let one = format!("/api/v1/service-accounts/{id}");
    let regen = format!("/api/v1/service-accounts/{id}/regenerate");
    let cases: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/api/v1/service-accounts", None),
        (
            Method::POST,
            "/api/v1/service-accounts",
            Some(json!({"name": "x"})),
        ),
        (Method::GET, &one, None),
        (Method::PATCH, &one, Some(json!({"name": "x"}))),
        (Method::DELETE, &one, None),
        (Method::POST, &regen, None),
    ];
    for (method, path, body) in cases {
        for token in [
            None,
            Some("not-a-jwt"),
            Some(m.creds.client_secret.as_str()),
        ] {
            let res = call(&app, method.clone(), path, token, body.clone()).await;
            if token.is_some() {
                res.assert_invalid_token();
            } else {
                // No token at all: a challenge without an error code (RFC 6750 §3.1).
                assert_eq!(res.status, StatusCode::UNAUTHORIZED);
                let challenge = res.header(header::WWW_AUTHENTICATE).unwrap();
                assert_eq!(challenge, r#"Bearer realm="keygate""#);
            }
            assert_eq!(res.error(), "invalid_token");
        }
    }
    assert_eq!(app.account_count().await, 1);
    assert_eq!(account(&app, &m.token, id).await["name"], "automation");
}

#[tokio::test]
async fn a_manager_cannot_give_the_administrator_role() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let res = create(
        &app,
        &m.token,
        json!({"name": "escalator", "roles": ["Administrator"]}),
    )
    .await;
    res.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(
        res.json()["message"]
            .as_str()
            .unwrap()
            .contains("Administrator")
    );
    assert_eq!(app.account_count().await, 1);

    let c = create_ok(
        &app,
        &m.token,
        json!({"name": "billing", "roles": [MANAGER]}),
    )
    .await;
    let before = account(&app, &m.token, &c.id).await;
    for body in [
        json!({"roles": ["Administrator"]}),
        json!({"roles": [MANAGER, "Administrator"], "name": "renamed"}),
        json!({"roles": ["Auditor"]}),
        json!({"roles": ["Token Introspector"], "description": "changed"}),
    ] {
        patch(&app, &m.token, &c.id, body)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
    }
    // Nor to itself.
    patch(
        &app,
        &m.token,
        &m.creds.id,
        json!({"roles": ["Administrator"]}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(account(&app, &m.token, &c.id).await, before);
    let who = app.whoami(&m.token).await.json();
    assert_eq!(who["roles"], json!([MANAGER]));
    // Roles it holds itself, or none, are fine.
    let res = patch(&app, &m.token, &c.id, json!({"roles": []})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

// ---------------------------------------------------------------------------------------------
// Errors

#[tokio::test]
async fn unknown_ids_are_404() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let id = "00000000-0000-4000-8000-000000000000";
    let res = get(&app, &m.token, &format!("/api/v1/service-accounts/{id}")).await;
    res.assert_error(StatusCode::NOT_FOUND, "not_found");
    patch(&app, &m.token, id, json!({"name": "x"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    delete(&app, &m.token, id)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    regenerate(&app, &m.token, id, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    get(&app, &m.token, "/api/v1/no-such-thing")
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn duplicate_names_are_409_on_create_and_rename_whatever_their_case() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let c = create_ok(&app, &m.token, json!({"name": "Billing"})).await;
    for name in ["Billing", "billing", "  BILLING "] {
        let res = create(&app, &m.token, json!({ "name": name })).await;
        res.assert_error(StatusCode::CONFLICT, "conflict");
        assert!(
            res.json()["message"]
                .as_str()
                .unwrap()
                .contains("already exists")
        );
    }
    let other = create_ok(&app, &m.token, json!({"name": "shipping"})).await;
    patch(&app, &m.token, &other.id, json!({"name": "BILLING"}))
        .await
        .assert_error(StatusCode::CONFLICT, "conflict");
    // The rename, and whatever came with it, did not happen.
    let res = patch(
        &app,
        &m.token,
        &other.id,
        json!({"name": "billing", "description": "changed"}),
    )
    .await;
    res.assert_error(StatusCode::CONFLICT, "conflict");
    let v = account(&app, &m.token, &other.id).await;
    assert_eq!(v["name"], "shipping");
    assert_eq!(v["description"], "");
    assert_eq!(account(&app, &m.token, &c.id).await["name"], "Billing");
    assert_eq!(app.account_count().await, 3);
}

#[tokio::test]
async fn invalid_fields_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let c = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    let long = "x".repeat(101);
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": long}), "name"),
        (json!({"name": "a\nb"}), "name"),
        (
            json!({"name": "ok", "token_lifetime_secs": 59}),
            "token_lifetime_secs",
        ),
        (
            json!({"name": "ok", "token_lifetime_secs": 86401}),
            "token_lifetime_secs",
        ),
        (
            json!({"name": "ok", "description": "d".repeat(1001)}),
            "description",
        ),
    ];
    for (body, field) in &cases {
        let res = create(&app, &m.token, body.clone()).await;
        res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(res.json()["field"], *field, "{body}");
        let res = patch(&app, &m.token, &c.id, body.clone()).await;
        res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(res.json()["field"], *field, "{body}");
    }
    // The bounds themselves are accepted.
    for secs in [60, 86400] {
        let res = patch(&app, &m.token, &c.id, json!({"token_lifetime_secs": secs})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    let res = patch(&app, &m.token, &c.id, json!({"name": "y".repeat(100)})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    // Grace period.
    for grace in [86401, -1] {
        let res = regenerate(
            &app,
            &m.token,
            &c.id,
            Some(json!({ "grace_period_seconds": grace })),
        )
        .await;
        res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(res.json()["field"], "grace_period_seconds");
    }
    let res = regenerate(
        &app,
        &m.token,
        &c.id,
        Some(json!({ "grace_period_seconds": 86400 })),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    // List paging.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-5", "limit"),
        ("cursor=not-a-cursor!", "cursor"),
        ("cursor=Zm9v", "cursor"),
    ] {
        let res = get(&app, &m.token, &format!("/api/v1/service-accounts?{query}")).await;
        res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(res.json()["field"], field, "{query}");
    }

    // Unknown roles are named.
    let res = create(
        &app,
        &m.token,
        json!({"name": "ok", "roles": ["Auditor", "Wizard"]}),
    )
    .await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(res.json()["field"], "roles");
    assert!(res.json()["message"].as_str().unwrap().contains("Wizard"));
    let res = patch(&app, &m.token, &c.id, json!({"roles": ["Sorcerer"]})).await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(res.json()["message"].as_str().unwrap().contains("Sorcerer"));

    // Nothing was created or changed by any of these.
    assert_eq!(app.account_count().await, 2);
    let v = account(&app, &m.token, &c.id).await;
    assert_eq!(v["roles"], json!([]));
}

async fn send_raw(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    content_type: &str,
    body: &'static str,
) -> Resp {
    let res = app
        .request(method, path)
        .bearer(token)
        .header("content-type", content_type)
        .header("content-length", body.len().to_string())
        .body(body)
        .send()
        .await;
    assert!(!res.status.is_server_error(), "{}", res.text());
    res
}

#[tokio::test]
async fn malformed_bodies_and_queries_are_400() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let c = create_ok(&app, &m.token, json!({"name": "billing"})).await;
    let one = format!("/api/v1/service-accounts/{}", c.id);
    let regen = format!("{one}/regenerate");
    let cases = [
        (
            Method::POST,
            "/api/v1/service-accounts".to_owned(),
            "application/json",
            "{\"name\":",
        ),
        (
            Method::POST,
            "/api/v1/service-accounts".to_owned(),
            "application/json",
            "[]",
        ),
        (
            Method::POST,
            "/api/v1/service-accounts".to_owned(),
            "application/json",
            "{}",
        ),
        (
            Method::POST,
            "/api/v1/service-accounts".to_owned(),
            "text/plain",
            "{\"name\":\"x\"}",
        ),
        (
            Method::POST,
            "/api/v1/service-accounts".to_owned(),
            "application/json",
            "{\"name\":\"x\",\"admin\":true}",
        ),
        (
            Method::POST,
            "/api/v1/service-accounts".to_owned(),
            "application/json",
            "{\"name\":\"x\",\"token_lifetime_secs\":\"600\"}",
        ),
        (
            Method::POST,
            "/api/v1/service-accounts".to_owned(),
            "application/json",
            "{\"name\":\"x\",\"client_secret\":\"kgs_mine\"}",
        ),
        (Method::PATCH, one.clone(), "application/json", "{\"name\":"),
        (
            Method::PATCH,
            one.clone(),
            "application/json",
            "{\"id\":\"other\"}",
        ),
        (
            Method::PATCH,
            one.clone(),
            "application/json",
            "{\"enabled\":\"no\"}",
        ),
        (
            Method::POST,
            regen.clone(),
            "application/json",
            "{\"grace\":60}",
        ),
        (Method::POST, regen.clone(), "application/json", "not json"),
    ];
    for (method, path, ct, body) in cases {
        let res = send_raw(&app, &m.token, method.clone(), &path, ct, body).await;
        res.assert_error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(res.json()["message"].is_string(), "{method} {path} {body}");
    }
    for query in ["enabled=maybe", "limit=ten", "colour=red"] {
        let res = get(&app, &m.token, &format!("/api/v1/service-accounts?{query}")).await;
        res.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    // Nothing changed.
    assert_eq!(app.account_count().await, 2);
    assert_eq!(app.token_response(&c).await.status, StatusCode::OK);
    assert_eq!(account(&app, &m.token, &c.id).await["name"], "billing");
}

// ---------------------------------------------------------------------------------------------
// Audit

#[tokio::test]
async fn each_operation_writes_its_audit_event_without_secrets() {
    let app = TestApp::spawn().await;
    let m = manager(&app).await;
    let res = create(
        &app,
        &m.token,
        json!({"name": "billing", "roles": [MANAGER], "token_lifetime_secs": 300}),
    )
    .await;
    let c = creds_of(&res);
    let mut secrets = vec![c.client_secret.clone(), m.creds.client_secret.clone()];
    patch(
        &app,
        &m.token,
        &c.id,
        json!({"description": "ships", "roles": []}),
    )
    .await;
    patch(&app, &m.token, &c.id, json!({"enabled": false})).await;
    patch(&app, &m.token, &c.id, json!({"enabled": true})).await;
    let r = regenerate(
        &app,
        &m.token,
        &c.id,
        Some(json!({"grace_period_seconds": 60})),
    )
    .await;
    let regenerated = creds_of(&r);
    secrets.push(regenerated.client_secret.clone());
    let r = regenerate(&app, &m.token, &c.id, None).await;
    secrets.push(creds_of(&r).client_secret);
    assert_eq!(
        delete(&app, &m.token, &c.id).await.status,
        StatusCode::NO_CONTENT
    );

    let mut rows = events(&app, &c.id).await;
    rows.reverse();
    let actions: Vec<&str> = rows.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "service_account.created",
            "service_account.updated",
            "service_account.disabled",
            "service_account.enabled",
            "service_account.credentials_regenerated",
            "service_account.credentials_regenerated",
            "service_account.deleted",
        ]
    );
    for e in &rows {
        assert_eq!(e.actor_kind, "service_account", "{e:?}");
        assert_eq!(e.actor_id, m.creds.id, "{e:?}");
        assert_eq!(e.actor_name, "automation", "{e:?}");
        assert_eq!(e.target_kind, "service_account");
        assert_eq!(e.target_name, "billing");
        for s in &secrets {
            assert!(!e.detail.contains(s.as_str()), "a secret in {e:?}");
            assert!(!e.detail.contains(&s[4..]), "a secret in {e:?}");
        }
    }
    let created: Value = serde_json::from_str(&rows[0].detail).unwrap();
    assert_eq!(created["client_id"], c.client_id.as_str());
    assert_eq!(created["token_lifetime_secs"], 300);
    let updated: Value = serde_json::from_str(&rows[1].detail).unwrap();
    assert_eq!(updated["description"], "ships");
    assert_eq!(updated["roles"], json!([]));
    let regen: Value = serde_json::from_str(&rows[4].detail).unwrap();
    assert_eq!(regen["previous_client_id"], c.client_id.as_str());
    assert_eq!(regen["client_id"], regenerated.client_id.as_str());
    assert_eq!(regen["grace_period_seconds"], 60);

    // A rename is recorded under the new name, and refused operations write nothing.
    let d = create_ok(&app, &m.token, json!({"name": "shipping"})).await;
    patch(&app, &m.token, &d.id, json!({"name": "freight"})).await;
    let a = caller(&app, "auditor", &["Auditor"]).await;
    delete(&app, &a.token, &d.id).await;
    patch(&app, &m.token, &d.id, json!({"token_lifetime_secs": 1})).await;
    let rows = events(&app, &d.id).await;
    let actions: Vec<&str> = rows.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["service_account.updated", "service_account.created"]
    );
    assert_eq!(rows[0].target_name, "freight");
    let detail: Value = serde_json::from_str(&rows[0].detail).unwrap();
    assert_eq!(detail["name"], "freight");

    // Nothing in the whole log holds a secret.
    let all = app
        .state
        .admin
        .audit_events(
            &Actor::system(),
            &AuditFilter {
                limit: 1000,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    for e in &all {
        for s in &secrets {
            assert!(!e.detail.contains(s.as_str()), "a secret in {e:?}");
        }
    }
}
