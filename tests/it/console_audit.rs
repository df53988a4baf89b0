//! The Audit Log for daily use (issue 13), driven through the router: readable actions with
//! a picker, changes as before → after, actors and targets as links, any part of an action
//! matched, a From later than To refused inline, relative times, and a CSV export of the
//! filtered log that a spreadsheet cannot run.

use axum::http::{StatusCode, header};
use keygate::admin::access::ApiInput;
use keygate::admin::accounts::UpdateAccount;
use keygate::admin::roles::{GroupInput, RoleInput};
use keygate::domain::access::ApiPermission;
use keygate::domain::audit::Actor;
use serde_json::json;

use crate::console::{csrf_of, signed_in_admin};
use crate::helpers::TestApp;

#[tokio::test]
async fn the_log_reads_as_sentences_with_changes_links_and_times() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let account = format!("/settings/service-accounts/{}", c.id);
    let csrf = csrf_of(&b.get(&account).await.text());
    b.post(
        &format!("{account}/enabled"),
        &[("csrf", &csrf), ("from", "account"), ("enabled", "false")],
    )
    .await;
    app.state
        .admin
        .update_account(
            &Actor::system(),
            &c.id,
            UpdateAccount {
                name: Some("billing-v2".into()),
                description: Some("ships invoices".into()),
                token_lifetime_secs: None,
                ..UpdateAccount::default()
            },
        )
        .await
        .unwrap();
    let html = b.get("/settings/audit").await.text();
    // The picker offers readable actions.
    assert!(
        html.contains(
            "<option value=\"service_account.disabled\" label=\"Service account disabled\">"
        ),
        "{html}"
    );
    assert!(
        html.contains("<td title=\"service_account.disabled\">Service account disabled</td>"),
        "{html}"
    );
    // A change as before → after, not raw JSON.
    assert!(
        html.contains("<dt>name</dt><dd><del>billing</del> → <ins>billing-v2</ins></dd>"),
        "{html}"
    );
    assert!(
        html.contains("<dt>description</dt><dd><del></del> → <ins>ships invoices</ins></dd>"),
        "{html}"
    );
    assert!(!html.contains("{&quot;"), "raw JSON: {html}");
    // Targets and actors link to their pages.
    assert!(
        html.contains(&format!("<a href=\"{account}\">billing</a>")),
        "{html}"
    );
    assert!(html.contains("/roles\">admin</a>"), "{html}");
    // Times read relatively, the instant kept.
    assert!(html.contains(">just now</time>"), "{html}");

    // Any part of an action matches.
    let html = b.get("/settings/audit?action=disabled").await.text();
    assert!(
        html.contains("title=\"service_account.disabled\""),
        "{html}"
    );
    assert!(
        !html.contains("title=\"service_account.created\""),
        "{html}"
    );
}

#[tokio::test]
async fn a_from_date_later_than_the_to_date_is_refused_inline() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let res = b
        .get("/settings/audit?since=2026-12-02&until=2026-12-01")
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    assert!(
        html.contains("The From date is later than the To date: no event can match."),
        "{html}"
    );
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("value=\"2026-12-02\""), "{html}");
    let res = b
        .get("/settings/audit/export?since=2026-12-02&until=2026-12-01")
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_filtered_log_downloads_as_csv_with_formulas_defused() {
    let app = TestApp::spawn().await;
    app.account("=HYPERLINK(\"http://evil\")").create().await;
    app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let page = b
        .get("/settings/audit?action=service_account.created")
        .await
        .text();
    assert!(
        page.contains("href=\"/settings/audit/export?action=service_account.created\""),
        "{page}"
    );
    let res = b
        .get("/settings/audit/export?action=service_account.created")
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header(header::CONTENT_TYPE).unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(
        res.header(header::CONTENT_DISPOSITION)
            .unwrap()
            .starts_with("attachment")
    );
    let text = res.text();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id",
            "at",
            "actor_kind",
            "actor_id",
            "actor_name",
            "action",
            "target_kind",
            "target_id",
            "target_name",
            "source",
            "detail"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows.iter().all(|r| &r[5] == "service_account.created"));
    assert_eq!(&rows[0][8], "billing");
    assert_eq!(&rows[1][8], "'=HYPERLINK(\"http://evil\")");
}

