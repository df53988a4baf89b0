//! Discovery: RFC 8414 metadata, the JWKS and the health check.

use axum::http::{StatusCode, header};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn metadata_describes_the_server() {
    let app = TestApp::spawn().await;

    let res = app
        .get("/.well-known/oauth-authorization-server")
        .send()
        .await;

    assert_eq!(res.status, StatusCode::OK);
    let m = res.json();
    let iss = app.issuer.as_str();
    assert_eq!(m["issuer"], iss);
    assert_eq!(m["token_endpoint"], format!("{iss}/oauth/token"));
    assert_eq!(m["revocation_endpoint"], format!("{iss}/oauth/revoke"));
    assert_eq!(
        m["introspection_endpoint"],
        format!("{iss}/oauth/introspect")
    );
    assert_eq!(m["jwks_uri"], format!("{iss}/.well-known/jwks.json"));
    assert_eq!(
        m["grant_types_supported"],
        json!([
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ])
    );
    assert_eq!(
        m["authorization_details_types_supported"],
        json!(["keygate_node"])
    );
    for field in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
    ] {
        let methods = m[field].as_array().expect(field);
        for method in ["client_secret_basic", "client_secret_post"] {
            assert!(methods.iter().any(|x| x == method), "{field}: {methods:?}");
        }
    }
    assert_eq!(
        m["access_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
}

#[tokio::test]
async fn the_jwks_publishes_the_p256_signing_key() {
    let app = TestApp::spawn().await;

    let res = app.get("/.well-known/jwks.json").send().await;

    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.header(header::CONTENT_TYPE)
            .is_some_and(|c| c.starts_with("application/json"))
    );
    let jwks = res.json();
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(key.get("d").is_none(), "no private part: {key}");
    // Both coordinates are 32 bytes.
    use base64::Engine as _;
    for c in ["x", "y"] {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key[c].as_str().unwrap())
            .unwrap();
        assert_eq!(bytes.len(), 32, "{c}");
    }
}

#[tokio::test]
async fn healthz_answers() {
    let app = TestApp::spawn().await;
    let res = app.get("/healthz").send().await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "ok");
}
