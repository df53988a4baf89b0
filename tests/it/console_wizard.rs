//! The add-account wizard without JavaScript (issue 13), driven through the router: named
//! steps, groups in step 2, Back from step 2 keeping the ticked roles and groups, and a last
//! step with the whole secret, a "View account" link and a sample curl that works.

use axum::http::StatusCode;
use keygate::admin::roles::GroupInput;
use keygate::domain::audit::Actor;

use crate::console::{csrf_of, signed_in_admin, value_of};
use crate::helpers::TestApp;

#[tokio::test]
async fn the_wizard_names_its_steps_offers_groups_and_keeps_choices_going_back() {
    let app = TestApp::spawn().await;
    let group = app
        .state
        .admin
        .save_group(
            &Actor::system(),
            None,
            GroupInput {
                name: "readers".into(),
                description: String::new(),
                role_ids: vec!["builtin-auditor".into()],
                member_ids: vec![],
                bindings: None,
            },
        )
        .await
        .unwrap()
        .id;
    let mut b = signed_in_admin(&app).await;
    let step1 = b.get("/settings/service-accounts/new").await.text();
    assert!(
        step1.contains(
            "<ol class=\"steps\" aria-label=\"Step 1 of 3\"><li aria-current=\"step\">1 Details</li>\
             <li>2 Roles</li><li>3 Credentials</li></ol>"
        ),
        "{step1}"
    );
    let csrf = csrf_of(&step1);
    let url = "/settings/service-accounts/new";
    let step2 = b
        .post(
            url,
            &[("csrf", &csrf), ("step", "roles"), ("name", "billing")],
        )
        .await
        .text();
    assert!(
        step2.contains("<li aria-current=\"step\">2 Roles</li>"),
        "{step2}"
    );
    assert!(step2.contains("<legend>Groups</legend>"), "{step2}");
    assert!(
        step2.contains(&format!("name=\"group\" value=\"{group}\" >")),
        "{step2}"
    );
    // Back with a role and a group ticked: step 1 carries them, and step 2 shows them again.
    let back = b
        .post(
            url,
            &[
                ("csrf", &csrf),
                ("step", "details"),
                ("name", "billing"),
                ("role", "builtin-token-introspector"),
                ("group", &group),
            ],
        )
        .await
        .text();
    assert!(
        back.contains("<input type=\"hidden\" name=\"role\" value=\"builtin-token-introspector\">"),
        "{back}"
    );
    assert!(
        back.contains(&format!(
            "<input type=\"hidden\" name=\"group\" value=\"{group}\">"
        )),
        "{back}"
    );
    let again = b
        .post(
            url,
            &[
                ("csrf", &csrf),
                ("step", "roles"),
                ("name", "billing"),
                ("role", "builtin-token-introspector"),
                ("group", &group),
            ],
        )
        .await
        .text();
    assert!(
        again.contains("value=\"builtin-token-introspector\" checked"),
        "{again}"
    );
    assert!(
        again.contains(&format!("value=\"{group}\" checked")),
        "{again}"
    );

    let done = b
        .post(
            url,
            &[
                ("csrf", &csrf),
                ("step", "create"),
                ("name", "billing"),
                ("role", "builtin-token-introspector"),
                ("group", &group),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    let html = done.text();
    assert!(
        html.contains("<li aria-current=\"step\">3 Credentials</li>"),
        "{html}"
    );
    let account = app
        .state
        .admin
        .find_account(&Actor::system(), "billing")
        .await
        .unwrap();
    assert!(
        html.contains(&format!(
            "<a class=\"button\" href=\"/settings/service-accounts/{}\">View account</a>",
            account.account.id
        )),
        "{html}"
    );
    let secret = value_of(&html, "id=\"cred-client-secret\" readonly value=\"").unwrap();
    let curl = format!(
        "curl -u &#39;{}:{secret}&#39; \\\n  -d grant_type=client_credentials \\\n  {}",
        account.account.client_id,
        app.state.admin.token_url()
    );
    assert!(html.contains(&curl), "{curl}\n{html}");
    // The group took the account in (the creation is one audited operation).
    let groups = app
        .state
        .admin
        .account_groups(&Actor::system(), &account.account.id)
        .await
        .unwrap();
    assert_eq!(groups.len(), 1);
    let token = app
        .token(&crate::helpers::Creds {
            id: account.account.id.clone(),
            name: "billing".into(),
            client_id: account.account.client_id.clone(),
            client_secret: secret,
        })
        .await;
    let (_, claims) = app.verify_with_jwks(&token).await;
    let scope = claims["scope"].as_str().unwrap();
    assert!(
        scope.contains("tokens:introspect") && scope.contains("audit:read"),
        "{scope}"
    );
}
