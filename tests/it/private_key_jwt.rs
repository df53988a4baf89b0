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
    assert_eq!(
        rsa["keys"][0]["alg"], "RS256",
        "one string; PS256 is still accepted"
    );
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

/// One account with a pasted P-256 key (`c`), another with a generated one, and the body a
/// wrong secret gets, which every refusal must equal.
struct Refusals {
    app: TestApp,
    c: KeyClient,
    other: Value,
    other_key: EncodingKey,
    wrong_secret: Value,
}

impl Refusals {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let admin = administrator(&app).await;
        let wrong_secret = wrong_secret_body(&app).await;
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
        let other = key_account(&app, &admin.token, "other", json!({"generate_key": true})).await;
        let other_key = EncodingKey::from_ec_pem(
            other["key_file"]["private_key"]
                .as_str()
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
        Self {
            app,
            c,
            other,
            other_key,
            wrong_secret,
        }
    }

    /// Good claims with `k` set to `v`.
    fn with(&self, k: &str, v: Value) -> Value {
        let mut x = self.c.claims(&self.app.issuer);
        x[k] = v;
        x
    }

    /// Good claims without `k`.
    fn without(&self, k: &str) -> Value {
        let mut x = self.c.claims(&self.app.issuer);
        x.as_object_mut().unwrap().remove(k);
        x
    }

    /// Good claims, signed well.
    fn good(&self) -> String {
        self.c.assertion(&self.app)
    }

    /// `assertion` gets exactly the answer of a wrong secret.
    async fn assert_refused(&self, assertion: &str) {
        let res = grant(&self.app, assertion, None).await;
        res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
        assert_eq!(res.json(), self.wrong_secret);
        assert_eq!(res.header(header::WWW_AUTHENTICATE), None);
    }
}

