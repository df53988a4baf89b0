//! Client authentication with signed assertions (`private_key_jwt`, RFC 7523 / RFC 10070):
//! accounts registered with public keys (pasted or generated), assertions signed by the
//! `jsonwebtoken` crate with RS256, PS256, ES256 and EdDSA keys, every refusal, the replay
//! guard across instances, rotation, the REST API and the command line.

use axum::http::{Method, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keygate::domain::audit::Actor;
use serde_json::{Value, json};

use crate::api_accounts::{administrator, call};
use crate::helpers::{Resp, TestApp, unix_secs, verify_jwt};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/it/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A client signing assertions for one account.
struct KeyClient {
    id: String,
    client_id: String,
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
}

impl KeyClient {
    fn claims(&self, aud: &str) -> Value {
        let now = unix_secs();
        json!({
            "iss": self.client_id, "sub": self.client_id, "aud": aud,
            "iat": now, "exp": now + 60,
            "jti": URL_SAFE_NO_PAD.encode(keygate::domain::secret::random_bytes::<12>()),
        })
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(claims, self.alg, Some(&self.kid), None)
    }

    fn sign_with(
        &self,
        claims: &Value,
        alg: Algorithm,
        kid: Option<&str>,
        typ: Option<&str>,
    ) -> String {
        let mut h = Header::new(alg);
        h.kid = kid.map(str::to_owned);
        h.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&h, claims, &self.key).unwrap()
    }

    fn assertion(&self, app: &TestApp) -> String {
        self.sign(&self.claims(&app.issuer))
    }
}

async fn grant(app: &TestApp, assertion: &str, client_id: Option<&str>) -> Resp {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
        // Mia's clients send this; RFC 6749 says unknown parameters are ignored.
        ("token_endpoint_auth_method", "private_key_jwt"),
    ];
    if let Some(c) = client_id {
        form.push(("client_id", c));
    }
    // Each from an address of its own: these tests fail on purpose more often than the
    // brute-force backoff lets one source do (that backoff has tests of its own).
    let [a, b, c] = keygate::domain::secret::random_bytes::<3>();
    let from = std::net::SocketAddr::from(([10, a, b, c], 40000));
    app.post("/oauth/token")
        .sent_from(from)
        .form(&form)
        .send()
        .await
}

/// Creates an account with `body`'s keys through the REST API as an administrator.
async fn key_account(app: &TestApp, token: &str, name: &str, keys: Value) -> Value {
    let mut body = json!({"name": name, "token_endpoint_auth_method": "private_key_jwt",
                          "roles": ["Token Introspector"]});
    body.as_object_mut()
        .unwrap()
        .extend(keys.as_object().unwrap().clone());
    let res = call(
        app,
        Method::POST,
        "/api/v1/service-accounts",
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    res.json()
}

fn client(created: &Value, alg: Algorithm, key: EncodingKey) -> KeyClient {
    KeyClient {
        id: created["id"].as_str().unwrap().into(),
        client_id: created["client_id"].as_str().unwrap().into(),
        kid: created["keys"][0]["kid"].as_str().unwrap().into(),
        alg,
        key,
    }
}

fn assert_token(res: &Resp) {
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res.json()["access_token"].is_string());
}

async fn wrong_secret_body(app: &TestApp) -> Value {
    let c = app.account("secret-holder").create().await;
    app.token_response(&c.with_secret("kgs_wrong")).await.json()
}

