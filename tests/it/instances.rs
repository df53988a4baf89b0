//! Several instances over one database: restarts keep the signing key, and changes made on
//! one instance reach the others' caches through the change feed.

use std::time::Duration;

use axum::http::StatusCode;

use crate::helpers::{TestApp, eventually};

/// How soon another instance must notice a change.
const PROPAGATION: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_restart_reuses_the_signing_key_and_old_tokens_still_verify() {
    let first = TestApp::spawn().await;
    let creds = first.account("billing").create().await;
    let token = first.token(&creds).await;
    let jwks_before = first.jwks().await;

    let second = first.another_instance().await;

    let jwks_after = second.jwks().await;
    assert_eq!(jwks_after, jwks_before);
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    assert_eq!(jwks_after["keys"][0]["kid"], kid.as_str());
    second.verify_with_jwks(&token).await;
    assert_eq!(second.whoami(&token).await.status, StatusCode::OK);
    // And tokens minted by the second verify at the first.
    let token2 = second.token(&creds).await;
    assert_eq!(first.whoami(&token2).await.status, StatusCode::OK);
}

#[tokio::test]
async fn disabling_on_one_instance_reaches_the_other_within_a_second() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let creds = a.account("billing").create().await;
    // B knows the account (cached) and holds a live token.
    let token = b.token(&creds).await;
    assert_eq!(b.whoami(&token).await.status, StatusCode::OK);

    a.disable(&creds).await;

    let refused = eventually(PROPAGATION, async || {
        b.token_response(&creds).await.status == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        refused,
        "instance B still issues tokens to a disabled account"
    );
    b.token_response(&creds)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    let dead = eventually(PROPAGATION, async || {
        b.whoami(&token).await.status == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        dead,
        "instance B still accepts a token of a disabled account"
    );
    b.whoami(&token).await.assert_invalid_token();
}

#[tokio::test]
async fn a_token_of_a_disabled_account_dies_on_the_other_instance_within_a_second() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let creds = a.account("billing").create().await;
    let token = a.token(&creds).await;
    assert_eq!(b.whoami(&token).await.status, StatusCode::OK);

    a.disable(&creds).await;

    let dead = eventually(PROPAGATION, async || {
        b.whoami(&token).await.status == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        dead,
        "instance B still accepts a token of a disabled account"
    );
}

#[tokio::test]
async fn ending_a_session_on_one_instance_kills_the_token_on_the_other_within_a_second() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let creds = a.account("billing").create().await;
    let token = a.token(&creds).await;
    assert_eq!(b.whoami(&token).await.status, StatusCode::OK);

    assert_eq!(a.end_session(&token).await.status, StatusCode::NO_CONTENT);

    let dead = eventually(PROPAGATION, async || {
        b.whoami(&token).await.status == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(dead, "instance B still accepts a token whose session ended");
    b.whoami(&token).await.assert_invalid_token();
}

#[tokio::test]
async fn a_new_instance_knows_tokens_revoked_before_it_started_from_its_first_request() {
    let a = TestApp::spawn().await;
    let creds = a.account("billing").create().await;
    let token = a.token(&creds).await;
    assert_eq!(a.revoke(&creds, &token).await.status, StatusCode::OK);

    // No follower: nothing but startup itself may load the revocations.
    let b = a.instance_builder().without_follower().start().await;

    b.whoami(&token).await.assert_invalid_token();
}
