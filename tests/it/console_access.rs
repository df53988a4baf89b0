//! The console's access pages without JavaScript: Roles, Groups, an account's groups and
//! effective permissions, Console Users, the Audit Log, an account's Sessions, and what a
//! read-only user may see and do there.

use axum::http::{Method, StatusCode, header};
use keygate::admin::roles::{GroupInput, RoleInput};
use keygate::domain::audit::Actor;
use keygate::store::audit::AuditFilter;

use crate::api_accounts::introspector;
use crate::console::{Browser, PASSWORD, console_user, csrf_of, signed_in_admin};
use crate::helpers::{Creds, Resp, TestApp};

// ---------------------------------------------------------------------------------------------
// Helpers

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
        .unwrap()
        .id
}

async fn system_group(app: &TestApp, name: &str, role_ids: &[&str], members: &[&str]) -> String {
    app.state
        .admin
        .save_group(
            &Actor::system(),
            None,
            GroupInput {
                name: name.to_owned(),
                description: String::new(),
                role_ids: role_ids.iter().map(|r| (*r).to_owned()).collect(),
                member_ids: members.iter().map(|m| (*m).to_owned()).collect(),
                bindings: None,
            },
        )
        .await
        .unwrap()
        .id
}

async fn role_names(app: &TestApp) -> Vec<String> {
    let mut v: Vec<String> = app
        .state
        .admin
        .list_roles(&Actor::system())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    v.sort();
    v
}

async fn role_permissions(app: &TestApp, id: &str) -> Vec<String> {
    app.state
        .admin
        .get_role(&Actor::system(), id)
        .await
        .unwrap()
        .permissions
}

pub(crate) async fn user_id(app: &TestApp, username: &str) -> String {
    app.state
        .admin
        .list_users(&Actor::system())
        .await
        .unwrap()
        .into_iter()
        .find(|(u, _)| u.username == username)
        .map(|(u, _)| u.id)
        .unwrap()
}

/// A console user's (enabled, role names).
async fn user_state(app: &TestApp, username: &str) -> (bool, Vec<String>) {
    app.state
        .admin
        .list_users(&Actor::system())
        .await
        .unwrap()
        .into_iter()
        .find(|(u, _)| u.username == username)
        .map(|(u, roles)| (u.enabled, roles.into_iter().map(|r| r.name).collect()))
        .unwrap()
}

async fn permissions_now(app: &TestApp, token: &str) -> serde_json::Value {
    let res = app.whoami(token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()["permissions"].clone()
}

async fn signed_in<'a>(app: &'a TestApp, username: &str) -> Browser<'a> {
    let mut b = Browser::new(app);
    let res = b.sign_in(username, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    b
}

#[track_caller]
fn assert_ok_page(res: &Resp) -> String {
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.text()
}

/// The `<tr>` of a table that mentions `needle`.
fn row_with<'h>(html: &'h str, needle: &str) -> &'h str {
    let at = html
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in {html}"));
    let start = html[..at].rfind("<tr").unwrap();
    let end = html[at..].find("</tr>").unwrap() + at;
    &html[start..end]
}