#[tokio::test]
async fn rsa_ps256_es256_and_eddsa_keys_pasted_or_generated_get_tokens() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let rsa = key_account(
        &app,
        &admin.token,
        "rsa",
        json!({"public_key": key_file("rsa2048.pub.pem")}),
    )
    .await;
    assert_eq!(rsa["token_endpoint_auth_method"], "private_key_jwt");
    assert!(rsa["client_id_issued_at"].as_i64().unwrap() > 0);
    assert!(rsa.get("client_secret").is_none());
    assert_eq!(rsa["keys"][0]["alg"], json!(["RS256", "PS256"]));
    let rsa_key = EncodingKey::from_rsa_pem(key_file("rsa2048.pem").as_bytes()).unwrap();
    for alg in [Algorithm::RS256, Algorithm::PS256] {
        let c = client(&rsa, alg, rsa_key.clone());
        let res = grant(&app, &c.assertion(&app), Some(&c.client_id)).await;
        assert_token(&res);
        let token = res.json()["access_token"].as_str().unwrap().to_owned();
        let (_, claims) = verify_jwt(&token, &app.jwks().await, &app.issuer);
        assert_eq!(claims["sub"], c.id.as_str());
        assert_eq!(claims["scope"], "tokens:introspect");
    }

    // A P-256 key as a JWK Set, with a kid of its own.
    let ec_pub = key_file("p256.pub.pem");
    let jwk = pem_to_jwk(&ec_pub);
    let mut named = jwk.clone();
    named["kid"] = "my-ec-key".into();
    let ec = key_account(&app, &admin.token, "ec", json!({"jwks": {"keys": [named]}})).await;
    assert_eq!(ec["keys"][0]["kid"], "my-ec-key");
    let c = client(
        &ec,
        Algorithm::ES256,
        EncodingKey::from_ec_pem(key_file("p256.pem").as_bytes()).unwrap(),
    );
    let res = grant(&app, &c.assertion(&app), None).await;
    assert_token(&res);

    // Ed25519, with an RFC 10070 typ.
    let ed = key_account(
        &app,
        &admin.token,
        "ed",
        json!({"public_key": key_file("ed25519.pub.pem")}),
    )
    .await;
    assert_eq!(ed["keys"][0]["alg"], "EdDSA");
    let c = client(
        &ed,
        Algorithm::EdDSA,
        EncodingKey::from_ed_pem(key_file("ed25519.pem").as_bytes()).unwrap(),
    );
    let a = c.sign_with(
        &c.claims(&app.issuer),
        Algorithm::EdDSA,
        Some(&c.kid),
        Some("client-authentication+jwt"),
    );
    assert_token(&grant(&app, &a, None).await);

    // A generated key: the key file is in the answer once, and works at once.
    let generated = key_account(&app, &admin.token, "gen", json!({"generate_key": true})).await;
    let file = &generated["key_file"];
    assert_eq!(file["type"], "keygate_service_account_key");
    assert_eq!(file["client_id"], generated["client_id"]);
    assert_eq!(file["key_id"], generated["keys"][0]["kid"]);
    assert_eq!(file["token_uri"], format!("{}/oauth/token", app.issuer));
    let pem = file["private_key"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let c = client(
        &generated,
        Algorithm::ES256,
        EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    );
    // Without kid: each key is tried.
    let a = c.sign_with(&c.claims(&app.issuer), Algorithm::ES256, None, None);
    assert_token(&grant(&app, &a, None).await);
    // keygate never shows the private key again, nor stores it.
    let got = call(
        &app,
        Method::GET,
        &format!("/api/v1/service-accounts/{}/keys", c.id),
        Some(&admin.token),
        None,
    )
    .await;
    assert!(!got.text().contains("PRIVATE KEY"));
    assert_eq!(got.json()["items"][0]["kid"], c.kid.as_str());
    let dump = sqlx::query("select public_jwk from client_keys")
        .fetch_all(app.state.store.pool())
        .await
        .unwrap();
    for r in dump {
        let jwk: String = sqlx::Row::get(&r, "public_jwk");
        assert!(!jwk.contains("\"d\""), "{jwk}");
    }
}

/// The JWK of a PEM P-256 public key, via keygate's own parser (tested on its own).
fn pem_to_jwk(pem: &str) -> Value {
    let k = keygate::domain::client_key::from_pem(pem).unwrap();
    let mut jwk = k.jwk;
    jwk.as_object_mut().unwrap().remove("kid");
    jwk.as_object_mut().unwrap().remove("alg");
    jwk
}

