//! Discovery for standard clients (issue 15): the metadata at the OpenID path, an issuer kept
//! exactly as given (trailing slash and all), and an issuer with a path served under it and
//! at the RFC 8414 §3.1 location.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use keygate::app::{App, AppState};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::helpers::{TestApp, verify_jwt};

const PATH_ISSUER: &str = "https://id.example.test/keygate/";

/// Another instance over `app`'s database whose issuer is `issuer`.
async fn instance_with_issuer(app: &TestApp, issuer: &str) -> AppState {
    let mut config = app.state.config.clone();
    config.issuer = Some(issuer.to_owned());
    App::build(config).await.unwrap()
}

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let res = keygate::web::router(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get(state: &AppState, path: &str) -> (StatusCode, Value) {
    send(state, Request::get(path).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn the_openid_discovery_path_serves_the_rfc_8414_document() {
    let app = TestApp::spawn().await;
    let rfc8414 = app
        .get("/.well-known/oauth-authorization-server")
        .send()
        .await;
    let openid = app.get("/.well-known/openid-configuration").send().await;
    assert_eq!(openid.status, StatusCode::OK);
    assert_eq!(openid.json(), rfc8414.json());
    assert_eq!(openid.json()["issuer"], app.issuer);
}

#[tokio::test]
async fn an_issuer_with_a_trailing_slash_is_the_iss_exactly_and_urls_have_no_double_slash() {
    let app = TestApp::spawn().await;
    let creds = app.account("slash").create().await;
    let state = instance_with_issuer(&app, PATH_ISSUER).await;
    let (status, m) = get(&state, "/.well-known/oauth-authorization-server/keygate").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(m["issuer"], PATH_ISSUER);
    assert_eq!(
        m["token_endpoint"],
        "https://id.example.test/keygate/oauth/token"
    );
    assert_eq!(
        m["jwks_uri"],
        "https://id.example.test/keygate/.well-known/jwks.json"
    );
    for (_, url) in m.as_object().unwrap() {
        if let Some(url) = url.as_str() {
            assert!(!url.replace("https://", "").contains("//"), "{url}");
        }
    }
    assert_eq!(
        state.admin.token_url(),
        "https://id.example.test/keygate/oauth/token"
    );

    // Every route also answers under the issuer's path, and the token's iss is the issuer
    // byte for byte.
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", creds.client_id, creds.client_secret),
    );
    let req = Request::post("/keygate/oauth/token")
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    let (status, body) = send(&state, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let (_, jwks) = get(&state, "/keygate/.well-known/jwks.json").await;
    let (_, claims) = verify_jwt(token, &jwks, PATH_ISSUER);
    assert_eq!(claims["iss"], PATH_ISSUER);
    let req = Request::get("/keygate/api/v1/whoami")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, who) = send(&state, req).await;
    assert_eq!(status, StatusCode::OK, "{who}");
    assert_eq!(who["client_id"], creds.client_id.as_str());
    for path in [
        "/keygate/.well-known/openid-configuration",
        "/keygate/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let (status, doc) = get(&state, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(doc["issuer"], PATH_ISSUER, "{path}");
    }
    let (status, _) = get(&state, "/keygate/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(&state, "/elsewhere/healthz").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_issuer_without_a_path_serves_no_suffixed_document() {
    let app = TestApp::spawn().await;
    let res = app
        .get("/.well-known/oauth-authorization-server/keygate")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
