//! Group membership on the group's page (issue 13), driven through the router: members are
//! ticked checkboxes (untick to remove), a service account is added by name, client ID or
//! id, and an unknown one is refused inline with what was typed kept.

use axum::http::StatusCode;
use keygate::admin::roles::GroupInput;
use keygate::domain::audit::Actor;

use crate::console::{csrf_of, signed_in_admin};
use crate::helpers::TestApp;

async fn members(app: &TestApp, id: &str) -> Vec<String> {
    let mut m: Vec<String> = app
        .state
        .admin
        .get_group(&Actor::system(), id)
        .await
        .unwrap()
        .members
        .into_iter()
        .map(|m| m.name)
        .collect();
    m.sort();
    m
}

#[tokio::test]
async fn members_are_added_and_removed_on_the_group_page() {
    let app = TestApp::spawn().await;
    let billing = app.account("billing").create().await;
    let ledger = app.account("ledger").create().await;
    let group = app
        .state
        .admin
        .save_group(
            &Actor::system(),
            None,
            GroupInput {
                name: "ops".into(),
                description: String::new(),
                role_ids: vec!["builtin-auditor".into()],
                member_ids: vec![billing.id.clone()],
                bindings: None,
            },
        )
        .await
        .unwrap()
        .id;
    let mut b = signed_in_admin(&app).await;
    let url = format!("/settings/groups/{group}/edit");
    let page = b.get(&url).await.text();
    assert!(
        page.contains(&format!("name=\"member\" value=\"{}\" checked", billing.id)),
        "{page}"
    );
    assert!(page.contains(">billing</a></label>"), "{page}");
    assert!(page.contains("name=\"add_member\""), "{page}");
    let csrf = csrf_of(&page);

    // Add ledger by its client ID.
    let res = b
        .post(
            &url,
            &[
                ("csrf", &csrf),
                ("name", "ops"),
                ("description", ""),
                ("role", "builtin-auditor"),
                ("member", &billing.id),
                ("add_member", &ledger.client_id),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(members(&app, &group).await, ["billing", "ledger"]);

    // Untick billing: it leaves.
    let res = b
        .post(
            &url,
            &[
                ("csrf", &csrf),
                ("name", "ops"),
                ("description", ""),
                ("role", "builtin-auditor"),
                ("member", &ledger.id),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(members(&app, &group).await, ["ledger"]);

    // An unknown account is refused inline; nothing changes.
    let res = b
        .post(
            &url,
            &[
                ("csrf", &csrf),
                ("name", "ops"),
                ("description", ""),
                ("role", "builtin-auditor"),
                ("member", &ledger.id),
                ("add_member", "nobody"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("No service account has the name, client ID or id \u{201c}nobody\u{201d}."),
        "{html}"
    );
    assert!(
        html.contains("name=\"add_member\" value=\"nobody\""),
        "{html}"
    );
    assert!(
        html.contains(&format!("value=\"{}\" checked", ledger.id)),
        "{html}"
    );
    assert_eq!(members(&app, &group).await, ["ledger"]);
    // The change is in the audit log.
    let events = app
        .state
        .admin
        .audit_events(
            &Actor::system(),
            &keygate::store::audit::AuditFilter {
                target: Some(group.clone()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(events.len() >= 3, "{events:?}");
}
