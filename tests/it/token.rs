//! `POST /oauth/token`: the client-credentials grant, the JWT it returns, credential
//! regeneration and last-used bookkeeping.

use axum::http::{StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, unix_secs};

#[tokio::test]
async fn basic_auth_gets_a_bearer_token_that_is_not_cached() {
    let app = TestApp::spawn().await;
    let creds = app
        .account("billing")
        .roles(&["Token Introspector"])
        .create()
        .await;

    let res = app.token_response(&creds).await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    let body = res.json();
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_i64().expect("expires_in");
    assert!((3595..=3601).contains(&expires_in), "{expires_in}");
    assert_eq!(body["scope"], "tokens:introspect");
    assert_eq!(body["client_id"], creds.client_id.as_str());
}

#[tokio::test]
async fn client_secret_post_gets_a_token() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;

    let res = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &creds.client_id),
            ("client_secret", &creds.client_secret),
        ])
        .send()
        .await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["client_id"], creds.client_id.as_str());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
}

#[tokio::test]
async fn json_body_without_grant_type_gets_a_token() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;

    let res = app
        .post("/oauth/token")
        .json(&json!({ "client_id": creds.client_id, "client_secret": creds.client_secret }))
        .send()
        .await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["token_type"], "Bearer");
}

#[tokio::test]
async fn the_token_is_an_es256_at_jwt_that_verifies_against_the_jwks() {
    let app = TestApp::spawn().await;
    let creds = app
        .account("billing")
        .roles(&["Token Introspector", "Auditor"])
        .lifetime(600)
        .create()
        .await;
    let before = unix_secs();

    let token = app.token(&creds).await;
    let (header, claims) = app.verify_with_jwks(&token).await;

    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let kid = header.kid.expect("kid");
    let jwks = app.jwks().await;
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.as_str())
    );
    assert_eq!(claims["iss"], app.issuer.as_str());
    assert_eq!(claims["sub"], creds.id.as_str());
    assert_eq!(claims["client_id"], creds.client_id.as_str());
    // keygate's own API, `<issuer>/api`: the account holds permissions in no other.
    assert_eq!(
        claims["aud"],
        crate::helpers::keygate_audience(&app.issuer).as_str()
    );
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat >= before && iat <= unix_secs() + 1, "iat {iat}");
    assert_eq!(claims["nbf"].as_i64(), Some(iat));
    assert_eq!(claims["exp"].as_i64(), Some(iat + 600));
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(
        claims["scope"],
        "audit:read service-accounts:read tokens:introspect"
    );
}

#[tokio::test]
async fn every_token_has_its_own_jti() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let (_, a) = app.verify_with_jwks(&app.token(&creds).await).await;
    let (_, b) = app.verify_with_jwks(&app.token(&creds).await).await;
    assert_ne!(a["jti"], b["jti"]);
}

#[tokio::test]
async fn a_subset_scope_narrows_the_token() {
    let app = TestApp::spawn().await;
    let creds = app
        .account("billing")
        .roles(&["Auditor", "Token Introspector"])
        .create()
        .await;

    let res = app
        .post("/oauth/token")
        .basic(&creds)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "tokens:introspect audit:read"),
        ])
        .send()
        .await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = res.json();
    assert_eq!(body["scope"], "audit:read tokens:introspect");
    let token = body["access_token"].as_str().unwrap();
    let (_, claims) = app.verify_with_jwks(token).await;
    assert_eq!(claims["scope"], "audit:read tokens:introspect");
    let who = app.whoami(token).await.json();
    assert_eq!(
        who["permissions"],
        json!(["audit:read", "tokens:introspect"])
    );
}

// -- regenerating credentials --------------------------------------------------------------------

#[tokio::test]
async fn regenerating_without_grace_kills_the_old_pair_and_its_tokens_at_once() {
    let app = TestApp::spawn().await;
    let old = app.account("billing").create().await;
    let old_token = app.token(&old).await;

    let new = app.regenerate(&old, 0).await;

    assert_ne!(new.client_id, old.client_id);
    app.token_response(&old)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    app.whoami(&old_token).await.assert_invalid_token();
    let new_token = app.token(&new).await;
    assert_eq!(app.whoami(&new_token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn regenerating_with_grace_keeps_the_old_pair_and_its_tokens_working() {
    let app = TestApp::spawn().await;
    let old = app.account("billing").create().await;
    let old_token = app.token(&old).await;

    let new = app.regenerate(&old, 3600).await;

    assert_eq!(app.whoami(&old_token).await.status, StatusCode::OK);
    let token_of_old_pair = app.token(&old).await;
    let who = app.whoami(&token_of_old_pair).await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.text());
    assert_eq!(who.json()["client_id"], old.client_id.as_str());
    let new_token = app.token(&new).await;
    let who = app.whoami(&new_token).await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.text());
    assert_eq!(who.json()["client_id"], new.client_id.as_str());
    // The old client ID with a wrong secret is still refused.
    app.token_response(&old.with_secret("kgs_wrong"))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
}

// -- last-used times ----------------------------------------------------------------------------

#[tokio::test]
async fn issuing_tokens_does_not_write_last_used_until_the_flush() {
    let app = TestApp::builder().without_follower().start().await;
    let creds = app.account("billing").create().await;

    for _ in 0..3 {
        app.token(&creds).await;
    }
    assert_eq!(app.last_used_at(&creds).await, None);

    let before = keygate::domain::now_ms();
    app.state.oauth.flush_usage().await.unwrap();
    let used = app.last_used_at(&creds).await.expect("last_used_at is set");
    assert!(
        used <= before && used > before - 60_000,
        "{used} vs {before}"
    );
}
