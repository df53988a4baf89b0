//! The REST API for access control: `/api/v1/roles`, `/api/v1/groups`,
//! `/api/v1/audit-events` and `/api/v1/service-accounts/{id}/sessions`, called with the
//! bearer tokens of service accounts: what each operation does to tokens already out and to
//! tokens issued afterwards, who may call it, the no-escalation rule, and the audit log.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use keygate::admin::roles::RoleInput;
use keygate::domain::audit::Actor;
use serde_json::{Value, json};

use crate::api_accounts::{
    Caller, administrator, assert_alive, assert_dead, call, caller, create_ok, get, introspector,
    manager, patch,
};
use crate::helpers::{Creds, Resp, TEST_API_IDENTIFIER, TestApp, unix_secs};

// ---------------------------------------------------------------------------------------------
// Helpers

async fn post_json(app: &TestApp, token: &str, path: &str, body: Value) -> Resp {
    call(app, Method::POST, path, Some(token), Some(body)).await
}

async fn patch_json(app: &TestApp, token: &str, path: &str, body: Value) -> Resp {
    call(app, Method::PATCH, path, Some(token), Some(body)).await
}

async fn del(app: &TestApp, token: &str, path: &str) -> Resp {
    call(app, Method::DELETE, path, Some(token), None).await
}

