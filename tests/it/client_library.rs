//! A real OAuth 2.0 client library against a real server on a free port.

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse as _, TokenUrl};
use serde_json::Value;

use crate::helpers::{TestApp, verify_jwt};

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        // Following redirects would expose the client to SSRF (oauth2 crate advice).
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client")
}

#[tokio::test]
async fn the_oauth2_crate_gets_a_token_that_verifies_against_the_published_jwks() {
    let app = TestApp::builder().serving().start().await;
    let creds = app
        .account("billing")
        .roles(&["Token Introspector", "Auditor"])
        .create()
        .await;
    let http = http_client();

    let client = BasicClient::new(ClientId::new(creds.client_id.clone()))
        .set_client_secret(ClientSecret::new(creds.client_secret.clone()))
        .set_token_uri(TokenUrl::new(format!("{}/oauth/token", app.base_url())).unwrap());
    let response = client
        .exchange_client_credentials()
        .add_scope(Scope::new("tokens:introspect".into()))
        .request_async(&http)
        .await
        .expect("the token request succeeds");

    assert_eq!(
        response.token_type(),
        &oauth2::basic::BasicTokenType::Bearer
    );
    let lifetime = response.expires_in().expect("expires_in").as_secs();
    assert!((3595..=3601).contains(&lifetime), "{lifetime}");
    assert_eq!(
        response
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        Some(vec!["tokens:introspect".to_owned()])
    );

    let jwks: Value = http
        .get(format!("{}/.well-known/jwks.json", app.base_url()))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = response.access_token().secret();
    let (header, claims) = verify_jwt(token, &jwks, &app.issuer);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(claims["iss"], app.base_url().as_str());
    assert_eq!(claims["sub"], creds.id.as_str());
    assert_eq!(claims["client_id"], creds.client_id.as_str());
    assert_eq!(claims["scope"], "tokens:introspect");

    // The token works at the REST API of the real server, and the audit source is real.
    let who: Value = http
        .get(format!("{}/api/v1/whoami", app.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["id"], creds.id.as_str());
}

#[tokio::test]
async fn the_oauth2_crate_reports_a_wrong_secret_as_invalid_client() {
    let app = TestApp::builder().serving().start().await;
    let creds = app.account("billing").create().await;

    let client = BasicClient::new(ClientId::new(creds.client_id.clone()))
        .set_client_secret(ClientSecret::new("kgs_wrong".into()))
        .set_token_uri(TokenUrl::new(format!("{}/oauth/token", app.base_url())).unwrap());
    let err = client
        .exchange_client_credentials()
        .request_async(&http_client())
        .await
        .expect_err("a wrong secret is refused");

    match err {
        oauth2::RequestTokenError::ServerResponse(e) => {
            assert_eq!(
                e.error(),
                &oauth2::basic::BasicErrorResponseType::InvalidClient
            );
        }
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

#[tokio::test]
async fn a_real_server_refuses_a_chunked_body_over_the_limit() {
    let app = TestApp::builder().serving().start().await;
    let creds = app.account("billing").create().await;
    let addr = app.addr.unwrap();

    // Raw HTTP/1.1 with chunked transfer encoding: no Content-Length.
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", creds.client_id, creds.client_secret));
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let first = "grant_type=client_credentials&pad=";
    stream
        .write_all(format!("{:x}\r\n{first}\r\n", first.len()).as_bytes())
        .await
        .unwrap();
    let chunk = "a".repeat(4096);
    for _ in 0..5 {
        // The server may answer and close before everything is sent.
        if stream
            .write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}
