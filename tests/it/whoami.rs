//! `GET /api/v1/whoami` and `DELETE /api/v1/session`: bearer-token checks of the REST API.

use axum::http::{StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, unix_secs};

#[tokio::test]
async fn whoami_describes_the_account_behind_the_token() {
    let app = TestApp::spawn().await;
    let creds = app
        .account("billing")
        .roles(&["Token Introspector", "Auditor"])
        .create()
        .await;
    let token = app.token(&creds).await;

    let res = app.whoami(&token).await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = res.json();
    assert_eq!(body["id"], creds.id.as_str());
    assert_eq!(body["name"], creds.name.as_str());
    assert_eq!(body["client_id"], creds.client_id.as_str());
    assert_eq!(body["roles"], json!(["Auditor", "Token Introspector"]));
    assert_eq!(
        body["permissions"],
        json!(["audit:read", "service-accounts:read", "tokens:introspect"])
    );
}

#[tokio::test]
async fn whoami_without_an_authorization_header_is_a_bare_bearer_challenge() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/v1/whoami").send().await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // RFC 6750 §3.1: no error code when the request carried no token at all.
    assert_eq!(
        res.header(header::WWW_AUTHENTICATE),
        Some(r#"Bearer realm="keygate""#)
    );
    assert_eq!(res.error(), "invalid_token");
}

#[tokio::test]
async fn malformed_tokens_are_invalid_token() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let token = app.token(&creds).await;
    // Flip the first character of the signature (all of its six bits are signature bits).
    let dot = token.rfind('.').unwrap();
    let first = &token[dot + 1..dot + 2];
    let tampered = format!(
        "{}.{}{}",
        &token[..dot],
        if first == "A" { "B" } else { "A" },
        &token[dot + 2..]
    );
    for value in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer not-a-jwt".to_owned(),
        "Bearer a.b.c".to_owned(),
        format!("Bearer {tampered}"),
        format!("Basic {token}"),
        token.clone(),
    ] {
        app.get("/api/v1/whoami")
            .header("authorization", &value)
            .send()
            .await
            .assert_invalid_token();
    }
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_invalid_token() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let real_kid = jsonwebtoken::decode_header(&app.token(&creds).await)
        .unwrap()
        .kid
        .unwrap();

    // Same kid, other key: the signature check must fail.
    let same_kid = app.mint_with_foreign_key(&creds, &real_kid);
    app.whoami(&same_kid).await.assert_invalid_token();
    // A kid nobody published.
    let unknown_kid = app.mint_with_foreign_key(&creds, "some-other-key");
    app.whoami(&unknown_kid).await.assert_invalid_token();
}

#[tokio::test]
async fn a_token_minted_with_the_real_key_verifies_until_it_expires() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let now = unix_secs();

    // Control: the forging path makes tokens keygate accepts.
    let fresh = app.mint(&creds, now, now + 600).await;
    assert_eq!(app.whoami(&fresh).await.status, StatusCode::OK);

    let expired = app.mint(&creds, now - 7200, now - 3600).await;
    app.whoami(&expired).await.assert_invalid_token();
}

#[tokio::test]
async fn a_revoked_token_is_invalid_token() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let token = app.token(&creds).await;
    assert_eq!(app.revoke(&creds, &token).await.status, StatusCode::OK);
    app.whoami(&token).await.assert_invalid_token();
}

#[tokio::test]
async fn tokens_of_a_disabled_account_die_and_reenabling_does_not_revive_them() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let old = app.token(&creds).await;
    assert_eq!(app.whoami(&old).await.status, StatusCode::OK);

    app.disable(&creds).await;
    app.whoami(&old).await.assert_invalid_token();

    app.enable(&creds).await;
    app.whoami(&old).await.assert_invalid_token();
    let new = app.token(&creds).await;
    let res = app.whoami(&new).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn tokens_of_a_deleted_account_die() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let token = app.token(&creds).await;
    assert_eq!(app.whoami(&token).await.status, StatusCode::OK);

    app.delete_account(&creds).await;

    app.whoami(&token).await.assert_invalid_token();
}

#[tokio::test]
async fn ending_the_session_kills_the_token() {
    let app = TestApp::spawn().await;
    let introspector = app
        .account("introspector")
        .roles(&["Token Introspector"])
        .create()
        .await;
    let creds = app.account("billing").create().await;
    let token = app.token(&creds).await;
    let other = app.token(&creds).await;
    assert!(app.is_active(&introspector, &token).await);

    let res = app.end_session(&token).await;

    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert!(res.body.is_empty());
    app.whoami(&token).await.assert_invalid_token();
    assert!(!app.is_active(&introspector, &token).await);
    // Only that token: another one of the same account lives on.
    assert_eq!(app.whoami(&other).await.status, StatusCode::OK);
    // A dead token cannot end a session again.
    app.end_session(&token).await.assert_invalid_token();
}

#[tokio::test]
async fn a_token_issued_after_reenabling_dies_at_the_next_disable_even_within_the_same_second() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    app.disable(&creds).await;
    app.enable(&creds).await;
    // Minted within the second of the cut-off: it carries the next second as `iat`.
    let token = app.token(&creds).await;
    assert_eq!(app.whoami(&token).await.status, StatusCode::OK);

    app.disable(&creds).await;
    app.enable(&creds).await;

    app.whoami(&token).await.assert_invalid_token();
    let fresh = app.token(&creds).await;
    let res = app.whoami(&fresh).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}
