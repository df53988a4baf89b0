//! The Audit Log for daily use (issue 13), driven through the router: readable actions with
//! a picker, changes as before → after, actors and targets as links, any part of an action
//! matched, a From later than To refused inline, relative times, and a CSV export of the
//! filtered log that a spreadsheet cannot run.

use axum::http::{StatusCode, header};
use keygate::admin::accounts::UpdateAccount;
use keygate::domain::audit::Actor;

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