/// The number of audit events (of every kind) written so far.
async fn event_count(app: &TestApp) -> usize {
    app.state
        .admin
        .audit_events(
            &Actor::system(),
            &AuditFilter {
                limit: 10_000,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap()
        .len()
}

// ---------------------------------------------------------------------------------------------
// Roles

#[tokio::test]
async fn the_roles_page_lists_built_ins_read_only_and_custom_roles_with_edit_and_delete() {
    let app = TestApp::spawn().await;
    let id = system_role(&app, "Invoices", &["invoices:read"]).await;
    let mut b = signed_in_admin(&app).await;
    let html = assert_ok_page(&b.get("/settings/roles").await);
    assert!(
        html.contains("href=\"/settings/roles/new\""),
        "an Add Role link"
    );
    for (builtin, perm) in [
        ("builtin-administrator", "users:write"),
        ("builtin-service-account-manager", "service-accounts:write"),
        ("builtin-auditor", "audit:read"),
        ("builtin-token-introspector", "tokens:introspect"),
    ] {
        assert!(
            !html.contains(&format!("/settings/roles/{builtin}/")),
            "{builtin}"
        );
        assert!(html.contains(&format!("<code>{perm}</code>")), "{perm}");
    }
    for name in [
        "Administrator",
        "Service Account Manager",
        "Auditor",
        "Token Introspector",
    ] {
        let row = row_with(&html, &format!("<strong>{name}</strong>"));
        assert!(row.contains("Built-in"), "{row}");
        assert!(!row.contains("Edit") && !row.contains("Delete"), "{row}");
    }
    let row = row_with(&html, "<strong>Invoices</strong>");
    assert!(!row.contains("Built-in"), "{row}");
    assert!(
        row.contains(&format!("href=\"/settings/roles/{id}/edit\"")),
        "{row}"
    );
    assert!(
        row.contains(&format!("href=\"/settings/roles/{id}/delete\"")),
        "{row}"
    );
    assert!(row.contains("<code>invoices:read</code>"), "{row}");

    // A built-in role has no edit form, and posting one changes nothing.
    let res = b.get("/settings/roles/builtin-auditor/edit").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let csrf = b.csrf().await;
    let res = b
        .post(
            "/settings/roles/builtin-auditor/edit",
            &[
                ("csrf", &csrf),
                ("name", "Auditor"),
                ("api", "builtin-keygate"),
                ("perm", "builtin-keygate audit:read"),
                ("perm", "builtin-keygate users:write"),
            ],
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    let res = b
        .post("/settings/roles/builtin-auditor/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        role_permissions(&app, "builtin-auditor").await,
        vec!["audit:read", "service-accounts:read"]
    );
}

#[tokio::test]
async fn a_custom_role_is_added_edited_and_deleted_with_a_confirmation_that_counts_holders() {
    let app = TestApp::spawn().await;
    let api = app.api_defining(&["invoices:read", "invoices:write"]).await;
    let mut b = signed_in_admin(&app).await;
    let form = assert_ok_page(&b.get("/settings/roles/new").await);
    assert!(form.contains("Add Role"));
    // The API to choose, and every API's permissions as checkboxes.
    assert!(
        form.contains(&format!("<option value=\"{api}\">")),
        "{form}"
    );
    assert!(
        form.contains(&format!("value=\"{api} invoices:write\">")),
        "{form}"
    );
    assert!(
        form.contains("value=\"builtin-keygate audit:read\">"),
        "{form}"
    );
    let csrf = csrf_of(&form);
    let read = format!("{api} invoices:read");
    let write = format!("{api} invoices:write");
    let res = b
        .post(
            "/settings/roles/new",
            &[
                ("csrf", &csrf),
                ("name", "Invoices"),
                ("description", "for the billing API"),
                ("api", &api),
                ("perm", &read),
                ("perm", &write),
                // Ticked under another API: not kept.
                ("perm", "builtin-keygate audit:read"),
            ],
        )
        .await;
    let html = assert_ok_page(&b.follow(&res).await);
    assert!(html.contains("Role Invoices added."), "{html}");
    let id = app
        .state
        .admin
        .role_ids_by_names(&["Invoices".to_owned()])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        role_permissions(&app, &id).await,
        vec!["invoices:read", "invoices:write"]
    );

    // Edit: the form holds the role as it is.
    let form = assert_ok_page(&b.get(&format!("/settings/roles/{id}/edit")).await);
    assert!(form.contains("value=\"Invoices\""), "{form}");
    assert!(form.contains("for the billing API"));
    assert!(
        form.contains(&format!("<option value=\"{api}\" selected>")),
        "{form}"
    );
    assert!(
        form.contains(&format!("value=\"{read}\" checked>")),
        "{form}"
    );
    assert!(
        form.contains(&format!("value=\"{write}\" checked>")),
        "{form}"
    );
    assert!(
        form.contains("value=\"builtin-keygate audit:read\">"),
        "{form}"
    );
    let res = b
        .post(
            &format!("/settings/roles/{id}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "Invoicing"),
                ("description", ""),
                ("api", &api),
                ("perm", &read),
            ],
        )
        .await;
    assert!(assert_ok_page(&b.follow(&res).await).contains("Role Invoicing saved."));
    assert_eq!(role_permissions(&app, &id).await, vec!["invoices:read"]);

    // Held by an account and a group: the confirmation says so.
    let c = app.account("billing").roles(&["Invoicing"]).create().await;
    let token = app.token(&c).await;
    system_group(&app, "team", &[&id], &[]).await;
    let confirm = assert_ok_page(&b.get(&format!("/settings/roles/{id}/delete")).await);
    assert!(confirm.contains("Delete Invoicing?"), "{confirm}");
    assert!(
        confirm.contains("removed from 1 service account(s), 1 group(s) and 0 console user(s)"),
        "{confirm}"
    );
    // Without its CSRF token nothing happens.
    let res = b
        .post(
            &format!("/settings/roles/{id}/delete"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        permissions_now(&app, &token).await,
        serde_json::json!(["invoices:read"])
    );
    let res = b
        .post(&format!("/settings/roles/{id}/delete"), &[("csrf", &csrf)])
        .await;
    let html = assert_ok_page(&b.follow(&res).await);
    assert!(html.contains("Role deleted."));
    assert!(!html.contains("Invoicing"));
    assert_eq!(permissions_now(&app, &token).await, serde_json::json!([]));

    // An unused role: "Nobody holds this role."
    let spare = system_role(&app, "Spare", &["spare:use"]).await;
    let confirm = assert_ok_page(&b.get(&format!("/settings/roles/{spare}/delete")).await);
    assert!(confirm.contains("Nobody holds this role."), "{confirm}");
}

#[tokio::test]
async fn role_form_errors_are_shown_inline_with_the_input_kept() {
    let app = TestApp::spawn().await;
    system_role(
        &app,
        "Role Definer",
        &["roles:write", "service-accounts:read"],
    )
    .await;
    console_user(&app, "definer", &["Role Definer"]).await;
    let api = app.api_defining(&["ok:fine", "reports:read"]).await;
    let ok = format!("{api} ok:fine");
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let before = role_names(&app).await;

    // A forged checkbox value that is no permission.
    let bad = format!("{api} bad\"perm");
    let res = b
        .post(
            "/settings/roles/new",
            &[
                ("csrf", &csrf),
                ("name", "Broken"),
                ("description", "kept description"),
                ("api", &api),
                ("perm", &ok),
                ("perm", &bad),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("is not a valid permission"), "{html}");
    assert!(html.contains("value=\"Broken\""), "{html}");
    assert!(html.contains("kept description"));
    assert!(html.contains(&format!("value=\"{ok}\" checked>")), "{html}");
    assert!(
        html.contains(&format!("<option value=\"{api}\" selected>")),
        "{html}"
    );

    // No API chosen, or a permission the API does not define.
    let res = b
        .post(
            "/settings/roles/new",
            &[("csrf", &csrf), ("name", "Broken"), ("perm", &ok)],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("Choose the API"), "{}", res.text());
    assert!(res.text().contains("value=\"Broken\""));
    let undefined = format!("{api} undefined:perm");
    let res = b
        .post(
            "/settings/roles/new",
            &[
                ("csrf", &csrf),
                ("name", "Broken"),
                ("api", &api),
                ("perm", &undefined),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .contains("does not define the permission undefined:perm"),
        "{}",
        res.text()
    );

    let res = b
        .post(
            "/settings/roles/new",
            &[
                ("csrf", &csrf),
                ("name", "Administrator"),
                ("api", "builtin-keygate"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("already exists"), "{}", res.text());

    let res = b
        .post("/settings/roles/new", &[("csrf", &csrf), ("name", "")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("Name must be 1 to 100 characters"));

    // Someone with roles:write but not audit:read cannot put audit:read in a role.
    let mut d = signed_in(&app, "definer").await;
    let dcsrf = d.csrf().await;
    let res = d
        .post(
            "/settings/roles/new",
            &[
                ("csrf", &dcsrf),
                ("name", "Peek"),
                ("api", "builtin-keygate"),
                ("perm", "builtin-keygate audit:read"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("audit:read permission"), "{html}");
    assert!(html.contains("value=\"Peek\""));
    // A custom permission is fine.
    let reports = format!("{api} reports:read");
    let res = d
        .post(
            "/settings/roles/new",
            &[
                ("csrf", &dcsrf),
                ("name", "Reports"),
                ("api", &api),
                ("perm", &reports),
            ],
        )
        .await;
    assert!(assert_ok_page(&d.follow(&res).await).contains("Role Reports added."));

    let mut expected = before.clone();
    expected.push("Reports".into());
    expected.sort();
    assert_eq!(role_names(&app).await, expected);
}

// ---------------------------------------------------------------------------------------------
// Groups and an account's effective permissions

#[tokio::test]
async fn groups_are_added_edited_and_deleted_through_forms() {
    let app = TestApp::spawn().await;
    let invoices = system_role(&app, "Invoices", &["invoices:read"]).await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let html = assert_ok_page(&b.get("/settings/groups").await);
    assert!(html.contains("No groups yet"));
    assert!(html.contains("href=\"/settings/groups/new\""));

    let form = assert_ok_page(&b.get("/settings/groups/new").await);
    assert!(
        form.contains(&format!("value=\"{invoices}\"")),
        "a checkbox per role"
    );
    let csrf = csrf_of(&form);
    let res = b
        .post(
            "/settings/groups/new",
            &[
                ("csrf", &csrf),
                ("name", "billing-team"),
                ("description", "people who bill"),
                ("role", &invoices),
            ],
        )
        .await;
    let html = assert_ok_page(&b.follow(&res).await);
    assert!(html.contains("Group billing-team saved."), "{html}");
    let row = row_with(&html, "<strong>billing-team</strong>");
    assert!(row.contains("Invoices"), "{row}");
    let g = app
        .state
        .admin
        .list_groups(&Actor::system())
        .await
        .unwrap()
        .remove(0);

    // Duplicate name: inline, input kept.
    let res = b
        .post(
            "/settings/groups/new",
            &[
                ("csrf", &csrf),
                ("name", "Billing-Team"),
                ("role", &invoices),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("already exists"), "{}", res.text());
    assert!(res.text().contains("value=\"Billing-Team\""));

    // Members join from the account's Edit page; the group's edit form keeps them.
    app.state
        .admin
        .update_account(
            &Actor::system(),
            &c.id,
            keygate::admin::accounts::UpdateAccount {
                groups: Some(vec![g.id.clone()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Its only permissions are the custom API's: its plain tokens are for that API.
    let token = app.token(&c).await;
    assert_eq!(
        permissions_now(&app, &token).await,
        serde_json::json!(["invoices:read"])
    );
    let form = assert_ok_page(&b.get(&format!("/settings/groups/{}/edit", g.id)).await);
    assert!(form.contains("value=\"billing-team\""));
    assert!(
        form.contains(&format!("name=\"member\" value=\"{}\"", c.id)),
        "{form}"
    );
    let res = b
        .post(
            &format!("/settings/groups/{}/edit", g.id),
            &[
                ("csrf", &csrf),
                ("name", "billing"),
                ("description", "renamed"),
                ("role", &invoices),
                ("role", "builtin-token-introspector"),
                ("member", &c.id),
            ],
        )
        .await;
    let html = assert_ok_page(&b.follow(&res).await);
    assert!(html.contains("Group billing saved."));
    let row = row_with(&html, "<strong>billing</strong>");
    assert!(row.contains("Invoices, Token Introspector"), "{row}");
    assert!(
        row.contains(&format!("/settings/service-accounts/{}", c.id)),
        "{row}"
    );
    // Now it holds permissions in two APIs: plain tokens are for keygate's own, the other
    // API's are asked for with resource.
    let who = app.token_response(&c).await.json();
    assert_eq!(who["scope"], "tokens:introspect");
    let who = app
        .token_response_for(&c, crate::helpers::TEST_API_IDENTIFIER)
        .await
        .json();
    assert_eq!(who["scope"], "invoices:read");

    // Delete: the confirmation counts members; they lose the roles at once.
    let confirm = assert_ok_page(&b.get(&format!("/settings/groups/{}/delete", g.id)).await);
    assert!(
        confirm.contains("Its 1 member(s) lose the roles it gives them"),
        "{confirm}"
    );
    let res = b
        .post(
            &format!("/settings/groups/{}/delete", g.id),
            &[("csrf", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        permissions_now(&app, &token).await,
        serde_json::json!(["invoices:read"])
    );
    let res = b
        .post(
            &format!("/settings/groups/{}/delete", g.id),
            &[("csrf", &csrf)],
        )
        .await;
    let html = assert_ok_page(&b.follow(&res).await);
    assert!(html.contains("Group deleted."));
    assert!(html.contains("No groups yet"));
    assert_eq!(permissions_now(&app, &token).await, serde_json::json!([]));
}

#[tokio::test]
async fn the_edit_page_puts_an_account_in_a_group_and_its_page_says_where_permissions_come_from() {
    let app = TestApp::spawn().await;
    let invoices = system_role(&app, "Invoices", &["invoices:read"]).await;
    let introspection = system_role(&app, "Introspection", &["tokens:introspect"]).await;
    let g = system_group(&app, "billing-team", &[&invoices, &introspection], &[]).await;
    let c = app
        .account("billing")
        .roles(&["Token Introspector"])
        .create()
        .await;
    let mut b = signed_in_admin(&app).await;
    let page = format!("/settings/service-accounts/{}", c.id);

    let html = assert_ok_page(&b.get(&page).await);
    assert!(html.contains("Not in any group."));
    let form = assert_ok_page(&b.get(&format!("{page}/edit")).await);
    let at = form
        .find(&format!("name=\"group\" value=\"{g}\""))
        .expect("a group checkbox");
    let checkbox = &form[at..at + form[at..].find('>').unwrap()];
    assert!(!checkbox.contains("checked"), "{checkbox}");
    let csrf = csrf_of(&form);
    let res = b
        .post(
            &format!("{page}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "billing"),
                ("description", ""),
                ("token_lifetime_secs", "3600"),
                ("role", "builtin-token-introspector"),
                ("group", &g),
            ],
        )
        .await;
    let html = assert_ok_page(&b.follow(&res).await);
    assert!(html.contains("Changes saved."), "{html}");

    let html = assert_ok_page(&b.get(&page).await);
    let groups = &html[html.find("<h2>Groups</h2>").unwrap()..];
    let groups = &groups[..groups.find("</section>").unwrap()];
    assert!(groups.contains("billing-team"), "{groups}");
    assert!(html.contains("Effective permissions"));
    let row = row_with(&html, "<code>invoices:read</code></td>");
    assert!(row.contains("group billing-team (role Invoices)"), "{row}");
    assert!(
        row.contains(crate::helpers::TEST_API_NAME),
        "its API: {row}"
    );
    let row = row_with(&html, "<code>tokens:introspect</code></td>");
    assert!(
        row.contains("role Token Introspector; group billing-team (role Introspection)"),
        "{row}"
    );
    assert!(row.contains("keygate"), "its API: {row}");
    assert_eq!(
        app.token_response(&c).await.json()["scope"],
        "tokens:introspect"
    );
    assert_eq!(
        app.token_response_for(&c, crate::helpers::TEST_API_IDENTIFIER)
            .await
            .json()["scope"],
        "invoices:read"
    );
    // The edit page now shows the group ticked.
    let form = assert_ok_page(&b.get(&format!("{page}/edit")).await);
    let at = form.find(&format!("name=\"group\" value=\"{g}\"")).unwrap();
    let checkbox = &form[at..at + form[at..].find('>').unwrap()];
    assert!(checkbox.contains("checked"), "{checkbox}");
}

// ---------------------------------------------------------------------------------------------
// Console users

#[tokio::test]
async fn console_users_are_added_disabled_and_given_other_roles() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let html = assert_ok_page(&b.get("/settings/users").await);
    assert!(html.contains("Console Users"));
    assert!(html.contains("Add a console user"));
    // The admin's last sign-in reads like every other time: "just now", the instant kept
    // in `<time datetime>` and its title (not a raw RFC 3339 string).
    assert!(html.contains(" UTC\">just now</time>"), "{html}");
    let csrf = csrf_of(&html);

    // A short password: inline, the username kept, nobody added.
    let res = b
        .post(
            "/settings/users",
            &[
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "too short"),
                ("role", "builtin-auditor"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("Password must be at least 12 characters."),
        "{html}"
    );
    assert!(html.contains("value=\"alice\""), "{html}");
    assert_eq!(
        app.state
            .admin
            .list_users(&Actor::system())
            .await
            .unwrap()
            .len(),
        1
    );

    let res = b
        .post(
            "/settings/users",
            &[
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", PASSWORD),
                ("role", "builtin-auditor"),
            ],
        )
        .await;
    assert!(assert_ok_page(&res).contains("Added alice."));
    assert_eq!(
        user_state(&app, "alice").await,
        (true, vec!["Auditor".to_owned()])
    );
    let alice = user_id(&app, "alice").await;

    // Alice signs in; disabling her ends her session at once.
    let mut a = signed_in(&app, "alice").await;
    assert_eq!(a.get("/settings/audit").await.status, StatusCode::OK);
    let res = b
        .post(
            &format!("/settings/users/{alice}/enabled"),
            &[("csrf", &csrf), ("enabled", "false")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(res.header(header::LOCATION), Some("/settings/users"));
    let res = a.get("/settings/audit").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header(header::LOCATION), Some("/login"));
    assert_eq!(
        Browser::new(&app).sign_in("alice", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    let html = assert_ok_page(&b.get("/settings/users").await);
    assert!(row_with(&html, "<td>alice</td>").contains("Disabled"));

    // Nobody disables themselves.
    let admin = user_id(&app, "admin").await;
    let res = b
        .post(
            &format!("/settings/users/{admin}/enabled"),
            &[("csrf", &csrf), ("enabled", "false")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("You cannot disable yourself."));
    assert!(user_state(&app, "admin").await.0);
    assert_eq!(b.get("/settings/users").await.status, StatusCode::OK);

    // Other roles, then enabled again: she signs in with what she holds now.
    let form = assert_ok_page(&b.get(&format!("/settings/users/{alice}/roles")).await);
    assert!(form.contains("Roles of alice"));
    let res = b
        .post(
            &format!("/settings/users/{alice}/roles"),
            &[("csrf", &csrf), ("role", "builtin-service-account-manager")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let res = b
        .post(
            &format!("/settings/users/{alice}/enabled"),
            &[("csrf", &csrf), ("enabled", "true")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        user_state(&app, "alice").await,
        (true, vec!["Service Account Manager".to_owned()])
    );
    let html = assert_ok_page(&b.get("/settings/users").await);
    assert!(row_with(&html, "<td>alice</td>").contains("Service Account Manager"));
    let mut a = signed_in(&app, "alice").await;
    assert_eq!(a.get("/settings/audit").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        a.get("/settings/service-accounts").await.status,
        StatusCode::OK
    );

    // Audited.
    let events = app
        .state
        .admin
        .audit_events(
            &Actor::system(),
            &AuditFilter {
                target: Some(alice.clone()),
                action: Some("console_user.".into()),
                limit: 50,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "console_user.signed_in",
            "console_user.enabled",
            "console_user.roles_changed",
            "console_user.disabled",
            "console_user.signed_in",
            "console_user.created"
        ]
    );
}

#[tokio::test]
async fn console_users_cannot_be_given_roles_beyond_what_the_giver_holds() {
    let app = TestApp::spawn().await;
    system_role(
        &app,
        "User Admin",
        &["users:read", "users:write", "service-accounts:read"],
    )
    .await;
    console_user(&app, "useradmin", &["User Admin"]).await;
    console_user(&app, "bob", &[]).await;
    let bob = user_id(&app, "bob").await;
    let mut b = signed_in(&app, "useradmin").await;
    let csrf = csrf_of(&assert_ok_page(&b.get("/settings/users").await));

    let res = b
        .post(
            "/settings/users",
            &[
                ("csrf", &csrf),
                ("username", "carol"),
                ("password", PASSWORD),
                ("role", "builtin-auditor"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("audit:read permission"), "{html}");
    assert!(html.contains("value=\"carol\""));

    let res = b
        .post(
            &format!("/settings/users/{bob}/roles"),
            &[("csrf", &csrf), ("role", "builtin-administrator")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text().contains("which you do not hold yourself"),
        "{}",
        res.text()
    );
    // The form keeps the choice.
    assert!(
        res.text()
            .contains("value=\"builtin-administrator\" checked")
    );

    assert_eq!(user_state(&app, "bob").await, (true, vec![]));
    assert_eq!(
        app.state
            .admin
            .list_users(&Actor::system())
            .await
            .unwrap()
            .len(),
        2
    );
    // What it holds it may give.
    let res = b
        .post(
            &format!("/settings/users/{bob}/roles"),
            &[
                ("csrf", &csrf),
                (
                    "role",
                    &app.state
                        .admin
                        .role_ids_by_names(&["User Admin".into()])
                        .await
                        .unwrap()[0],
                ),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(
        user_state(&app, "bob").await,
        (true, vec!["User Admin".to_owned()])
    );
}

// ---------------------------------------------------------------------------------------------
// The audit log

#[tokio::test]
async fn the_audit_log_shows_sign_ins_and_failures_and_filters_by_action_and_date() {
    let app = TestApp::spawn().await;
    console_user(&app, "admin", &["Administrator"]).await;
    let from: std::net::SocketAddr = "203.0.113.7:5555".parse().unwrap();
    let res = Browser::from_address(&app, from)
        .sign_in("mallory", "guessing the password")
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let mut b = Browser::from_address(&app, from);
    assert_eq!(
        b.sign_in("admin", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    let html = assert_ok_page(&b.get("/settings/audit").await);
    let row = row_with(&html, "title=\"console_user.sign_in_failed\"");
    assert!(row.contains("mallory"), "{row}");
    assert!(row.contains("203.0.113.7"), "{row}");
    assert!(row.contains("anonymous"), "{row}");
    assert!(row.contains("invalid credentials"), "{row}");
    let row = row_with(&html, "title=\"console_user.signed_in\"");
    assert!(row.contains("admin"), "{row}");
    assert!(row.contains("203.0.113.7"), "{row}");

    // By action.
    let html = assert_ok_page(
        &b.get("/settings/audit?action=console_user.sign_in_failed")
            .await,
    );
    assert!(html.contains("title=\"console_user.sign_in_failed\""));
    assert!(!html.contains("title=\"console_user.signed_in\""));
    assert!(!html.contains("title=\"console_user.created\""));
    let html = assert_ok_page(&b.get("/settings/audit?action=console_user.").await);
    for a in ["signed_in", "sign_in_failed", "created"] {
        assert!(html.contains(&format!("title=\"console_user.{a}\"")), "{a}");
    }
    let html = assert_ok_page(&b.get("/settings/audit?actor=mallory").await);
    assert!(html.contains("title=\"console_user.sign_in_failed\""));
    assert!(!html.contains("title=\"console_user.signed_in\""));

    // By date (UTC days, both inclusive).
    let today = &keygate::domain::format_ms(keygate::domain::now_ms())[..10];
    let html = assert_ok_page(
        &b.get(&format!("/settings/audit?since={today}&until={today}"))
            .await,
    );
    assert!(html.contains("title=\"console_user.signed_in\""));
    assert!(
        html.contains(&format!("value=\"{today}\"")),
        "the filter is kept"
    );
    let html = assert_ok_page(&b.get("/settings/audit?until=2000-01-01").await);
    assert!(html.contains("No events match."));
    let html = assert_ok_page(&b.get("/settings/audit?since=2999-01-01").await);
    assert!(html.contains("No events match."));
    for bad in ["since=yesterday", "until=2026-13-45", "since=%3Cscript%3E"] {
        let res = b.get(&format!("/settings/audit?{bad}")).await;
        let html = assert_ok_page(&res);
        assert!(
            html.contains("date must look like 2026-11-22."),
            "{bad}: {html}"
        );
        assert!(!html.contains("<script>"), "{bad}");
    }
}

#[tokio::test]
async fn the_audit_log_pages_with_older_events() {
    let app = TestApp::spawn().await;
    for i in 0..60 {
        system_role(&app, &format!("role-{i:02}"), &[]).await;
    }
    let mut b = signed_in_admin(&app).await;
    let first = assert_ok_page(&b.get("/settings/audit?action=role.created").await);
    assert_eq!(first.matches("title=\"role.created\"").count(), 50);
    assert!(
        first.contains("role-59</a> <span") && first.contains("role-10</a> <span"),
        "newest first"
    );
    assert!(!first.contains(">Newest</a>"));
    let href = {
        let at = first.find("rel=\"next\"").expect("an Older events link");
        let start = first[..at].rfind("href=\"").unwrap() + 6;
        let end = first[start..].find('"').unwrap() + start;
        first[start..end]
            .replace("&#38;", "&")
            .replace("&amp;", "&")
    };
    assert!(first.contains("Older events"));
    assert!(href.contains("action=role.created"), "{href}");
    let second = assert_ok_page(&b.get(&href).await);
    assert_eq!(
        second.matches("title=\"role.created\"").count(),
        10,
        "{href}"
    );
    assert_eq!(second.matches("title=\"role.created\"").count(), 10);
    assert!(second.contains("role-00"));
    assert!(!second.contains("Older events"));
    assert!(second.contains(">Newest</a>"));
    for i in 0..10 {
        assert!(second.contains(&format!("role-{i:02}</a> <span")), "{i}");
        assert!(!first.contains(&format!("role-{i:02}</a> <span")), "{i}");
    }
}

#[tokio::test]
async fn the_audit_log_has_no_way_to_edit_or_delete_events() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let count = event_count(&app).await;
    let id = app
        .state
        .admin
        .audit_events(
            &Actor::system(),
            &AuditFilter {
                limit: 1,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap()[0]
        .id;
    for path in [
        "/settings/audit".to_owned(),
        format!("/settings/audit/{id}"),
        format!("/settings/audit/{id}/delete"),
        format!("/settings/audit/{id}/edit"),
        "/settings/audit/delete".to_owned(),
    ] {
        let res = b.post(&path, &[("csrf", &csrf), ("action", "x")]).await;
        assert!(
            res.status == StatusCode::NOT_FOUND || res.status == StatusCode::METHOD_NOT_ALLOWED,
            "POST {path}: {}",
            res.status
        );
        for method in [Method::DELETE, Method::PUT, Method::PATCH] {
            let res = app
                .request(method.clone(), &path)
                .header("cookie", b.cookie_header())
                .send()
                .await;
            assert!(
                res.status == StatusCode::NOT_FOUND || res.status == StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {}",
                res.status
            );
        }
    }
    assert_eq!(event_count(&app).await, count);
    let html = assert_ok_page(&b.get("/settings/audit").await);
    assert!(html.contains("cannot be edited or deleted"));
    assert!(!html.contains("method=\"post\" action=\"/settings/audit"));
}

// ---------------------------------------------------------------------------------------------
// A read-only user

#[tokio::test]
async fn a_read_only_user_sees_no_way_to_change_access_and_is_refused_when_posting() {
    let app = TestApp::spawn().await;
    let invoices = system_role(&app, "Invoices", &["invoices:read"]).await;
    let c = app.account("billing").roles(&["Invoices"]).create().await;
    let token = app.token(&c).await;
    let jti = {
        let (_, claims) = app
            .verify_with_jwks_for(&token, crate::helpers::TEST_API_IDENTIFIER)
            .await;
        claims["jti"].as_str().unwrap().to_owned()
    };
    let g = system_group(&app, "team", &[&invoices], &[&c.id]).await;
    console_user(&app, "bob", &["Auditor"]).await;
    let bob = user_id(&app, "bob").await;
    console_user(&app, "auditor", &["Auditor"]).await;
    let mut b = signed_in(&app, "auditor").await;

    let roles = assert_ok_page(&b.get("/settings/roles").await);
    assert!(roles.contains("Invoices"));
    assert!(!roles.contains("/settings/roles/new") && !roles.contains("Add Role"));
    assert!(
        !roles.contains("/edit") && !roles.contains("/delete"),
        "{roles}"
    );
    let groups = assert_ok_page(&b.get("/settings/groups").await);
    assert!(groups.contains("team"));
    assert!(!groups.contains("/settings/groups/new") && !groups.contains("Add Group"));
    assert!(
        !groups.contains("/edit") && !groups.contains("/delete"),
        "{groups}"
    );
    // No Console Users without users:read; the Audit Log with audit:read.
    assert!(!roles.contains("href=\"/settings/users\""), "{roles}");
    assert!(roles.contains("href=\"/settings/audit\""));
    assert_eq!(b.get("/settings/users").await.status, StatusCode::FORBIDDEN);
    let account = assert_ok_page(&b.get(&format!("/settings/service-accounts/{}", c.id)).await);
    assert!(account.contains(&jti), "the sessions are shown");
    assert!(!account.contains("/sessions/revoke"), "but not the buttons");

    for path in [
        "/settings/roles/new".to_owned(),
        format!("/settings/roles/{invoices}/edit"),
        format!("/settings/roles/{invoices}/delete"),
        "/settings/groups/new".to_owned(),
        format!("/settings/groups/{g}/edit"),
        format!("/settings/groups/{g}/delete"),
        format!("/settings/users/{bob}/roles"),
    ] {
        assert_eq!(
            b.get(&path).await.status,
            StatusCode::FORBIDDEN,
            "GET {path}"
        );
    }

    let csrf = b.csrf().await;
    let before = event_count(&app).await;
    let api = app.api_defining(&["invoices:read"]).await;
    let perm = format!("{api} invoices:read");
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/settings/roles/new".into(),
            vec![("name", "Mine"), ("api", &api), ("perm", &perm)],
        ),
        (
            format!("/settings/roles/{invoices}/edit"),
            vec![("name", "Renamed"), ("api", &api), ("perm", &perm)],
        ),
        (format!("/settings/roles/{invoices}/delete"), vec![]),
        ("/settings/groups/new".into(), vec![("name", "mine")]),
        (
            format!("/settings/groups/{g}/edit"),
            vec![("name", "renamed"), ("role", "builtin-administrator")],
        ),
        (format!("/settings/groups/{g}/delete"), vec![]),
        (
            "/settings/users".into(),
            vec![
                ("username", "eve"),
                ("password", PASSWORD),
                ("role", "builtin-administrator"),
            ],
        ),
        (
            format!("/settings/users/{bob}/enabled"),
            vec![("enabled", "false")],
        ),
        (
            format!("/settings/users/{bob}/roles"),
            vec![("role", "builtin-administrator")],
        ),
        (
            format!("/settings/service-accounts/{}/sessions/revoke", c.id),
            vec![("jti", jti.as_str())],
        ),
        (
            format!("/settings/service-accounts/{}/sessions/revoke-all", c.id),
            vec![],
        ),
    ];
    for (path, fields) in &posts {
        let mut form = fields.clone();
        form.push(("csrf", &csrf));
        let res = b.post(path, &form).await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "POST {path}: {}",
            res.text()
        );
    }

    // Nothing changed.
    assert_eq!(event_count(&app).await, before);
    assert_eq!(
        role_names(&app).await,
        vec![
            "Administrator",
            "Auditor",
            "Invoices",
            "Service Account Manager",
            "Token Introspector"
        ]
    );
    assert_eq!(
        role_permissions(&app, &invoices).await,
        vec!["invoices:read"]
    );
    let groups = app.state.admin.list_groups(&Actor::system()).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].name, "team");
    assert_eq!(groups[0].roles.len(), 1);
    assert_eq!(groups[0].members.len(), 1);
    assert_eq!(
        user_state(&app, "bob").await,
        (true, vec!["Auditor".to_owned()])
    );
    assert_eq!(
        app.state
            .admin
            .list_users(&Actor::system())
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        permissions_now(&app, &token).await,
        serde_json::json!(["invoices:read"])
    );
}

// ---------------------------------------------------------------------------------------------
// An account's sessions

async fn jti(app: &TestApp, token: &str) -> String {
    let (_, claims) = app.verify_with_jwks(token).await;
    claims["jti"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_sessions_section_lists_tokens_and_revokes_one_or_all_with_csrf() {
    let app = TestApp::spawn().await;
    let inspector: Creds = introspector(&app).await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(app.token(&c).await);
    }
    let mut jtis = Vec::new();
    for t in &tokens {
        jtis.push(jti(&app, t).await);
    }
    let mut b = signed_in_admin(&app).await;
    let page = format!("/settings/service-accounts/{}", c.id);
    let html = assert_ok_page(&b.get(&page).await);
    for j in &jtis {
        assert!(html.contains(&format!("<code>{j}</code>")), "{j}");
        assert!(html.contains(&format!("name=\"jti\" value=\"{j}\"")), "{j}");
    }
    assert!(html.contains("Revoke all"));
    let csrf = csrf_of(&html);

    // Without the CSRF token: refused, the token lives.
    for bad in ["", "forged"] {
        let res = b
            .post(
                &format!("{page}/sessions/revoke"),
                &[("csrf", bad), ("jti", &jtis[0])],
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let res = b
            .post(&format!("{page}/sessions/revoke-all"), &[("csrf", bad)])
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
    }
    assert!(app.is_active(&inspector, &tokens[0]).await);

    let res = b
        .post(
            &format!("{page}/sessions/revoke"),
            &[("csrf", &csrf), ("jti", &jtis[0])],
        )
        .await;
    let html = assert_ok_page(&b.follow(&res).await);
    assert!(html.contains("Token revoked."));
    assert!(!html.contains(&format!("<code>{}</code>", jtis[0])));
    assert!(html.contains(&format!("<code>{}</code>", jtis[1])));
    app.whoami(&tokens[0]).await.assert_invalid_token();
    assert!(!app.is_active(&inspector, &tokens[0]).await);
    assert!(app.is_active(&inspector, &tokens[1]).await);

    let res = b
        .post(&format!("{page}/sessions/revoke-all"), &[("csrf", &csrf)])
        .await;
    let html = assert_ok_page(&b.follow(&res).await);
    assert!(html.contains("Every token of this account was revoked."));
    assert!(html.contains("No live access tokens."));
    assert!(!html.contains("Revoke all"));
    for t in &tokens {
        app.whoami(t).await.assert_invalid_token();
    }
    let fresh = app.token(&c).await;
    let html = assert_ok_page(&b.get(&page).await);
    assert!(html.contains(&format!("<code>{}</code>", jti(&app, &fresh).await)));
    assert!(html.contains("token.revoked"));
    assert!(html.contains("service_account.tokens_revoked"));
}