/// Creates a role through the API (must answer 201), in an API defining its permissions
/// ([`TestApp::api_defining`]); returns its JSON.
async fn create_role(app: &TestApp, token: &str, name: &str, permissions: &[&str]) -> Value {
    let api = app.api_defining(permissions).await;
    let res = post_json(
        app,
        token,
        "/api/v1/roles",
        json!({"name": name, "api": api, "permissions": permissions}),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()
}

/// Creates a role as the command-line operator (who may give anything); returns its id.
async fn system_role(app: &TestApp, name: &str, permissions: &[&str]) -> String {
    let api = app.api_defining(permissions).await;
    app.state
        .admin
        .create_role(
            &Actor::system(),
            RoleInput {
                name: name.to_owned(),
                description: String::new(),
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                api: Some(api),
            },
        )
        .await
        .expect("create role")
        .id
}

/// Creates a group through the API (must answer 201); returns its JSON.
async fn create_group(
    app: &TestApp,
    token: &str,
    name: &str,
    roles: &[&str],
    members: &[&str],
) -> Value {
    let res = post_json(
        app,
        token,
        "/api/v1/groups",
        json!({"name": name, "roles": roles, "members": members}),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// The `scope` of a fresh token of `creds`.
async fn new_scope(app: &TestApp, creds: &Creds) -> String {
    let res = app.token_response(creds).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()["scope"].as_str().unwrap().to_owned()
}

/// The `scope` of a fresh token of `creds` for the API `resource`.
async fn new_scope_for(app: &TestApp, creds: &Creds, resource: &str) -> String {
    let res = app.token_response_for(creds, resource).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()["scope"].as_str().unwrap().to_owned()
}

/// What `token` allows now, according to whoami (which must answer 200).
async fn permissions_now(app: &TestApp, token: &str) -> Value {
    let res = app.whoami(token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()["permissions"].clone()
}

/// The `names` of the `[{id, name}]` list `v`.
fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Audit events through the API (must answer 200).
async fn audit(app: &TestApp, token: &str, query: &str) -> Value {
    let res = get(app, token, &format!("/api/v1/audit-events{query}")).await;
    assert_eq!(res.status, StatusCode::OK, "{query}: {}", res.text());
    res.json()
}

fn actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Roles

#[tokio::test]
async fn a_role_is_created_read_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    let api = app.api_defining(&["invoices:read", "invoices:write"]).await;
    let res = post_json(
        &app,
        &root.token,
        "/api/v1/roles",
        json!({
            "name": "  Invoices  ",
            "api": api,
            "description": "for the billing API",
            "permissions": ["invoices:write", " invoices:read ", "invoices:read", ""],
        }),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let v = res.json();
    assert_eq!(v["name"], "Invoices", "the name is trimmed");
    assert_eq!(v["description"], "for the billing API");
    assert_eq!(v["builtin"], false);
    assert_eq!(v["api"], api.as_str());
    assert_eq!(
        v["permissions"],
        json!(["invoices:read", "invoices:write"]),
        "trimmed, sorted, without duplicates or blanks"
    );
    let id = id_of(&v);
    let path = format!("/api/v1/roles/{id}");

    let one = get(&app, &root.token, &path).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text());
    let one = one.json();
    assert_eq!(one["name"], "Invoices");
    assert_eq!(
        one["held_by"],
        json!({"service_accounts": 0, "groups": 0, "console_users": 0})
    );

    // Held by an account directly, by a group and by a console user.
    create_ok(
        &app,
        &root.token,
        json!({"name": "billing", "roles": ["Invoices"]}),
    )
    .await;
    create_group(&app, &root.token, "billing-team", &["Invoices"], &[]).await;
    crate::console::console_user(&app, "clerk", &["Invoices"]).await;
    let one = get(&app, &root.token, &path).await.json();
    assert_eq!(
        one["held_by"],
        json!({"service_accounts": 1, "groups": 1, "console_users": 1})
    );

    // PATCH changes only what it names.
    let res = patch_json(&app, &root.token, &path, json!({"description": "new"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let v = res.json();
    assert_eq!(v["name"], "Invoices");
    assert_eq!(v["description"], "new");
    assert_eq!(v["permissions"], json!(["invoices:read", "invoices:write"]));
    let res = patch_json(
        &app,
        &root.token,
        &path,
        json!({"name": "Invoicing", "permissions": ["invoices:read"]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let one = get(&app, &root.token, &path).await.json();
    assert_eq!(one["name"], "Invoicing");
    assert_eq!(one["description"], "new");
    assert_eq!(one["permissions"], json!(["invoices:read"]));

    // The list holds the built-ins and this one.
    let list = get(&app, &root.token, "/api/v1/roles").await.json();
    let listed = names(&list["items"]);
    for n in [
        "Administrator",
        "Service Account Manager",
        "Auditor",
        "Token Introspector",
        "Invoicing",
    ] {
        assert!(listed.iter().any(|l| l == n), "{n} in {listed:?}");
    }

    // An unused role goes without confirmation.
    let spare = create_role(&app, &root.token, "spare", &["spare:use"]).await;
    let spare_path = format!("/api/v1/roles/{}", id_of(&spare));
    assert_eq!(
        del(&app, &root.token, &spare_path).await.status,
        StatusCode::NO_CONTENT
    );
    get(&app, &root.token, &spare_path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    del(&app, &root.token, &spare_path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    patch_json(&app, &root.token, &spare_path, json!({"name": "x"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn built_in_roles_cannot_be_changed_or_deleted() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    let before = get(&app, &root.token, "/api/v1/roles").await.json();
    for id in [
        "builtin-administrator",
        "builtin-service-account-manager",
        "builtin-auditor",
        "builtin-token-introspector",
    ] {
        let path = format!("/api/v1/roles/{id}");
        let v = get(&app, &root.token, &path).await.json();
        assert_eq!(v["builtin"], true, "{v}");
        for body in [
            json!({"permissions": ["invoices:read"]}),
            json!({"name": "renamed"}),
            json!({"description": "changed"}),
        ] {
            patch_json(&app, &root.token, &path, body)
                .await
                .assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
        // Whether or not anybody holds it (root holds Administrator).
        for query in ["", "?confirm=true"] {
            del(&app, &root.token, &format!("{path}{query}"))
                .await
                .assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
    }
    let after = get(&app, &root.token, "/api/v1/roles").await.json();
    assert_eq!(before, after);
    assert_eq!(
        permissions_now(&app, &root.token).await,
        json!([
            "audit:read",
            "policies:write",
            "roles:write",
            "service-accounts:read",
            "service-accounts:write",
            "tokens:introspect",
            "users:read",
            "users:write"
        ])
    );
}

#[tokio::test]
async fn a_duplicate_role_name_is_409_and_a_bad_permission_422_naming_permissions() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    let first = create_role(&app, &root.token, "Invoices", &["invoices:read"]).await;
    let other = create_role(&app, &root.token, "Reports", &["reports:read"]).await;
    let api = app.api_defining(&["x:y", "ok:fine"]).await;
    let res = post_json(
        &app,
        &root.token,
        "/api/v1/roles",
        json!({"name": "Invoices", "api": api, "permissions": ["x:y"]}),
    )
    .await;
    res.assert_error(StatusCode::CONFLICT, "conflict");
    let res = post_json(
        &app,
        &root.token,
        "/api/v1/roles",
        json!({"name": "Administrator", "api": "keygate"}),
    )
    .await;
    res.assert_error(StatusCode::CONFLICT, "conflict");
    let res = patch_json(
        &app,
        &root.token,
        &format!("/api/v1/roles/{}", id_of(&other)),
        json!({"name": "Invoices"}),
    )
    .await;
    res.assert_error(StatusCode::CONFLICT, "conflict");

    for bad in ["has space", "quo\"te", "back\\slash", "caf\u{e9}:read"] {
        let res = post_json(
            &app,
            &root.token,
            "/api/v1/roles",
            json!({"name": "Broken", "api": api, "permissions": ["ok:fine", bad]}),
        )
        .await;
        res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(res.json()["field"], "permissions", "{bad}: {}", res.text());
        let res = patch_json(
            &app,
            &root.token,
            &format!("/api/v1/roles/{}", id_of(&first)),
            json!({"permissions": [bad]}),
        )
        .await;
        res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(res.json()["field"], "permissions");
    }
    let res = post_json(
        &app,
        &root.token,
        "/api/v1/roles",
        json!({"name": "  ", "api": api}),
    )
    .await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(res.json()["field"], "name");

    // Nothing of it was stored.
    let list = get(&app, &root.token, "/api/v1/roles").await.json();
    let listed = names(&list["items"]);
    assert_eq!(listed.len(), 6, "{listed:?}");
    assert!(!listed.iter().any(|n| n == "Broken"));
    let v = get(
        &app,
        &root.token,
        &format!("/api/v1/roles/{}", id_of(&first)),
    )
    .await
    .json();
    assert_eq!(v["permissions"], json!(["invoices:read"]));
}

#[tokio::test]
async fn deleting_a_role_in_use_needs_confirmation_and_then_its_holders_lose_it_at_once() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    let role = create_role(&app, &root.token, "Invoices", &["invoices:read"]).await;
    let path = format!("/api/v1/roles/{}", id_of(&role));
    let c = create_ok(
        &app,
        &root.token,
        json!({"name": "billing", "roles": ["Invoices", "Token Introspector"]}),
    )
    .await;
    // It holds permissions in two APIs: a plain token is for keygate's own, the other
    // API's permissions travel in a token asked for with `resource`.
    let token = app.token(&c).await;
    let invoices = app.token_for(&c, TEST_API_IDENTIFIER).await;
    assert_eq!(
        permissions_now(&app, &token).await,
        json!(["tokens:introspect"])
    );
    assert_eq!(
        permissions_now(&app, &invoices).await,
        json!(["invoices:read"])
    );

    for query in ["", "?confirm=false"] {
        let res = del(&app, &root.token, &format!("{path}{query}")).await;
        res.assert_error(StatusCode::CONFLICT, "conflict");
        assert!(res.text().contains("confirm=true"), "{}", res.text());
    }
    // Nothing changed.
    let v = get(&app, &root.token, &path).await.json();
    assert_eq!(v["held_by"]["service_accounts"], 1);
    assert_eq!(
        permissions_now(&app, &token).await,
        json!(["tokens:introspect"])
    );
    assert_eq!(
        permissions_now(&app, &invoices).await,
        json!(["invoices:read"])
    );
    assert_eq!(new_scope(&app, &c).await, "tokens:introspect");
    assert_eq!(
        new_scope_for(&app, &c, TEST_API_IDENTIFIER).await,
        "invoices:read"
    );

    let res = del(&app, &root.token, &format!("{path}?confirm=true")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    get(&app, &root.token, &path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    // The token out loses the permission at once; new tokens do not carry it, and one for
    // the API where it now holds nothing is refused.
    assert_eq!(permissions_now(&app, &invoices).await, json!([]));
    assert_eq!(
        permissions_now(&app, &token).await,
        json!(["tokens:introspect"])
    );
    assert_eq!(new_scope(&app, &c).await, "tokens:introspect");
    app.token_response_for(&c, TEST_API_IDENTIFIER)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_target");
    let acct = get(
        &app,
        &root.token,
        &format!("/api/v1/service-accounts/{}", c.id),
    )
    .await
    .json();
    assert_eq!(names(&acct["roles"]), vec!["Token Introspector"]);
}

#[tokio::test]
async fn a_role_change_reaches_new_tokens_and_a_removed_permission_leaves_old_ones_at_once() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    let role = create_role(&app, &root.token, "Invoices", &["invoices:read"]).await;
    let path = format!("/api/v1/roles/{}", id_of(&role));
    let c = create_ok(
        &app,
        &root.token,
        json!({"name": "billing", "roles": ["Invoices"]}),
    )
    .await;
    let old = app.token(&c).await;
    assert_eq!(permissions_now(&app, &old).await, json!(["invoices:read"]));

    app.api_defining(&["invoices:write"]).await;
    let res = patch_json(
        &app,
        &root.token,
        &path,
        json!({"permissions": ["invoices:read", "invoices:write"]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let wide = app.token_response(&c).await.json();
    assert_eq!(wide["scope"], "invoices:read invoices:write");
    let wide = wide["access_token"].as_str().unwrap().to_owned();
    // A token keeps the scope it was issued with: no widening of tokens already out.
    assert_eq!(permissions_now(&app, &old).await, json!(["invoices:read"]));

    let res = patch_json(
        &app,
        &root.token,
        &path,
        json!({"permissions": ["invoices:write"]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(permissions_now(&app, &old).await, json!([]));
    assert_eq!(
        permissions_now(&app, &wide).await,
        json!(["invoices:write"])
    );
    assert_eq!(new_scope(&app, &c).await, "invoices:write");
    // Asking for the removed permission is refused.
    let res = app
        .post("/oauth/token")
        .basic(&c)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "invoices:read"),
        ])
        .send()
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_scope");
}

// ---------------------------------------------------------------------------------------------
// Groups

#[tokio::test]
async fn groups_are_created_read_changed_and_deleted_and_give_their_roles_to_members() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    create_role(&app, &root.token, "Invoices", &["invoices:read"]).await;
    let a = create_ok(
        &app,
        &root.token,
        json!({"name": "alpha", "roles": ["Token Introspector"]}),
    )
    .await;
    let b = create_ok(&app, &root.token, json!({"name": "beta"})).await;
    let ta = app.token(&a).await;
    let tb = app.token(&b).await;

    let res = post_json(
        &app,
        &root.token,
        "/api/v1/groups",
        json!({
            "name": "billing-team",
            "description": "people who bill",
            "roles": ["invoices"],
            "members": [a.id],
        }),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let g = res.json();
    assert_eq!(g["name"], "billing-team");
    assert_eq!(g["description"], "people who bill");
    assert_eq!(names(&g["roles"]), vec!["Invoices"]);
    assert_eq!(names(&g["members"]), vec!["alpha"]);
    assert_eq!(g["members"][0]["id"], a.id.as_str());
    let path = format!("/api/v1/groups/{}", id_of(&g));
    let one = get(&app, &root.token, &path).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json(), g);
    assert_eq!(g["bindings"][0]["role"]["name"], "Invoices");
    assert_eq!(g["bindings"][0]["node"], Value::Null);
    // The list leaves the bindings out.
    let list = get(&app, &root.token, "/api/v1/groups").await.json();
    let mut listed = g.clone();
    listed.as_object_mut().unwrap().remove("bindings");
    assert_eq!(list["items"], json!([listed]));

    // Effective permissions: own roles ∪ the group's roles, in new tokens and whoami. alpha
    // now holds permissions in two APIs: plain tokens are for keygate's, the other API's
    // come with `resource`.
    let test_api = TEST_API_IDENTIFIER;
    assert_eq!(new_scope(&app, &a).await, "tokens:introspect");
    assert_eq!(new_scope_for(&app, &a, test_api).await, "invoices:read");
    let ta2 = app.token(&a).await;
    let ta2i = app.token_for(&a, test_api).await;
    assert_eq!(
        permissions_now(&app, &ta2).await,
        json!(["tokens:introspect"])
    );
    assert_eq!(permissions_now(&app, &ta2i).await, json!(["invoices:read"]));
    assert_eq!(new_scope(&app, &b).await, "");

    // More roles for the group: new tokens carry them; members stay.
    let res = patch_json(
        &app,
        &root.token,
        &path,
        json!({"roles": ["Invoices", "Auditor"]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let g = res.json();
    assert_eq!(names(&g["members"]), vec!["alpha"]);
    assert_eq!(g["description"], "people who bill");
    assert_eq!(
        new_scope(&app, &a).await,
        "audit:read service-accounts:read tokens:introspect"
    );
    assert_eq!(new_scope_for(&app, &a, test_api).await, "invoices:read");
    assert_eq!(
        permissions_now(&app, &ta2).await,
        json!(["tokens:introspect"]),
        "tokens already out are not widened"
    );
    assert_eq!(permissions_now(&app, &ta2i).await, json!(["invoices:read"]));

    // Other members: alpha loses the group's permissions at once, beta gets them.
    let res = patch_json(&app, &root.token, &path, json!({"members": [b.id]})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(names(&res.json()["roles"]), vec!["Auditor", "Invoices"]);
    assert_eq!(
        permissions_now(&app, &ta2).await,
        json!(["tokens:introspect"])
    );
    assert_eq!(permissions_now(&app, &ta2i).await, json!([]));
    assert_eq!(
        permissions_now(&app, &ta).await,
        json!(["tokens:introspect"])
    );
    assert_eq!(permissions_now(&app, &tb).await, json!([]));
    assert_eq!(
        new_scope(&app, &b).await,
        "audit:read service-accounts:read"
    );
    assert_eq!(new_scope_for(&app, &b, test_api).await, "invoices:read");
    let tb2 = app.token(&b).await;
    let tb2i = app.token_for(&b, test_api).await;

    // PATCH of the account puts it in groups (by name or id).
    let res = patch(
        &app,
        &root.token,
        &a.id,
        json!({"groups": ["BILLING-team"]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let one = get(&app, &root.token, &path).await.json();
    assert_eq!(names(&one["members"]), vec!["alpha", "beta"]);
    let ta3 = app.token(&a).await;
    let ta3i = app.token_for(&a, test_api).await;
    assert_eq!(
        permissions_now(&app, &ta3).await,
        json!(["audit:read", "service-accounts:read", "tokens:introspect"])
    );
    assert_eq!(permissions_now(&app, &ta3i).await, json!(["invoices:read"]));
    // …and out of them.
    let res = patch(&app, &root.token, &a.id, json!({"groups": []})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        permissions_now(&app, &ta3).await,
        json!(["tokens:introspect"])
    );
    assert_eq!(permissions_now(&app, &ta3i).await, json!([]));
    let res = patch(&app, &root.token, &a.id, json!({"groups": [id_of(&one)]})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = patch(
        &app,
        &root.token,
        &a.id,
        json!({"groups": ["no such group"]}),
    )
    .await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(res.json()["field"], "groups");

    // Deleting the group takes its permissions away at once.
    let ta4 = app.token(&a).await;
    assert_eq!(
        permissions_now(&app, &tb2).await,
        json!(["audit:read", "service-accounts:read"])
    );
    assert_eq!(permissions_now(&app, &tb2i).await, json!(["invoices:read"]));
    assert_eq!(
        del(&app, &root.token, &path).await.status,
        StatusCode::NO_CONTENT
    );
    get(&app, &root.token, &path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(permissions_now(&app, &tb2).await, json!([]));
    assert_eq!(permissions_now(&app, &tb2i).await, json!([]));
    assert_eq!(
        permissions_now(&app, &ta4).await,
        json!(["tokens:introspect"])
    );
    assert_eq!(new_scope(&app, &a).await, "tokens:introspect");
    assert_eq!(new_scope(&app, &b).await, "");
    let list = get(&app, &root.token, "/api/v1/groups").await.json();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn group_errors_are_404_409_and_422() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    create_group(&app, &root.token, "team", &[], &[]).await;
    post_json(&app, &root.token, "/api/v1/groups", json!({"name": "team"}))
        .await
        .assert_error(StatusCode::CONFLICT, "conflict");
    let res = post_json(
        &app,
        &root.token,
        "/api/v1/groups",
        json!({"name": "other", "roles": ["no such role"]}),
    )
    .await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(res.json()["field"], "roles");
    let res = post_json(
        &app,
        &root.token,
        "/api/v1/groups",
        json!({"name": "other", "members": ["no-such-account"]}),
    )
    .await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(res.json()["field"], "members");
    for (m, p) in [
        (Method::GET, "/api/v1/groups/nope"),
        (Method::PATCH, "/api/v1/groups/nope"),
        (Method::DELETE, "/api/v1/groups/nope"),
    ] {
        let body = (m == Method::PATCH).then(|| json!({"name": "x"}));
        call(&app, m, p, Some(&root.token), body)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    let list = get(&app, &root.token, "/api/v1/groups").await.json();
    assert_eq!(names(&list["items"]), vec!["team"]);
}

// ---------------------------------------------------------------------------------------------
// Who may call what

#[tokio::test]
async fn role_and_group_writes_need_roles_write_reads_service_accounts_read_audit_audit_read() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    let m = manager(&app).await;
    let auditor = caller(&app, "auditor", &["Auditor"]).await;
    let nobody = caller(&app, "nobody", &[]).await;
    let role = create_role(&app, &root.token, "Invoices", &["invoices:read"]).await;
    let role_path = format!("/api/v1/roles/{}", id_of(&role));
    let c = create_ok(
        &app,
        &root.token,
        json!({"name": "billing", "roles": ["Invoices"]}),
    )
    .await;
    let g = create_group(&app, &root.token, "team", &["Invoices"], &[&c.id]).await;
    let group_path = format!("/api/v1/groups/{}", id_of(&g));

    for t in [&m.token, &auditor.token] {
        for path in ["/api/v1/roles", &role_path, "/api/v1/groups", &group_path] {
            assert_eq!(get(&app, t, path).await.status, StatusCode::OK, "{path}");
        }
        let refused = [
            post_json(&app, t, "/api/v1/roles", json!({"name": "mine"})).await,
            patch_json(&app, t, &role_path, json!({"name": "renamed"})).await,
            // The role is in use: still 403, not a request for confirmation.
            del(&app, t, &role_path).await,
            del(&app, t, &format!("{role_path}?confirm=true")).await,
            post_json(&app, t, "/api/v1/groups", json!({"name": "mine"})).await,
            patch_json(&app, t, &group_path, json!({"members": []})).await,
            del(&app, t, &group_path).await,
        ];
        for res in &refused {
            res.assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
    }
    // The audit log: the auditor yes, the manager no.
    assert!(
        !audit(&app, &auditor.token, "").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    get(&app, &m.token, "/api/v1/audit-events")
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");

    // No role at all: nothing, not even reading.
    for path in [
        "/api/v1/roles",
        role_path.as_str(),
        "/api/v1/groups",
        group_path.as_str(),
        "/api/v1/audit-events",
    ] {
        get(&app, &nobody.token, path)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
    }
    // And what the body names is not looked at before the permission is.
    for t in [&nobody.token, &m.token] {
        for res in [
            post_json(
                &app,
                t,
                "/api/v1/groups",
                json!({"name": "x", "roles": ["no such role"]}),
            )
            .await,
            patch_json(&app, t, &group_path, json!({"roles": ["no such role"]})).await,
        ] {
            assert!(
                res.status == StatusCode::FORBIDDEN || res.status == StatusCode::NOT_FOUND,
                "{}",
                res.text()
            );
            assert!(!res.text().contains("Administrator"), "{}", res.text());
        }
    }

    // Nothing changed.
    let v = get(&app, &root.token, &role_path).await.json();
    assert_eq!(v["name"], "Invoices");
    assert_eq!(v["held_by"]["service_accounts"], 1);
    let v = get(&app, &root.token, &group_path).await.json();
    assert_eq!(names(&v["members"]), vec!["billing"]);
    let list = get(&app, &root.token, "/api/v1/roles").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
    let list = get(&app, &root.token, "/api/v1/groups").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn nobody_gives_a_permission_they_do_not_hold() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    // roles:write gives authority over custom permissions: an Administrator may define one.
    create_role(&app, &root.token, "Invoices", &["invoices:read"]).await;
    let c = create_ok(
        &app,
        &root.token,
        json!({"name": "billing", "roles": ["Invoices"]}),
    )
    .await;
    assert_eq!(new_scope(&app, &c).await, "invoices:read");

    // A role definer holds roles:write but not audit:read.
    system_role(
        &app,
        "Role Definer",
        &[
            "roles:write",
            "service-accounts:read",
            "service-accounts:write",
        ],
    )
    .await;
    let d = caller(&app, "definer", &["Role Definer"]).await;
    let res = post_json(
        &app,
        &d.token,
        "/api/v1/roles",
        json!({"name": "Peek", "api": "keygate", "permissions": ["audit:read"]}),
    )
    .await;
    res.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(res.text().contains("audit:read"), "{}", res.text());
    // Custom permissions it may define, but not slip audit:read into one later: not into
    // the custom API's role (which does not define it), nor by moving the role to keygate's.
    let reports = create_role(&app, &d.token, "Reports", &["reports:read"]).await;
    let reports_path = format!("/api/v1/roles/{}", id_of(&reports));
    let res = patch_json(
        &app,
        &d.token,
        &reports_path,
        json!({"permissions": ["reports:read", "audit:read"]}),
    )
    .await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(res.json()["field"], "permissions");
    patch_json(
        &app,
        &d.token,
        &reports_path,
        json!({"api": "keygate", "permissions": ["audit:read"]}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "forbidden");
    let v = get(&app, &root.token, &reports_path).await.json();
    assert_eq!(v["permissions"], json!(["reports:read"]));
    // Nor into the role it holds itself.
    let own = get(&app, &root.token, "/api/v1/roles").await.json();
    let definer_id = own["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Role Definer")
        .map(id_of)
        .unwrap();
    patch_json(
        &app,
        &d.token,
        &format!("/api/v1/roles/{definer_id}"),
        json!({"permissions": ["roles:write", "service-accounts:read", "service-accounts:write", "audit:read"]}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "forbidden");

    // Nor put accounts into a group whose roles carry it.
    let auditors = create_group(&app, &root.token, "auditors", &["Auditor"], &[]).await;
    let auditors_path = format!("/api/v1/groups/{}", id_of(&auditors));
    let target = create_ok(&app, &d.token, json!({"name": "target"})).await;
    let refused = [
        post_json(
            &app,
            &d.token,
            "/api/v1/groups",
            json!({"name": "mine", "roles": ["Auditor"], "members": [target.id]}),
        )
        .await,
        patch_json(
            &app,
            &d.token,
            &auditors_path,
            json!({"members": [target.id]}),
        )
        .await,
        patch(&app, &d.token, &target.id, json!({"groups": ["auditors"]})).await,
        patch(&app, &d.token, &d.creds.id, json!({"groups": ["auditors"]})).await,
        patch(&app, &d.token, &target.id, json!({"roles": ["Auditor"]})).await,
    ];
    for res in &refused {
        res.assert_error(StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(new_scope(&app, &target).await, "");
    assert_eq!(
        permissions_now(&app, &d.token).await,
        json!([
            "roles:write",
            "service-accounts:read",
            "service-accounts:write"
        ])
    );
    let v = get(&app, &root.token, &auditors_path).await.json();
    assert_eq!(v["members"], json!([]));
    let list = get(&app, &root.token, "/api/v1/groups").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // A group of custom roles is fine.
    let mine = create_group(&app, &d.token, "reporters", &["Reports"], &[&target.id]).await;
    assert_eq!(names(&mine["members"]), vec!["target"]);
    assert_eq!(new_scope(&app, &target).await, "reports:read");

    // A Service Account Manager (no roles:write) cannot give a custom permission, even one
    // it holds itself (its token for keygate's REST API carries keygate's permissions only):
    // the permissions of other APIs are given by whoever holds roles:write…
    let m = manager(&app).await;
    patch(&app, &m.token, &target.id, json!({"roles": ["Invoices"]}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    let res = post_json(
        &app,
        &m.token,
        "/api/v1/service-accounts",
        json!({"name": "sneaky", "roles": ["Invoices"]}),
    )
    .await;
    res.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(new_scope(&app, &target).await, "reports:read");
    let m2 = caller(
        &app,
        "billing-manager",
        &["Service Account Manager", "Invoices", "Reports"],
    )
    .await;
    patch(&app, &m2.token, &target.id, json!({"roles": ["Invoices"]}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(new_scope(&app, &target).await, "reports:read");
    // …which, with the keygate permissions the account holds (the takeover rule), is all
    // it takes.
    let m3 = caller(
        &app,
        "reports-manager",
        &["Service Account Manager", "Role Definer"],
    )
    .await;
    let res = patch(&app, &m3.token, &target.id, json!({"roles": ["Invoices"]})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(new_scope(&app, &target).await, "invoices:read reports:read");
}

// ---------------------------------------------------------------------------------------------
// The audit log

#[tokio::test]
async fn every_role_and_group_operation_is_audited_and_the_log_filters_and_pages() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    let auditor = caller(&app, "auditor", &["Auditor"]).await;
    let role = create_role(&app, &root.token, "Invoices", &["invoices:read"]).await;
    let role_path = format!("/api/v1/roles/{}", id_of(&role));
    // The operator defines the permissions used below (a second event of the test API).
    app.api_defining(&["invoices:write", "later:use"]).await;
    let res = patch_json(
        &app,
        &root.token,
        &role_path,
        json!({"permissions": ["invoices:write"]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let g = create_group(&app, &root.token, "team", &["Invoices"], &[]).await;
    let group_path = format!("/api/v1/groups/{}", id_of(&g));
    patch_json(&app, &root.token, &group_path, json!({"description": "d"})).await;
    assert_eq!(
        del(&app, &root.token, &group_path).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        del(&app, &root.token, &role_path).await.status,
        StatusCode::NO_CONTENT
    );

    // By action: exact, and a prefix ending in '.'.
    let page = audit(&app, &auditor.token, "?action=role.").await;
    assert_eq!(
        actions(&page),
        vec!["role.deleted", "role.updated", "role.created"]
    );
    let page = audit(&app, &auditor.token, "?action=group.").await;
    assert_eq!(
        actions(&page),
        vec!["group.deleted", "group.updated", "group.created"]
    );
    let page = audit(&app, &auditor.token, "?action=role.updated").await;
    assert_eq!(actions(&page), vec!["role.updated"]);
    let e = &page["items"][0];
    assert_eq!(e["actor"]["kind"], "service_account");
    assert_eq!(e["actor"]["id"], root.creds.id.as_str());
    assert_eq!(e["actor"]["name"], "root");
    assert_eq!(e["target"]["kind"], "role");
    assert_eq!(e["target"]["id"], role["id"]);
    assert_eq!(e["target"]["name"], "Invoices");
    assert_eq!(e["detail"]["permissions"], json!(["invoices:write"]));
    assert_eq!(
        e["detail"]["before"]["permissions"],
        json!(["invoices:read"])
    );
    assert!(e["at"].is_string() && e["source"].is_string(), "{e}");
    // Neither a bare word nor a LIKE pattern matches as a prefix.
    for q in ["role", "role%", "%", "role_created", "_ole.created"] {
        let page = audit(&app, &auditor.token, &format!("?action={q}")).await;
        assert_eq!(actions(&page), Vec::<String>::new(), "{q}");
    }

    // By actor (id or name) and target (id or name).
    let by_name = audit(&app, &auditor.token, "?actor=root").await;
    let by_id = audit(&app, &auditor.token, &format!("?actor={}", root.creds.id)).await;
    assert_eq!(by_name, by_id);
    assert_eq!(
        actions(&by_name),
        vec![
            "role.deleted",
            "group.deleted",
            "group.updated",
            "group.created",
            "role.updated",
            "role.created"
        ]
    );
    let by_target = audit(
        &app,
        &auditor.token,
        &format!("?target={}", role["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        actions(&by_target),
        vec!["role.deleted", "role.updated", "role.created"]
    );
    let by_target_name = audit(&app, &auditor.token, "?target=team").await;
    assert_eq!(
        actions(&by_target_name),
        vec!["group.deleted", "group.updated", "group.created"]
    );
    let both = audit(&app, &auditor.token, "?actor=root&action=group.created").await;
    assert_eq!(actions(&both), vec!["group.created"]);
    let none = audit(&app, &auditor.token, "?actor=auditor").await;
    assert_eq!(actions(&none), Vec::<String>::new());

    // Cursor pages of 2 walk the whole log, newest first, each event once.
    let all = audit(&app, &auditor.token, "?limit=500").await;
    assert!(all["next_cursor"].is_null());
    let all_ids: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    // Two accounts created, the test API created and extended, and the six operations above.
    assert_eq!(all_ids.len(), 10, "{all_ids:?}");
    assert!(all_ids.windows(2).all(|w| w[0] > w[1]), "{all_ids:?}");
    let mut walked = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = audit(&app, &auditor.token, &query).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        walked.extend(items.iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next_cursor"].as_i64() {
            Some(c) => query = format!("?limit=2&cursor={c}"),
            None => break,
        }
        assert!(walked.len() <= all_ids.len(), "the walk does not end");
    }
    assert_eq!(walked, all_ids);

    // since (inclusive) and until (exclusive), in epoch seconds.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t = unix_secs();
    create_role(&app, &root.token, "Later", &["later:use"]).await;
    let after = audit(&app, &auditor.token, &format!("?since={t}")).await;
    assert_eq!(actions(&after), vec!["role.created"]);
    assert_eq!(after["items"][0]["target"]["name"], "Later");
    let before = audit(&app, &auditor.token, &format!("?until={t}&limit=500")).await;
    assert_eq!(before["items"], all["items"]);
    let window = audit(
        &app,
        &auditor.token,
        &format!("?since={}&until={}", t - 3600, t + 3600),
    )
    .await;
    assert_eq!(window["items"].as_array().unwrap().len(), all_ids.len() + 1);
    let future = audit(&app, &auditor.token, &format!("?since={}", t + 3600)).await;
    assert_eq!(future["items"], json!([]));

    // Bad queries.
    for q in ["?limit=0", "?limit=501"] {
        let res = get(&app, &auditor.token, &format!("/api/v1/audit-events{q}")).await;
        res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(res.json()["field"], "limit");
    }
    for q in ["?cursor=abc", "?since=yesterday", "?color=blue"] {
        let res = get(&app, &auditor.token, &format!("/api/v1/audit-events{q}")).await;
        res.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[tokio::test]
async fn the_audit_log_cannot_be_changed_through_the_api() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    create_role(&app, &root.token, "Invoices", &["invoices:read"]).await;
    let all = audit(&app, &root.token, "?limit=500").await;
    let id = all["items"][0]["id"].as_i64().unwrap();
    for (m, p) in [
        (Method::POST, "/api/v1/audit-events".to_owned()),
        (Method::DELETE, "/api/v1/audit-events".to_owned()),
        (Method::PATCH, "/api/v1/audit-events".to_owned()),
        (Method::PUT, "/api/v1/audit-events".to_owned()),
        (Method::GET, format!("/api/v1/audit-events/{id}")),
        (Method::DELETE, format!("/api/v1/audit-events/{id}")),
        (Method::PATCH, format!("/api/v1/audit-events/{id}")),
        (Method::PUT, format!("/api/v1/audit-events/{id}")),
    ] {
        // Sent as is: a 405 need not carry the API's JSON error body.
        let mut req = app.request(m.clone(), &p).bearer(&root.token);
        if m != Method::GET && m != Method::DELETE {
            req = req.json(&json!({"action": "x"}));
        }
        let res = req.send().await;
        assert!(
            res.status == StatusCode::NOT_FOUND || res.status == StatusCode::METHOD_NOT_ALLOWED,
            "{m} {p}: {}",
            res.status
        );
    }
    assert_eq!(audit(&app, &root.token, "?limit=500").await, all);
}

// ---------------------------------------------------------------------------------------------
// Sessions

fn sessions_path(c: &Creds) -> String {
    format!("/api/v1/service-accounts/{}/sessions", c.id)
}

/// The `jti` of a token (verified with the published keys).
async fn jti_of(app: &TestApp, token: &str) -> String {
    let (_, claims) = app.verify_with_jwks(token).await;
    claims["jti"].as_str().unwrap().to_owned()
}

/// The jtis an account's session list shows, in order.
async fn listed(app: &TestApp, caller: &Caller, c: &Creds) -> Vec<String> {
    let res = get(app, &caller.token, &sessions_path(c)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["jti"].as_str().unwrap().to_owned())
        .collect()
}

/// Three tokens of `c`, oldest first, a few milliseconds apart.
async fn three_tokens(app: &TestApp, c: &Creds) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..3 {
        out.push(app.token(c).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out
}

#[tokio::test]
async fn sessions_are_listed_newest_first_and_revoked_one_by_one_or_all_at_once() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    let inspector = introspector(&app).await;
    let c = app
        .account("billing")
        .roles(&["Auditor"])
        .lifetime(600)
        .create()
        .await;
    let tokens = three_tokens(&app, &c).await;
    let mut jtis = Vec::new();
    for t in &tokens {
        jtis.push(jti_of(&app, t).await);
    }

    let res = get(&app, &root.token, &sessions_path(&c)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let items = res.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "{items:?}");
    let newest_first: Vec<String> = jtis.iter().rev().cloned().collect();
    assert_eq!(
        items
            .iter()
            .map(|s| s["jti"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>(),
        newest_first
    );
    for s in &items {
        assert_eq!(s["client_id"], c.client_id.as_str());
        let issued = s["issued_at"].as_str().unwrap();
        let expires = s["expires_at"].as_str().unwrap();
        assert!(issued.ends_with('Z') && expires.ends_with('Z'), "{s}");
        assert!(issued < expires, "{s}");
    }

    // Revoke the middle one: it dies, the others live.
    let res = del(
        &app,
        &root.token,
        &format!("{}/{}", sessions_path(&c), jtis[1]),
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert_dead(&app, &inspector, &tokens[1]).await;
    assert_alive(&app, &inspector, &tokens[0]).await;
    assert_alive(&app, &inspector, &tokens[2]).await;
    assert_eq!(
        listed(&app, &root, &c).await,
        vec![jtis[2].clone(), jtis[0].clone()]
    );
    // Twice, or an unknown one: 404.
    for jti in [jtis[1].as_str(), "no-such-jti"] {
        del(&app, &root.token, &format!("{}/{jti}", sessions_path(&c)))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    // Another account's token cannot be revoked through this one.
    let other = app.account("other").create().await;
    let other_token = app.token(&other).await;
    let other_jti = jti_of(&app, &other_token).await;
    del(
        &app,
        &root.token,
        &format!("{}/{other_jti}", sessions_path(&c)),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_alive(&app, &inspector, &other_token).await;

    // Revoke all: every token dies; new ones work and are listed.
    let res = del(&app, &root.token, &sessions_path(&c)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    for t in &tokens {
        assert_dead(&app, &inspector, t).await;
    }
    assert_eq!(listed(&app, &root, &c).await, Vec::<String>::new());
    assert_alive(&app, &inspector, &other_token).await;
    let fresh = app.token(&c).await;
    assert_alive(&app, &inspector, &fresh).await;
    assert_eq!(
        listed(&app, &root, &c).await,
        vec![jti_of(&app, &fresh).await]
    );

    // Audited.
    let page = audit(
        &app,
        &root.token,
        &format!("?target={}&action=token.revoked", c.id),
    )
    .await;
    assert_eq!(actions(&page), vec!["token.revoked"]);
    assert_eq!(page["items"][0]["detail"]["jti"], jtis[1].as_str());
    assert_eq!(page["items"][0]["actor"]["name"], "root");
    let page = audit(
        &app,
        &root.token,
        &format!("?target={}&action=service_account.tokens_revoked", c.id),
    )
    .await;
    assert_eq!(actions(&page), vec!["service_account.tokens_revoked"]);
    assert_eq!(page["items"][0]["target"]["name"], "billing");
}

#[tokio::test]
async fn revoked_expired_and_disabled_tokens_are_not_listed() {
    let app = TestApp::spawn().await;
    let root = administrator(&app).await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let tokens = three_tokens(&app, &c).await;
    let jtis = [
        jti_of(&app, &tokens[0]).await,
        jti_of(&app, &tokens[1]).await,
        jti_of(&app, &tokens[2]).await,
    ];
    // Revoked by the client (RFC 7009) and by itself (DELETE /session).
    assert_eq!(app.revoke(&c, &tokens[0]).await.status, StatusCode::OK);
    assert_eq!(
        app.end_session(&tokens[1]).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(listed(&app, &root, &c).await, vec![jtis[2].clone()]);

    // A record of an expired token of the same generation is not listed; one that has not
    // expired is (so only the expiry keeps the first one out).
    let generation: i64 = jtis[2].split('.').next().unwrap().parse().unwrap();
    let now = keygate::domain::now_ms();
    for (jti, issued, expires) in [
        ("0.expired-record", now - 120_000, now - 60_000),
        ("0.current-record", now - 1_000, now + 60_000),
    ] {
        let jti = jti.replacen('0', &generation.to_string(), 1);
        sqlx::query(
            "insert into issued_tokens (jti, account_id, client_id, generation, issued_at, \
             expires_at) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&jti)
        .bind(&c.id)
        .bind(&c.client_id)
        .bind(generation)
        .bind(issued)
        .bind(expires)
        .execute(app.state.store.pool())
        .await
        .unwrap();
    }
    let shown = listed(&app, &root, &c).await;
    assert_eq!(
        shown,
        vec![jtis[2].clone(), format!("{generation}.current-record")]
    );

    // A disabled account has no live sessions, and enabling it does not revive them.
    let res = patch(&app, &root.token, &c.id, json!({"enabled": false})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(listed(&app, &root, &c).await, Vec::<String>::new());
    let res = patch(&app, &root.token, &c.id, json!({"enabled": true})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(listed(&app, &root, &c).await, Vec::<String>::new());
    app.whoami(&tokens[2]).await.assert_invalid_token();
}

#[tokio::test]
async fn an_auditor_lists_sessions_but_cannot_revoke_them() {
    let app = TestApp::spawn().await;
    let auditor = caller(&app, "auditor", &["Auditor"]).await;
    let nobody = caller(&app, "nobody", &[]).await;
    let inspector = introspector(&app).await;
    let c = app.account("billing").create().await;
    let token = app.token(&c).await;
    let jti = jti_of(&app, &token).await;
    assert_eq!(listed(&app, &auditor, &c).await, vec![jti.clone()]);
    for res in [
        del(
            &app,
            &auditor.token,
            &format!("{}/{jti}", sessions_path(&c)),
        )
        .await,
        del(&app, &auditor.token, &sessions_path(&c)).await,
        get(&app, &nobody.token, &sessions_path(&c)).await,
        del(&app, &nobody.token, &format!("{}/{jti}", sessions_path(&c))).await,
        del(&app, &nobody.token, &sessions_path(&c)).await,
    ] {
        res.assert_error(StatusCode::FORBIDDEN, "forbidden");
    }
    assert_alive(&app, &inspector, &token).await;
    assert_eq!(listed(&app, &auditor, &c).await, vec![jti]);
    get(
        &app,
        &auditor.token,
        "/api/v1/service-accounts/nope/sessions",
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");
    let events = audit(&app, &auditor.token, &format!("?target={}", c.id)).await;
    assert_eq!(actions(&events), vec!["service_account.created"]);
}
