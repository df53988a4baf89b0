//! `POST /oauth/revoke` (RFC 7009).

use axum::http::{StatusCode, header};

use crate::helpers::TestApp;

#[tokio::test]
async fn a_client_revokes_its_own_token() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let token = app.token(&creds).await;
    let other = app.token(&creds).await;

    let res = app.revoke(&creds, &token).await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    app.whoami(&token).await.assert_invalid_token();
    assert_eq!(app.whoami(&other).await.status, StatusCode::OK);
    // Revoking it again is fine too.
    assert_eq!(app.revoke(&creds, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn revocation_by_client_secret_post_works_too() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let token = app.token(&creds).await;

    let res = app
        .post("/oauth/revoke")
        .form(&[
            ("token", &token),
            ("client_id", &creds.client_id),
            ("client_secret", &creds.client_secret),
        ])
        .send()
        .await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    app.whoami(&token).await.assert_invalid_token();
}

#[tokio::test]
async fn unknown_and_garbage_tokens_are_accepted_silently() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let foreign = app.mint_with_foreign_key(&creds, "elsewhere");
    for token in ["", "garbage", "a.b.c", foreign.as_str()] {
        let res = app.revoke(&creds, token).await;
        assert_eq!(res.status, StatusCode::OK, "{token:?}: {}", res.text());
    }
}

#[tokio::test]
async fn another_clients_token_is_refused_and_lives_on() {
    let app = TestApp::spawn().await;
    let alice = app.account("alice").create().await;
    let mallory = app.account("mallory").create().await;
    let token = app.token(&alice).await;

    let res = app.revoke(&mallory, &token).await;

    res.assert_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    assert_eq!(app.whoami(&token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn revocation_requires_client_authentication() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let token = app.token(&creds).await;

    let res = app
        .post("/oauth/revoke")
        .form(&[("token", &token)])
        .send()
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");

    let res = app
        .post("/oauth/revoke")
        .basic(&creds.with_secret("kgs_wrong"))
        .form(&[("token", &token)])
        .send()
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(
        res.header(header::WWW_AUTHENTICATE)
            .is_some_and(|c| c.starts_with("Basic"))
    );

    // A bearer token is no client authentication here.
    let res = app
        .post("/oauth/revoke")
        .bearer(&token)
        .form(&[("token", &token)])
        .send()
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);

    assert_eq!(app.whoami(&token).await.status, StatusCode::OK);
}
