//! Confirmations and notices (issue 13), driven through the router: "Revoke all" and
//! deleting a role that is held ask first, listing what is affected (a page, so it works
//! without JavaScript); notices show where the action was, announced (`role=status`);
//! deleting an account ends on the list with a "deleted" notice.

use axum::http::{StatusCode, header};
use keygate::admin::roles::{GroupInput, RoleInput};
use keygate::domain::audit::Actor;

use crate::console::{console_user, csrf_of, signed_in_admin};
use crate::helpers::TestApp;

#[tokio::test]
async fn revoke_all_lists_the_live_tokens_first_and_its_notice_shows_in_sessions() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let token = app.token(&c).await;
    app.state.oauth.flush_usage().await.unwrap();
    let (_, claims) = app.verify_with_jwks(&token).await;
    let jti = claims["jti"].as_str().unwrap().to_owned();
    let mut b = signed_in_admin(&app).await;
    let account = format!("/settings/service-accounts/{}", c.id);
    let page = b.get(&account).await.text();
    // A link to a confirmation page, not a form that revokes at once.
    assert!(
        page.contains(&format!(
            "<a class=\"button danger\" href=\"{account}/sessions/revoke-all\">Revoke all…</a>"
        )),
        "{page}"
    );
    let confirm = b.get(&format!("{account}/sessions/revoke-all")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let html = confirm.text();
    assert!(
        html.contains("<h1>Revoke every token of billing?</h1>"),
        "{html}"
    );
    assert!(html.contains("These 1 live access token stop"), "{html}");
    assert!(html.contains(&jti), "{html}");
    assert!(html.contains("<code>audit:read</code>"), "{html}");

    let csrf = csrf_of(&html);
    let res = b
        .post(
            &format!("{account}/sessions/revoke-all"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        res.header(header::LOCATION).unwrap(),
        format!("{account}#sessions")
    );
    let page = b.get(&account).await.text();
    let sessions = page.find("<section id=\"sessions\">").unwrap();
    let notice = page
        .find("<p class=\"notice\" role=\"status\">Every token of this account was revoked.</p>")
        .expect("the notice");
    assert!(
        notice > sessions,
        "the notice shows in Sessions, not at the top"
    );
    app.whoami(&token).await.assert_invalid_token();
}

#[tokio::test]
async fn a_toggle_on_the_account_page_says_so_beside_the_status() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let account = format!("/settings/service-accounts/{}", c.id);
    let csrf = csrf_of(&b.get(&account).await.text());
    let res = b
        .post(
            &format!("{account}/enabled"),
            &[("csrf", &csrf), ("from", "account"), ("enabled", "false")],
        )
        .await;
    assert_eq!(
        res.header(header::LOCATION).unwrap(),
        format!("{account}#status")
    );
    let page = b.follow(&res).await.text();
    let status = page.find("<dt>Status</dt>").unwrap();
    let client_id = page.find("<dt>Client ID</dt>").unwrap();
    let notice = page
        .find("id=\"status\" role=\"status\">billing disabled.</p>")
        .expect("the notice");
    assert!(status < notice && notice < client_id, "{page}");
}

#[tokio::test]
async fn deleting_a_held_role_lists_its_accounts_groups_and_users_first() {
    let app = TestApp::spawn().await;
    let admin = &app.state.admin;
    let role = admin
        .create_role(
            &Actor::system(),
            RoleInput {
                name: "Deployer".into(),
                description: String::new(),
                permissions: vec!["deploy:run".into()],
                api: Some(app.api_defining(&["deploy:run"]).await),
            },
        )
        .await
        .unwrap()
        .id;
    app.account("billing").roles(&["Deployer"]).create().await;
    app.account("ledger").roles(&["Deployer"]).create().await;
    let member = app.account("worker").create().await;
    admin
        .save_group(
            &Actor::system(),
            None,
            GroupInput {
                name: "ops".into(),
                description: String::new(),
                role_ids: vec![role.clone()],
                member_ids: vec![member.id.clone()],
                bindings: None,
            },
        )
        .await
        .unwrap();
    console_user(&app, "deployer-human", &["Deployer"]).await;
    let mut b = signed_in_admin(&app).await;
    let page = b.get(&format!("/settings/roles/{role}/delete")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("<h1>Delete Deployer?</h1>"), "{html}");
    assert!(
        html.contains(
            "<h2>Service accounts</h2>\n  <ul class=\"affected\"><li>billing</li><li>ledger</li></ul>"
        ),
        "{html}"
    );
    assert!(html.contains("<li>ops (1 member)</li>"), "{html}");
    assert!(html.contains("<li>deployer-human</li>"), "{html}");
    let csrf = csrf_of(&html);
    let res = b
        .post(
            &format!("/settings/roles/{role}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    let list = b.follow(&res).await.text();
    assert!(
        list.contains("<p class=\"notice\" role=\"status\">Role deleted.</p>"),
        "{list}"
    );
}

#[tokio::test]
async fn deleting_an_account_ends_on_the_list_with_a_deleted_notice() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let url = format!("/settings/service-accounts/{}/delete", c.id);
    let csrf = csrf_of(&b.get(&url).await.text());
    let res = b
        .post(&url, &[("csrf", &csrf), ("confirm_name", "billing")])
        .await;
    assert_eq!(
        res.header(header::LOCATION).unwrap(),
        "/settings/service-accounts"
    );
    let list = b.follow(&res).await.text();
    assert!(
        list.contains("<p class=\"notice\" role=\"status\">billing deleted.</p>"),
        "{list}"
    );
}
