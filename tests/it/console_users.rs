//! Console users for daily use (issue 13), driven through the router: changing one's own
//! password needs the current one; resetting another's needs `users:write` and a user one
//! may manage, and signs them out; deleting a user never leaves nobody to manage users;
//! each is audited.

use axum::http::StatusCode;
use keygate::domain::audit::Actor;

use crate::console::{Browser, PASSWORD, console_user, csrf_of, signed_in_admin};
use crate::helpers::TestApp;

const NEW: &str = "a brand new long passphrase";

async fn user_id(app: &TestApp, username: &str) -> String {
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

async fn actions(app: &TestApp) -> Vec<String> {
    app.state
        .admin
        .audit_events(
            &Actor::system(),
            &keygate::store::audit::AuditFilter {
                action: Some("console_user.".into()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn changing_ones_own_password_needs_the_current_one() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let page = b.get("/settings/password").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("<a href=\"/settings/password\">Change password</a>"),
        "{html}"
    );
    // Password managers (and Chromium's console) want the form to name whose password it is.
    assert!(
        html.contains(
            r#"<input type="text" name="username" value="admin" autocomplete="username" hidden>"#
        ),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let res = b
        .post(
            "/settings/password",
            &[
                ("csrf", &csrf),
                ("current_password", "not it"),
                ("new_password", NEW),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("The current password is not right"));
    let res = b
        .post(
            "/settings/password",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("new_password", "short"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("at least 12 characters"));
    let res = b
        .post(
            "/settings/password",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("new_password", NEW),
            ],
        )
        .await;
    let list = b.follow(&res).await.text();
    assert!(list.contains("Your password was changed."), "{list}");
    // The new password signs in; the old one no longer does.
    let mut again = Browser::new(&app);
    assert_eq!(
        again.sign_in("admin", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        again.sign_in("admin", NEW).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        actions(&app)
            .await
            .contains(&"console_user.password_changed".to_owned())
    );
}

#[tokio::test]
async fn an_administrator_resets_another_users_password_and_signs_them_out() {
    let app = TestApp::spawn().await;
    console_user(&app, "alice", &["Auditor"]).await;
    let mut alice = Browser::new(&app);
    alice.sign_in("alice", PASSWORD).await;
    assert_eq!(
        alice.get("/settings/service-accounts").await.status,
        StatusCode::OK
    );
    let id = user_id(&app, "alice").await;
    let mut b = signed_in_admin(&app).await;
    let page = b.get(&format!("/settings/users/{id}/roles")).await.text();
    assert!(page.contains("<h2>Reset password</h2>"), "{page}");
    assert!(
        page.contains(
            r#"<input type="text" name="username" value="alice" autocomplete="username" hidden>"#
        ),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let res = b
        .post(
            &format!("/settings/users/{id}/password"),
            &[("csrf", &csrf), ("new_password", NEW)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    // Alice's session has ended; her new password works.
    assert_ne!(
        alice.get("/settings/service-accounts").await.status,
        StatusCode::OK
    );
    let mut fresh = Browser::new(&app);
    assert_eq!(
        fresh.sign_in("alice", NEW).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        actions(&app)
            .await
            .contains(&"console_user.password_reset".to_owned())
    );

    // A user without users:write cannot reset anyone's.
    let admin_id = user_id(&app, "admin").await;
    let csrf = csrf_of(&fresh.get("/settings/service-accounts").await.text());
    let res = fresh
        .post(
            &format!("/settings/users/{admin_id}/password"),
            &[("csrf", &csrf), ("new_password", NEW)],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // One's own page points to Change password instead.
    let own = b
        .get(&format!("/settings/users/{admin_id}/roles"))
        .await
        .text();
    assert!(!own.contains("<h2>Reset password</h2>"), "{own}");
    assert!(own.contains("change your password"), "{own}");
}

#[tokio::test]
async fn deleting_users_never_leaves_nobody_to_manage_users() {
    let app = TestApp::spawn().await;
    console_user(&app, "alice", &["Auditor"]).await;
    console_user(&app, "bob", &["Administrator"]).await;
    let alice = user_id(&app, "alice").await;
    let bob = user_id(&app, "bob").await;
    let mut b = signed_in_admin(&app).await;
    let confirm = b
        .get(&format!("/settings/users/{alice}/delete"))
        .await
        .text();
    assert!(confirm.contains("<h1>Delete alice?</h1>"), "{confirm}");
    let csrf = csrf_of(&confirm);
    let res = b
        .post(
            &format!("/settings/users/{alice}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    let list = b.follow(&res).await.text();
    assert!(list.contains("alice deleted."), "{list}");
    assert!(!list.contains("<td>alice</td>"), "{list}");
    assert!(
        actions(&app)
            .await
            .contains(&"console_user.deleted".to_owned())
    );

    // Oneself: refused.
    let me = user_id(&app, "admin").await;
    let res = b
        .post(&format!("/settings/users/{me}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("You cannot delete yourself."));

    // Bob can go while admin still manages users; then admin is the last one, whom bob
    // (signed in) could not delete either: the rule is kept in the operation.
    let res = b
        .post(&format!("/settings/users/{bob}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let err = app
        .state
        .admin
        .delete_user(&Actor::system(), &me)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no enabled console user who can manage users")
            || format!("{err:?}").contains("no enabled console user who can manage"),
        "{err:?}"
    );
    assert_eq!(
        app.state
            .admin
            .list_users(&Actor::system())
            .await
            .unwrap()
            .len(),
        1
    );
}
