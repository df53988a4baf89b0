//! Inputs that once gave a 500 (issue 15): search texts beyond 200 characters, a `/static/`
//! segment longer than a file name, and any request while the database is unreachable.

use axum::http::{StatusCode, header};
use serde_json::json;

use crate::api_accounts::administrator;
use crate::console::signed_in_admin;
use crate::helpers::TestApp;

/// A search text far beyond the bound: SQLite calls such a `LIKE` pattern too complex.
fn huge() -> String {
    "a".repeat(50_000)
}

#[tokio::test]
async fn an_api_account_search_beyond_200_characters_is_422_naming_q() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    for q in [huge(), "b".repeat(201)] {
        let res = app
            .get(&format!("/api/v1/service-accounts?q={q}"))
            .bearer(&admin.token)
            .send()
            .await;
        res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(res.json()["field"], "q", "{}", res.text());
        assert!(res.json()["message"].as_str().unwrap().contains("200"));
    }
    let res = app
        .get(&format!("/api/v1/service-accounts?q={}", "b".repeat(200)))
        .bearer(&admin.token)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn an_api_audit_filter_beyond_200_characters_is_422_naming_it() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    for field in ["action", "actor", "target"] {
        let res = app
            .get(&format!("/api/v1/audit-events?{field}={}", huge()))
            .bearer(&admin.token)
            .send()
            .await;
        res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(res.json()["field"], field, "{}", res.text());
    }
    let res = app
        .get(&format!("/api/v1/audit-events?action={}", "c".repeat(200)))
        .bearer(&admin.token)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn a_console_account_search_beyond_200_characters_is_a_friendly_400() {
    let app = TestApp::spawn().await;
    let mut browser = signed_in_admin(&app).await;
    let res = browser
        .get(&format!("/settings/service-accounts?q={}", huge()))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    assert!(
        res.text().contains("at most 200 characters"),
        "{}",
        res.text()
    );
}

#[tokio::test]
async fn a_console_audit_filter_beyond_200_characters_is_an_inline_message() {
    let app = TestApp::spawn().await;
    let mut browser = signed_in_admin(&app).await;
    for field in ["action", "actor", "target"] {
        let res = browser
            .get(&format!("/settings/audit?{field}={}", huge()))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{field}: {}", res.text());
        assert!(
            res.text()
                .contains(&format!("The {field} filter can be at most 200 characters")),
            "{field}: {}",
            res.text()
        );
    }
}

#[tokio::test]
async fn a_static_segment_longer_than_a_file_name_is_404() {
    let app = TestApp::spawn().await;
    for len in [255, 256, 300, 5_000] {
        let res = app
            .get(&format!("/static/{}.css", "a".repeat(len)))
            .send()
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "segment of {len} bytes");
    }
    let res = app
        .get(&format!("/static{}", "/a".repeat(2_000)))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_writes_answer_503_with_retry_after_while_the_database_is_unreachable() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    app.state.store.close().await;
    let res = app
        .post("/api/v1/service-accounts")
        .bearer(&admin.token)
        .json(&json!({"name": "during-outage"}))
        .send()
        .await;
    res.assert_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(res.header(header::RETRY_AFTER), Some("5"));
    let message = res.json()["message"].as_str().unwrap().to_owned();
    assert_eq!(message, "the database is unavailable; retry shortly");
}

#[tokio::test]
async fn console_writes_answer_a_friendly_503_while_the_database_is_unreachable() {
    let app = TestApp::spawn().await;
    let mut browser = signed_in_admin(&app).await;
    let csrf = browser.csrf().await;
    app.state.store.close().await;
    let res = browser
        .post(
            "/settings/service-accounts/new",
            &[
                ("csrf", &csrf),
                ("step", "details"),
                ("name", "during-outage"),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        res.text()
    );
    assert_eq!(res.header(header::RETRY_AFTER), Some("5"));
    assert!(
        res.text().contains("cannot reach its database"),
        "{}",
        res.text()
    );
}
