//! The account list's name search through the REST API: literal wildcards, keyset paging of
//! results, and renames and deletions reflected in the search index at once.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn names(app: &TestApp, token: &str, query: &str) -> (Vec<String>, Value) {
    let res = app
        .get(&format!("/api/v1/service-accounts?{query}"))
        .bearer(token)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = res.json();
    let list = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    (list, body["next_cursor"].clone())
}

#[tokio::test]
async fn search_takes_wildcards_literally_pages_and_follows_renames_and_deletions() {
    let app = TestApp::spawn().await;
    for name in [
        "a_b",
        "axb",
        "50% off",
        r"back\slash",
        "Payments-EU",
        "payments-us",
    ] {
        app.account(name).create().await;
    }
    let other = app.account("other").create().await;
    let gone = app.account("payments-old").create().await;
    let admin = app
        .account("zz-admin")
        .roles(&["Administrator"])
        .create()
        .await;
    let token = app.token(&admin).await;

    assert_eq!(names(&app, &token, "q=_").await.0, ["a_b"]);
    assert_eq!(names(&app, &token, "q=%25").await.0, ["50% off"]);
    assert_eq!(names(&app, &token, r"q=%5C").await.0, [r"back\slash"]);
    assert_eq!(names(&app, &token, "q=ck%5Cs").await.0, [r"back\slash"]);

    app.delete_account(&gone).await;
    let (page, cursor) = names(&app, &token, "q=PAYMENTS&limit=1").await;
    assert_eq!(page, ["Payments-EU"]);
    let cursor = cursor.as_str().expect("a next page");
    let (page, cursor) = names(&app, &token, &format!("q=PAYMENTS&limit=1&cursor={cursor}")).await;
    assert_eq!(page, ["payments-us"]);
    assert_eq!(cursor, Value::Null);

    let res = app
        .request(
            axum::http::Method::PATCH,
            &format!("/api/v1/service-accounts/{}", other.id),
        )
        .bearer(&token)
        .json(&json!({ "name": "renamed-thing" }))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(names(&app, &token, "q=renamed").await.0, ["renamed-thing"]);
    assert!(names(&app, &token, "q=other").await.0.is_empty());
}