/// A test that one assertion, made from a [`Refusals`] fixture, is refused like a wrong
/// secret.
macro_rules! refused {
    ($(#[$doc:meta])* $name:ident, |$f:ident| $assertion:expr) => {
        $(#[$doc])*
        #[tokio::test]
        async fn $name() {
            let $f = Refusals::new().await;
            let assertion: String = $assertion;
            $f.assert_refused(&assertion).await;
        }
    };
}

refused!(
    /// Signed by another account's key, under this account's `kid`.
    an_assertion_signed_by_the_wrong_key_is_refused,
    |f| {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(f.c.kid.clone());
        jsonwebtoken::encode(&h, &f.c.claims(&f.app.issuer), &f.other_key).unwrap()
    }
);
refused!(an_unknown_kid_is_refused, |f| f.c.sign_with(
    &f.c.claims(&f.app.issuer),
    Algorithm::ES256,
    Some("no-such-kid"),
    None
));
refused!(an_unsigned_assertion_with_alg_none_is_refused, |f| format!(
    "{}.{}.",
    URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
    URL_SAFE_NO_PAD.encode(f.c.claims(&f.app.issuer).to_string())
));
refused!(
    /// The classic key-confusion attack: HMAC keyed with the public key's PEM text.
    an_hs256_assertion_keyed_with_the_public_key_is_refused,
    |f| {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(f.c.kid.clone());
        let spki = key_file("p256.pub.pem");
        jsonwebtoken::encode(
            &h,
            &f.c.claims(&f.app.issuer),
            &EncodingKey::from_secret(spki.as_bytes()),
        )
        .unwrap()
    }
);
refused!(a_wrong_iss_is_refused, |f| f
    .c
    .sign(&f.with("iss", json!(f.other["client_id"]))));
refused!(a_wrong_sub_is_refused, |f| f
    .c
    .sign(&f.with("sub", json!("someone-else"))));
refused!(a_wrong_aud_is_refused, |f| f
    .c
    .sign(&f.with("aud", json!("https://elsewhere.example"))));
refused!(an_aud_with_two_values_is_refused, |f| f
    .c
    .sign(&f.with("aud", json!([f.app.issuer, "https://x"]))));
refused!(
    /// RFC 10070's `typ` requires the issuer as the audience, not the token endpoint.
    a_token_endpoint_aud_with_the_rfc_10070_typ_is_refused,
    |f| f.c.sign_with(
        &f.with("aud", json!(format!("{}/oauth/token", f.app.issuer))),
        Algorithm::ES256,
        Some(&f.c.kid),
        Some("client-authentication+jwt"),
    )
);
refused!(a_missing_exp_is_refused, |f| f.c.sign(&f.without("exp")));
refused!(an_expired_assertion_is_refused, |f| f
    .c
    .sign(&f.with("exp", json!(unix_secs() - 60))));
refused!(an_exp_over_an_hour_ahead_is_refused, |f| f
    .c
    .sign(&f.with("exp", json!(unix_secs() + 7200))));
refused!(an_iat_in_the_future_is_refused, |f| f
    .c
    .sign(&f.with("iat", json!(unix_secs() + 600))));
refused!(an_nbf_in_the_future_is_refused, |f| f
    .c
    .sign(&f.with("nbf", json!(unix_secs() + 600))));
refused!(a_missing_jti_is_refused, |f| f.c.sign(&f.without("jti")));
refused!(garbage_is_refused, |_f| "not.a.jwt".to_owned());

#[tokio::test]
async fn a_reused_jti_is_refused() {
    let f = Refusals::new().await;
    let a = f.good();
    assert_eq!(grant(&f.app, &a, None).await.status, StatusCode::OK);
    f.assert_refused(&a).await;
}

#[tokio::test]
async fn an_rfc_7523_assertion_may_name_the_token_endpoint() {
    let f = Refusals::new().await;
    let a =
        f.c.sign(&f.with("aud", json!(format!("{}/oauth/token", f.app.issuer))));
    assert_eq!(grant(&f.app, &a, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_id_other_than_the_assertions_is_refused() {
    let f = Refusals::new().await;
    let res = grant(
        &f.app,
        &f.good(),
        Some(f.other["client_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(res.json(), f.wrong_secret);
}

#[tokio::test]
async fn a_key_account_cannot_use_a_secret_nor_a_secret_account_an_assertion() {
    let f = Refusals::new().await;
    let res = f
        .app
        .post("/oauth/token")
        .basic_pair(&f.c.client_id, "kgs_anything")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    let secret_account = f.app.account("secretive").create().await;
    let mut fake = f.c.claims(&f.app.issuer);
    fake["iss"] = secret_account.client_id.clone().into();
    fake["sub"] = secret_account.client_id.clone().into();
    f.assert_refused(&f.c.sign(&fake)).await;
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let f = Refusals::new().await;
    assert_eq!(grant(&f.app, &f.good(), None).await.status, StatusCode::OK);
    sqlx::query("update client_keys set expires_at = 1 where kid = $1")
        .bind(&f.c.kid)
        .execute(f.app.state.store.pool())
        .await
        .unwrap();
    f.app
        .state
        .oauth
        .apply_local(&keygate::store::changes::Change::Account(f.c.id.clone()));
    f.assert_refused(&f.good()).await;
}

#[tokio::test]
async fn a_deleted_key_is_refused() {
    let f = Refusals::new().await;
    // A second key, so the first may go (the last key cannot).
    f.app
        .state
        .admin
        .add_keys(
            &Actor::system(),
            &f.c.id,
            keygate::admin::keys::KeySource::Generate,
            None,
        )
        .await
        .map(|_| ())
        .unwrap();
    assert_eq!(grant(&f.app, &f.good(), None).await.status, StatusCode::OK);
    f.app
        .state
        .admin
        .delete_key(&Actor::system(), &f.c.id, &f.c.kid)
        .await
        .unwrap();
    f.assert_refused(&f.good()).await;
}

#[tokio::test]
async fn a_disabled_account_is_refused() {
    let f = Refusals::new().await;
    assert_eq!(grant(&f.app, &f.good(), None).await.status, StatusCode::OK);
    f.app
        .state
        .admin
        .set_enabled(&Actor::system(), &f.c.id, false)
        .await
        .unwrap();
    f.assert_refused(&f.good()).await;
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

#[tokio::test]
async fn rs256_ps256_es256_and_eddsa_assertions_get_tokens_over_real_http() {
    let app = TestApp::builder().serving().start().await;
    let admin = administrator(&app).await;
    let rsa = key_account(
        &app,
        &admin.token,
        "rsa",
        json!({"public_key": key_file("rsa2048.pub.pem")}),
    )
    .await;
    let ec = key_account(
        &app,
        &admin.token,
        "ec",
        json!({"public_key": key_file("p256.pub.pem")}),
    )
    .await;
    let ed = key_account(
        &app,
        &admin.token,
        "ed",
        json!({"public_key": key_file("ed25519.pub.pem")}),
    )
    .await;
    let rsa_key = EncodingKey::from_rsa_pem(key_file("rsa2048.pem").as_bytes()).unwrap();
    let clients = [
        client(&rsa, Algorithm::RS256, rsa_key.clone()),
        client(&rsa, Algorithm::PS256, rsa_key),
        client(
            &ec,
            Algorithm::ES256,
            EncodingKey::from_ec_pem(key_file("p256.pem").as_bytes()).unwrap(),
        ),
        client(
            &ed,
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(key_file("ed25519.pem").as_bytes()).unwrap(),
        ),
    ];
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{}/oauth/token", app.base_url());
    for c in &clients {
        let assertion = c.assertion(&app);
        let res = http
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion.as_str()),
                ("client_id", c.client_id.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK, "{:?}", c.alg);
        let body: Value = res.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap();
        let (_, claims) = verify_jwt(token, &app.jwks().await, &app.issuer);
        assert_eq!(claims["sub"], c.id.as_str(), "{:?}", c.alg);
        // The same assertion again, over the same real connection pool: refused.
        let again = http
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), reqwest::StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn reloading_a_generated_key_file_makes_no_second_key() {
    use crate::console::{csrf_of, signed_in_admin, value_of};
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let created = key_account(
        &app,
        &admin.token,
        "reload-key",
        json!({"public_key": key_file("p256.pub.pem")}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let mut b = signed_in_admin(&app).await;
    let page_url = format!("/settings/service-accounts/{id}");
    let page = b.get(&page_url).await.text();
    let csrf = csrf_of(&page);
    let form_id = value_of(&page, "name=\"form_id\" value=\"").expect("a form id");
    let form = [
        ("csrf", csrf.as_str()),
        ("form_id", form_id.as_str()),
        ("key", ""),
        ("generate", "1"),
    ];
    let first = b.post(&format!("{page_url}/keys"), &form).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert!(first.text().contains("Download key file"));
    // The browser's reload posts the same form again: told so, no second key.
    let again = b.post(&format!("{page_url}/keys"), &form).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    let html = again.text();
    assert!(html.contains("already sent"), "{html}");
    assert!(!html.contains("PRIVATE KEY"), "{html}");
    assert!(html.contains(&format!("href=\"{page_url}\"")), "{html}");
    let keys = app.state.admin.list_keys(&Actor::system(), &id).await;
    assert_eq!(keys.unwrap().len(), 2);
    // A fresh rendering of the page may generate another.
    let page = b.get(&page_url).await.text();
    let fresh = value_of(&page, "name=\"form_id\" value=\"").unwrap();
    assert_ne!(fresh, form_id);
    let res = b
        .post(
            &format!("{page_url}/keys"),
            &[("csrf", &csrf), ("form_id", &fresh), ("generate", "1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let keys = app.state.admin.list_keys(&Actor::system(), &id).await;
    assert_eq!(keys.unwrap().len(), 3);
}

#[tokio::test]
async fn the_replay_guard_outlives_its_database_connection() {
    use sqlx::Connection as _;
    let app = TestApp::spawn().await;
    let Some(url) = crate::helpers::postgres_url().filter(|_| app.db.is_postgres()) else {
        eprintln!("skipped: the connection is ended from PostgreSQL's side");
        return;
    };
    let admin = administrator(&app).await;
    let created = key_account(
        &app,
        &admin.token,
        "held",
        json!({"public_key": key_file("p256.pub.pem")}),
    )
    .await;
    let c = client(
        &created,
        Algorithm::ES256,
        EncodingKey::from_ec_pem(key_file("p256.pem").as_bytes()).unwrap(),
    );
    let first = c.assertion(&app);
    assert_eq!(grant(&app, &first, None).await.status, StatusCode::OK);
    // The server ends the guard's idle connection (as a restart or an idle timeout would):
    // the next grant is still served, and the replay still refused.
    let mut pg = sqlx::PgConnection::connect(&url).await.unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_stat_activity \
         where datname = current_database() and application_name = 'keygate replay guard'",
    )
    .fetch_all(&mut pg)
    .await
    .unwrap();
    assert!(ended.contains(&true), "no replay-guard connection found");
    assert_eq!(
        grant(&app, &c.assertion(&app), None).await.status,
        StatusCode::OK
    );
    grant(&app, &first, None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
}
