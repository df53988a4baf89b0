//! `POST /oauth/introspect` (RFC 7662), for callers holding `tokens:introspect`.

use axum::http::{StatusCode, header};
use serde_json::Value;

use crate::helpers::{Creds, TestApp, unix_secs};

async fn app_with_introspector() -> (TestApp, Creds, Creds) {
    let app = TestApp::spawn().await;
    let introspector = app
        .account("introspector")
        .roles(&["Token Introspector"])
        .create()
        .await;
    let subject = app
        .account("billing")
        .roles(&["Auditor"])
        .lifetime(900)
        .create()
        .await;
    (app, introspector, subject)
}

fn assert_active_token_of(answer: &Value, subject: &Creds) {
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["sub"], subject.id.as_str());
    assert_eq!(answer["client_id"], subject.client_id.as_str());
    assert_eq!(answer["scope"], "audit:read service-accounts:read");
    assert_eq!(answer["token_type"], "Bearer");
    let iat = answer["iat"].as_i64().expect("iat");
    assert_eq!(answer["exp"].as_i64(), Some(iat + 900));
    assert!(answer["jti"].as_str().is_some_and(|j| !j.is_empty()));
}

#[tokio::test]
async fn an_introspector_authenticated_by_basic_sees_a_live_token() {
    let (app, introspector, subject) = app_with_introspector().await;
    let token = app.token(&subject).await;

    let res = app
        .post("/oauth/introspect")
        .basic(&introspector)
        .form(&[("token", &token)])
        .send()
        .await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    let answer = res.json();
    assert_active_token_of(&answer, &subject);
    let (_, claims) = app.verify_with_jwks(&token).await;
    assert_eq!(answer["jti"], claims["jti"]);
    assert_eq!(answer["iat"], claims["iat"]);
}

#[tokio::test]
async fn an_introspector_authenticated_by_its_bearer_token_sees_a_live_token() {
    let (app, introspector, subject) = app_with_introspector().await;
    let caller_token = app.token(&introspector).await;
    let token = app.token(&subject).await;

    let res = app
        .post("/oauth/introspect")
        .bearer(&caller_token)
        .form(&[("token", &token)])
        .send()
        .await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_active_token_of(&res.json(), &subject);
}

#[tokio::test]
async fn an_introspector_authenticated_in_the_body_sees_a_live_token() {
    let (app, introspector, subject) = app_with_introspector().await;
    let token = app.token(&subject).await;

    let res = app
        .post("/oauth/introspect")
        .form(&[
            ("token", &token),
            ("client_id", &introspector.client_id),
            ("client_secret", &introspector.client_secret),
        ])
        .send()
        .await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_active_token_of(&res.json(), &subject);
}

fn assert_inactive(answer: &Value) {
    assert_eq!(answer, &serde_json::json!({ "active": false }));
}

#[tokio::test]
async fn an_expired_token_is_inactive() {
    let (app, introspector, subject) = app_with_introspector().await;
    let now = unix_secs();
    let live = app.mint(&subject, now, now + 600).await;
    assert_eq!(app.introspect(&introspector, &live).await["active"], true);
    let expired = app.mint(&subject, now - 7200, now - 3600).await;
    assert_inactive(&app.introspect(&introspector, &expired).await);
}

#[tokio::test]
async fn a_revoked_token_is_inactive() {
    let (app, introspector, subject) = app_with_introspector().await;
    let token = app.token(&subject).await;
    assert_eq!(app.revoke(&subject, &token).await.status, StatusCode::OK);
    assert_inactive(&app.introspect(&introspector, &token).await);
}

#[tokio::test]
async fn a_token_of_a_disabled_account_is_inactive() {
    let (app, introspector, subject) = app_with_introspector().await;
    let token = app.token(&subject).await;
    assert!(app.is_active(&introspector, &token).await);
    app.disable(&subject).await;
    assert_inactive(&app.introspect(&introspector, &token).await);
}

#[tokio::test]
async fn a_token_of_a_deleted_account_is_inactive() {
    let (app, introspector, subject) = app_with_introspector().await;
    let token = app.token(&subject).await;
    assert!(app.is_active(&introspector, &token).await);
    app.delete_account(&subject).await;
    assert_inactive(&app.introspect(&introspector, &token).await);
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_inactive() {
    let (app, introspector, subject) = app_with_introspector().await;
    let kid = jsonwebtoken::decode_header(&app.token(&subject).await)
        .unwrap()
        .kid
        .unwrap();
    for token in [
        app.mint_with_foreign_key(&subject, &kid),
        app.mint_with_foreign_key(&subject, "foreign"),
        "garbage".to_owned(),
    ] {
        assert_inactive(&app.introspect(&introspector, &token).await);
    }
}

#[tokio::test]
async fn a_caller_without_the_permission_is_forbidden() {
    let (app, _, subject) = app_with_introspector().await;
    let token = app.token(&subject).await;

    let res = app
        .post("/oauth/introspect")
        .basic(&subject)
        .form(&[("token", &token)])
        .send()
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");

    let res = app
        .post("/oauth/introspect")
        .bearer(&token)
        .form(&[("token", &token)])
        .send()
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
}

#[tokio::test]
async fn a_token_narrowed_below_the_permission_cannot_introspect() {
    let app = TestApp::spawn().await;
    let caller = app
        .account("caller")
        .roles(&["Token Introspector", "Auditor"])
        .create()
        .await;
    let res = app
        .post("/oauth/token")
        .basic(&caller)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "audit:read"),
        ])
        .send()
        .await;
    let narrow = res.json()["access_token"].as_str().unwrap().to_owned();

    app.post("/oauth/introspect")
        .bearer(&narrow)
        .form(&[("token", &narrow)])
        .send()
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
}

#[tokio::test]
async fn introspection_requires_authentication() {
    let (app, introspector, subject) = app_with_introspector().await;
    let token = app.token(&subject).await;

    let res = app
        .post("/oauth/introspect")
        .form(&[("token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());

    let res = app
        .post("/oauth/introspect")
        .basic(&introspector.with_secret("kgs_wrong"))
        .form(&[("token", &token)])
        .send()
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");

    // A dead bearer token is no authentication.
    let caller_token = app.token(&introspector).await;
    app.revoke(&introspector, &caller_token).await;
    let res = app
        .post("/oauth/introspect")
        .bearer(&caller_token)
        .form(&[("token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
}