/// The newest `action` event, as `GET /api/v1/audit-events` shows it.
async fn newest_event(app: &TestApp, action: &str) -> serde_json::Value {
    let auditor = app.account("auditor").roles(&["Auditor"]).create().await;
    let token = app.token(&auditor).await;
    let res = app
        .get(&format!("/api/v1/audit-events?action={action}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()["items"][0].clone()
}

#[tokio::test]
async fn a_role_change_is_audited_with_the_values_it_replaced() {
    let app = TestApp::spawn().await;
    let system = Actor::system();
    let api = app.api_defining(&["invoices:read", "invoices:write"]).await;
    let input = |name: &str, description: &str, permissions: &[&str]| RoleInput {
        name: name.into(),
        description: description.into(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        api: Some(api.clone()),
    };
    let role = app
        .state
        .admin
        .create_role(&system, input("Invoices", "reads", &["invoices:read"]))
        .await
        .unwrap();
    app.state
        .admin
        .update_role(
            &system,
            &role.id,
            input("Invoicing", "reads", &["invoices:read", "invoices:write"]),
        )
        .await
        .unwrap();
    let e = newest_event(&app, "role.updated").await;
    assert_eq!(
        e["detail"],
        json!({
            "name": "Invoicing", "permissions": ["invoices:read", "invoices:write"],
            "before": {"name": "Invoices", "permissions": ["invoices:read"]},
        }),
        "{e}"
    );
    let mut b = signed_in_admin(&app).await;
    let html = b.get("/settings/audit?action=role.updated").await.text();
    assert!(
        html.contains("<dt>name</dt><dd><del>Invoices</del> → <ins>Invoicing</ins></dd>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<dt>permissions</dt><dd><del>invoices:read</del> → \
             <ins>invoices:read, invoices:write</ins></dd>"
        ),
        "{html}"
    );
    assert!(!html.contains("<dt>description</dt>"), "unchanged: {html}");
}

#[tokio::test]
async fn a_group_change_is_audited_with_the_values_it_replaced() {
    let app = TestApp::spawn().await;
    let system = Actor::system();
    let a = app.account("billing").create().await;
    let group = app
        .state
        .admin
        .save_group(
            &system,
            None,
            GroupInput {
                name: "ops".into(),
                description: "on call".into(),
                role_ids: vec!["Auditor".into()],
                member_ids: vec![],
                bindings: None,
            },
        )
        .await
        .unwrap();
    app.state
        .admin
        .save_group(
            &system,
            Some(&group.id),
            GroupInput {
                name: "ops".into(),
                description: "on call, nights too".into(),
                role_ids: vec!["Auditor".into()],
                member_ids: vec![a.id.clone()],
                bindings: None,
            },
        )
        .await
        .unwrap();
    let e = newest_event(&app, "group.updated").await;
    assert_eq!(
        e["detail"],
        json!({
            "description": "on call, nights too", "members": ["billing"],
            "before": {"description": "on call", "members": []},
        }),
        "{e}"
    );
    let mut b = signed_in_admin(&app).await;
    let html = b.get("/settings/audit?action=group.updated").await.text();
    assert!(
        html.contains(
            "<dt>description</dt><dd><del>on call</del> → <ins>on call, nights too</ins></dd>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<dt>members</dt><dd><del>none</del> → <ins>billing</ins></dd>"),
        "{html}"
    );
    assert!(!html.contains("<dt>roles</dt>"), "unchanged: {html}");
}

#[tokio::test]
async fn an_api_change_is_audited_with_the_values_it_replaced() {
    let app = TestApp::spawn().await;
    let system = Actor::system();
    let api = app.api_defining(&["invoices:read", "invoices:write"]).await;
    app.state
        .admin
        .update_api(
            &system,
            &api,
            ApiInput {
                identifier: Some("https://billing.example/v2".into()),
                permissions: Some(vec![ApiPermission {
                    name: "invoices:read".into(),
                    description: String::new(),
                }]),
                ..ApiInput::default()
            },
        )
        .await
        .unwrap();
    let e = newest_event(&app, "api.updated").await;
    let d = &e["detail"];
    assert_eq!(d["identifier"], "https://billing.example/v2", "{e}");
    assert_eq!(d["permissions"], json!(["invoices:read"]), "{e}");
    assert_eq!(d["removed_permissions"], json!(["invoices:write"]), "{e}");
    assert_eq!(
        d["before"]["permissions"],
        json!(["invoices:read", "invoices:write"]),
        "{e}"
    );
    assert_ne!(d["before"]["identifier"], d["identifier"], "{e}");
    assert!(d["before"]["identifier"].is_string(), "{e}");
    assert!(d.get("name").is_none(), "unchanged: {e}");
    let mut b = signed_in_admin(&app).await;
    let html = b.get("/settings/audit?action=api.updated").await.text();
    assert!(
        html.contains("→ <ins>https://billing.example/v2</ins></dd>"),
        "{html}"
    );
}