#[tokio::test]
async fn every_bad_assertion_gets_the_same_answer_as_a_wrong_secret() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let wrong_secret = wrong_secret_body(&app).await;
    let ec_key = || EncodingKey::from_ec_pem(key_file("p256.pem").as_bytes()).unwrap();
    let created = key_account(
        &app,
        &admin.token,
        "ec",
        json!({"public_key": key_file("p256.pub.pem")}),
    )
    .await;
    let c = client(&created, Algorithm::ES256, ec_key());
    let other = key_account(&app, &admin.token, "other", json!({"generate_key": true})).await;
    let other_key = EncodingKey::from_ec_pem(
        other["key_file"]["private_key"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let now = unix_secs();
    let base = c.claims(&app.issuer);
    let with = |k: &str, v: Value| {
        let mut x = c.claims(&app.issuer);
        x[k] = v;
        x
    };
    let without = |k: &str| {
        let mut x = c.claims(&app.issuer);
        x.as_object_mut().unwrap().remove(k);
        x
    };
    let hs256 = {
        let spki = key_file("p256.pub.pem");
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(c.kid.clone());
        jsonwebtoken::encode(&h, &base, &EncodingKey::from_secret(spki.as_bytes())).unwrap()
    };
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(base.to_string())
    );
    let token_endpoint = format!("{}/oauth/token", app.issuer);
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong key",
            jsonwebtoken::encode(
                &{
                    let mut h = Header::new(Algorithm::ES256);
                    h.kid = Some(c.kid.clone());
                    h
                },
                &base,
                &other_key,
            )
            .unwrap(),
        ),
        (
            "unknown kid",
            c.sign_with(&base, Algorithm::ES256, Some("no-such-kid"), None),
        ),
        ("alg none", none),
        ("HS256 with the public key as secret", hs256),
        ("wrong iss", c.sign(&with("iss", json!(other["client_id"])))),
        ("wrong sub", c.sign(&with("sub", json!("someone-else")))),
        (
            "wrong aud",
            c.sign(&with("aud", json!("https://elsewhere.example"))),
        ),
        (
            "aud with two values",
            c.sign(&with("aud", json!([app.issuer, "https://x"]))),
        ),
        (
            "token endpoint aud with the RFC 10070 typ",
            c.sign_with(
                &with("aud", json!(token_endpoint)),
                Algorithm::ES256,
                Some(&c.kid),
                Some("client-authentication+jwt"),
            ),
        ),
        ("missing exp", c.sign(&without("exp"))),
        ("expired", c.sign(&with("exp", json!(now - 60)))),
        (
            "exp over an hour ahead",
            c.sign(&with("exp", json!(now + 7200))),
        ),
        ("iat in the future", c.sign(&with("iat", json!(now + 600)))),
        ("nbf in the future", c.sign(&with("nbf", json!(now + 600)))),
        ("missing jti", c.sign(&without("jti"))),
        ("garbage", "not.a.jwt".into()),
    ];
    for (what, a) in &cases {
        let res = grant(&app, a, None).await;
        res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
        assert_eq!(res.json(), wrong_secret, "{what}");
        assert_eq!(res.header(header::WWW_AUTHENTICATE), None, "{what}");
    }
    // An RFC 7523 assertion (typ JWT or none) may name the token endpoint.
    let a = c.sign(&with("aud", json!(token_endpoint)));
    assert_eq!(grant(&app, &a, None).await.status, StatusCode::OK);
    // A reused jti is refused.
    let a = c.assertion(&app);
    assert_eq!(grant(&app, &a, None).await.status, StatusCode::OK);
    assert_eq!(grant(&app, &a, None).await.json(), wrong_secret);
    // A client_id that differs from the assertion's.
    let res = grant(
        &app,
        &c.assertion(&app),
        Some(other["client_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(res.json(), wrong_secret);
    // A key account cannot use a secret, nor a secret account an assertion.
    let res = app
        .post("/oauth/token")
        .basic_pair(&c.client_id, "kgs_anything")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    let secret_account = app.account("secretive").create().await;
    let mut fake = c.claims(&app.issuer);
    fake["iss"] = secret_account.client_id.clone().into();
    fake["sub"] = secret_account.client_id.clone().into();
    assert_eq!(grant(&app, &c.sign(&fake), None).await.json(), wrong_secret);
    // An expired key, a disabled account.
    sqlx::query("update client_keys set expires_at = 1 where kid = $1")
        .bind(&c.kid)
        .execute(app.state.store.pool())
        .await
        .unwrap();
    app.state
        .oauth
        .apply_local(&keygate::store::changes::Change::Account(c.id.clone()));
    assert_eq!(
        grant(&app, &c.assertion(&app), None).await.json(),
        wrong_secret
    );
    let o = client(&other, Algorithm::ES256, other_key.clone());
    assert_eq!(
        grant(&app, &o.assertion(&app), None).await.status,
        StatusCode::OK
    );
    app.state
        .admin
        .set_enabled(&Actor::system(), &o.id, false)
        .await
        .unwrap();
    assert_eq!(
        grant(&app, &o.assertion(&app), None).await.json(),
        wrong_secret
    );
}

#[tokio::test]
async fn two_methods_in_one_request_are_an_invalid_request() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let created = key_account(
        &app,
        &admin.token,
        "ec",
        json!({"public_key": key_file("p256.pub.pem")}),
    )
    .await;
    let c = client(
        &created,
        Algorithm::ES256,
        EncodingKey::from_ec_pem(key_file("p256.pem").as_bytes()).unwrap(),
    );
    let a = c.assertion(&app);
    let res = app
        .post("/oauth/token")
        .basic_pair(&c.client_id, "kgs_x")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &a),
        ])
        .send()
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let res = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &a),
            ("client_secret", "kgs_x"),
        ])
        .send()
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let res = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:other"),
            ("client_assertion", &a),
        ])
        .send()
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_replay_on_a_second_instance_is_refused() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let created = key_account(
        &app,
        &admin.token,
        "ec",
        json!({"public_key": key_file("p256.pub.pem")}),
    )
    .await;
    let c = client(
        &created,
        Algorithm::ES256,
        EncodingKey::from_ec_pem(key_file("p256.pem").as_bytes()).unwrap(),
    );
    let second = app.another_instance().await;
    let a = c.assertion(&app);
    assert_eq!(grant(&app, &a, None).await.status, StatusCode::OK);
    grant(&second, &a, None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    // A fresh assertion works on the second instance.
    assert_eq!(
        grant(&second, &c.assertion(&app), None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn keys_rotate_without_downtime_and_the_last_one_stays() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let created = key_account(
        &app,
        &admin.token,
        "rotating",
        json!({"public_key": key_file("p256.pub.pem")}),
    )
    .await;
    let old = client(
        &created,
        Algorithm::ES256,
        EncodingKey::from_ec_pem(key_file("p256.pem").as_bytes()).unwrap(),
    );
    let keys = format!("/api/v1/service-accounts/{}/keys", old.id);
    let second = app.another_instance().await;
    // Add the new key: both work, on both instances.
    let res = call(
        &app,
        Method::POST,
        &keys,
        Some(&admin.token),
        Some(json!({"generate_key": true, "expires_at": "2999-01-01T00:00:00+01:00"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    let added = res.json();
    assert_eq!(added["alg"], "ES256");
    assert_eq!(added["expires_at"], "2998-12-31T23:00:00Z");
    let new = KeyClient {
        kid: added["kid"].as_str().unwrap().into(),
        key: EncodingKey::from_ec_pem(
            added["key_file"]["private_key"]
                .as_str()
                .unwrap()
                .as_bytes(),
        )
        .unwrap(),
        ..client(
            &created,
            Algorithm::ES256,
            EncodingKey::from_secret(b"unused"),
        )
    };
    for instance in [&app, &second] {
        assert_eq!(
            grant(instance, &old.assertion(&app), None).await.status,
            StatusCode::OK
        );
        assert_eq!(
            grant(instance, &new.assertion(&app), None).await.status,
            StatusCode::OK
        );
    }
    app.state.oauth.flush_usage().await.unwrap();
    let list = call(&app, Method::GET, &keys, Some(&admin.token), None)
        .await
        .json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|k| k["created_at"].is_string() && k["last_used_at"].is_string())
    );
    // Delete the old one: it stops at once, on both instances.
    let res = call(
        &app,
        Method::DELETE,
        &format!("{keys}/{}", old.kid),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    grant(&app, &old.assertion(&app), None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(
        crate::helpers::eventually(std::time::Duration::from_secs(3), async || {
            grant(&second, &old.assertion(&app), None).await.status == StatusCode::UNAUTHORIZED
        })
        .await
    );
    assert_eq!(
        grant(&second, &new.assertion(&app), None).await.status,
        StatusCode::OK
    );
    // The last key cannot go.
    let res = call(
        &app,
        Method::DELETE,
        &format!("{keys}/{}", new.kid),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    let res = call(
        &app,
        Method::DELETE,
        &format!("{keys}/nope"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // Every change is audited.
    let audit = call(
        &app,
        Method::GET,
        &format!("/api/v1/audit-events?target={}", old.id),
        Some(&admin.token),
        None,
    )
    .await
    .json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"service_account.key_added"),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"service_account.key_deleted"),
        "{actions:?}"
    );
    // Deleting by client ID (as Mia does) works too.
    let res = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/service-accounts/{}", old.client_id),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert_eq!(app.account_count().await, 1);
}

#[tokio::test]
async fn bad_keys_are_422_naming_the_field_and_create_nothing() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let cases = [
        (
            json!({"public_key": key_file("p256.pem")}),
            "public_key",
            "private key",
        ),
        (
            json!({"public_key": key_file("rsa1024.pub.pem")}),
            "public_key",
            "2048",
        ),
        (
            json!({"public_key": key_file("p384.pub.pem")}),
            "public_key",
            "P-256",
        ),
        (json!({"public_key": "garbage"}), "public_key", "PEM"),
        (
            json!({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "jwks",
            "secret",
        ),
        (json!({"jwks": {"nope": 1}}), "jwks", "JWK Set"),
        (json!({}), "jwks", "exactly one"),
        (
            json!({"generate_key": true, "public_key": key_file("p256.pub.pem")}),
            "jwks",
            "exactly one",
        ),
    ];
    for (keys, field, says) in cases {
        let mut body = json!({"name": "k", "token_endpoint_auth_method": "private_key_jwt"});
        body.as_object_mut()
            .unwrap()
            .extend(keys.as_object().unwrap().clone());
        let res = call(
            &app,
            Method::POST,
            "/api/v1/service-accounts",
            Some(&admin.token),
            Some(body),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            res.text()
        );
        assert_eq!(res.json()["field"], field, "{}", res.text());
        assert!(
            res.json()["message"].as_str().unwrap().contains(says),
            "{}",
            res.text()
        );
    }
    let res = call(
        &app,
        Method::POST,
        "/api/v1/service-accounts",
        Some(&admin.token),
        Some(json!({"name": "k", "generate_key": true})),
    )
    .await;
    assert_eq!(res.json()["field"], "token_endpoint_auth_method");
    let res = call(
        &app,
        Method::POST,
        "/api/v1/service-accounts",
        Some(&admin.token),
        Some(json!({"name": "k", "token_endpoint_auth_method": "tls_client_auth"})),
    )
    .await;
    assert_eq!(res.json()["field"], "token_endpoint_auth_method");
    assert_eq!(app.account_count().await, 1);
}

#[tokio::test]
async fn metadata_lists_private_key_jwt_and_its_algorithms() {
    let app = TestApp::spawn().await;
    let m = app
        .get("/.well-known/oauth-authorization-server")
        .send()
        .await
        .json();
    let methods = m["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("private_key_jwt")));
    assert_eq!(
        m["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "EdDSA"])
    );
}

#[tokio::test]
async fn the_cli_creates_key_accounts_and_manages_their_keys() {
    let app = TestApp::spawn().await;
    let run = crate::cli::keygate(
        &app,
        &[
            "service-accounts",
            "create",
            "--name",
            "cli-key",
            "--auth",
            "private-key-jwt",
            "--generate-key",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let created: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    let pem = created["key_file"]["private_key"].as_str().unwrap();
    let c = client(
        &created,
        Algorithm::ES256,
        EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    );
    assert_eq!(
        grant(&app, &c.assertion(&app), None).await.status,
        StatusCode::OK
    );
    let pub_path = format!(
        "{}/tests/it/keys/ed25519.pub.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let run = crate::cli::keygate(
        &app,
        &[
            "service-accounts",
            "keys",
            "add",
            "cli-key",
            "--public-key",
            &pub_path,
        ],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let run = crate::cli::keygate(
        &app,
        &[
            "service-accounts",
            "keys",
            "list",
            &c.client_id,
            "--output",
            "json",
        ],
    )
    .await;
    let list: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let run = crate::cli::keygate(
        &app,
        &["service-accounts", "keys", "delete", "cli-key", &c.kid],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    // The command line's change reaches the running instance through the change feed.
    assert!(
        crate::helpers::eventually(std::time::Duration::from_secs(3), async || {
            grant(&app, &c.assertion(&app), None).await.status == StatusCode::UNAUTHORIZED
        })
        .await
    );
    // The private key of a pasted key is never asked for: a private key file is refused.
    let priv_path = format!("{}/tests/it/keys/p256.pem", env!("CARGO_MANIFEST_DIR"));
    let run = crate::cli::keygate(
        &app,
        &[
            "service-accounts",
            "keys",
            "add",
            "cli-key",
            "--public-key",
            &priv_path,
        ],
    )
    .await;
    assert_ne!(run.code, Some(0));
    assert!(run.stderr.contains("private key"), "{run:?}");
}

#[tokio::test]
async fn the_console_adds_pasted_and_generated_keys_and_deletes_them_with_confirmation() {
    use crate::console::{csrf_of, signed_in_admin};
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let created = key_account(
        &app,
        &admin.token,
        "console-key",
        json!({"public_key": key_file("p256.pub.pem")}),
    )
    .await;
    let first = client(
        &created,
        Algorithm::ES256,
        EncodingKey::from_ec_pem(key_file("p256.pem").as_bytes()).unwrap(),
    );
    let mut b = signed_in_admin(&app).await;
    let page_url = format!("/settings/service-accounts/{}", first.id);
    let page = b.get(&page_url).await.text();
    assert!(page.contains("Private key JWT"));
    assert!(page.contains(&first.kid));
    let csrf = csrf_of(&page);
    // A pasted private key is refused inline, nothing added.
    let res = b
        .post(
            &format!("{page_url}/keys"),
            &[("csrf", &csrf), ("key", &key_file("p256.pem"))],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("private key"));
    // A pasted Ed25519 PEM key.
    let res = b
        .post(
            &format!("{page_url}/keys"),
            &[("csrf", &csrf), ("key", &key_file("ed25519.pub.pem"))],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    // A generated key: its key file, once, works at once.
    let res = b
        .post(
            &format!("{page_url}/keys"),
            &[("csrf", &csrf), ("key", ""), ("generate", "1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = res.text();
    assert!(html.contains("Download key file"));
    let href = crate::console::value_of(&html, "href=\"data:application/json;base64,").unwrap();
    let file: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(href)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(file["type"], "keygate_service_account_key");
    let generated = KeyClient {
        kid: file["key_id"].as_str().unwrap().into(),
        key: EncodingKey::from_ec_pem(file["private_key"].as_str().unwrap().as_bytes()).unwrap(),
        ..client(
            &created,
            Algorithm::ES256,
            EncodingKey::from_secret(b"unused"),
        )
    };
    assert_eq!(
        grant(&app, &generated.assertion(&app), None).await.status,
        StatusCode::OK
    );
    let page = b.get(&page_url).await.text();
    assert!(!page.contains("PRIVATE KEY"));
    assert_eq!(
        app.state
            .admin
            .list_keys(&Actor::system(), &first.id)
            .await
            .unwrap()
            .len(),
        3
    );
    // Delete asks first, then the key stops working.
    let confirm = b
        .get(&format!("{page_url}/keys/{}/delete", first.kid))
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.text().contains("stop working"));
    let res = b
        .post(
            &format!("{page_url}/keys/{}/delete", first.kid),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    grant(&app, &first.assertion(&app), None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    // Without the CSRF token nothing happens.
    let res = b
        .post(
            &format!("{page_url}/keys/{}/delete", generated.kid),
            &[("csrf", "wrong")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        grant(&app, &generated.assertion(&app), None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_wizard_creates_key_accounts_with_a_pasted_or_generated_key() {
    use crate::console::{csrf_of, signed_in_admin, value_of};
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let page = b.get("/settings/service-accounts/new").await.text();
    assert!(page.contains("Authentication method"));
    let csrf = csrf_of(&page);
    let step = |name: &'static str, source: &'static str, key: String, step: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", name.to_owned()),
            ("description", String::new()),
            ("auth", "private_key_jwt".to_owned()),
            ("key_source", source.to_owned()),
            ("public_key", key),
            ("step", step.to_owned()),
        ]
    };
    let post = |form: Vec<(&'static str, String)>| form;
    // A private key pasted by mistake is refused at step 1, with what was typed kept.
    let form = post(step("signer", "paste", key_file("p256.pem"), "roles"));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post("/settings/service-accounts/new", &pairs).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("private key"));
    // A pasted public key: step 2 carries it, step 3 shows the key id and no secret.
    let form = post(step("pasted", "paste", key_file("p256.pub.pem"), "roles"));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post("/settings/service-accounts/new", &pairs).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res.text().contains("name=\"public_key\""));
    let mut form = post(step("pasted", "paste", key_file("p256.pub.pem"), "create"));
    form.push(("role", "builtin-token-introspector".to_owned()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let html = b
        .post("/settings/service-accounts/new", &pairs)
        .await
        .text();
    assert!(
        html.contains("Key ID") && !html.contains("Client Secret"),
        "{html}"
    );
    let client_id = value_of(&html, "id=\"cred-client-id\" readonly value=\"").unwrap();
    let kid = value_of(&html, "id=\"cred-key-id\" readonly value=\"").unwrap();
    let pasted = KeyClient {
        id: String::new(),
        client_id,
        kid,
        alg: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(key_file("p256.pem").as_bytes()).unwrap(),
    };
    let res = grant(&app, &pasted.assertion(&app), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["scope"], "tokens:introspect");
    // A generated key: the key file is offered once and works at once.
    let form = post(step("generated", "generate", String::new(), "create"));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let html = b
        .post("/settings/service-accounts/new", &pairs)
        .await
        .text();
    assert!(html.contains("Download key file"), "{html}");
    let href = value_of(&html, "href=\"data:application/json;base64,").unwrap();
    let file: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(href)
            .unwrap(),
    )
    .unwrap();
    let generated = KeyClient {
        id: String::new(),
        client_id: file["client_id"].as_str().unwrap().into(),
        kid: file["key_id"].as_str().unwrap().into(),
        alg: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(file["private_key"].as_str().unwrap().as_bytes()).unwrap(),
    };
    assert_eq!(
        grant(&app, &generated.assertion(&app), None).await.status,
        StatusCode::OK
    );
}
