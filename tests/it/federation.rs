//! Workload identity federation (issue 14): a test-run issuer (a small HTTP server serving
//! OpenID discovery and a JWKS, signing tokens shaped like GitHub Actions' and Kubernetes'),
//! trusted issuers and federated credentials through the REST API, and every rule of the
//! token endpoint.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keygate::domain::audit::Actor;
use serde_json::{Value, json};

use crate::api_accounts::{Caller, administrator, call, caller};
use crate::helpers::{Resp, TestApp, unix_secs};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// One signing key of the test issuer.
#[derive(Clone)]
struct SigningKey {
    kid: String,
    jwk: Value,
    key: EncodingKey,
}

fn new_key() -> SigningKey {
    let (public, pem) = keygate::domain::client_key::generate_p256().unwrap();
    SigningKey {
        kid: public.kid.clone(),
        jwk: public.jwk,
        key: EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    }
}

struct IssuerState {
    base: String,
    published: Mutex<Vec<Value>>,
    jwks_fetches: AtomicUsize,
    down: AtomicBool,
}

/// A platform's token issuer, run by the test on a free port.
struct TestIssuer {
    state: Arc<IssuerState>,
    key: Mutex<SigningKey>,
}

async fn discovery(State(s): State<Arc<IssuerState>>) -> Response {
    if s.down.load(Ordering::Acquire) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(json!({"issuer": s.base, "jwks_uri": format!("{}/keys", s.base)})).into_response()
}

async fn jwks(State(s): State<Arc<IssuerState>>) -> Response {
    if s.down.load(Ordering::Acquire) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    s.jwks_fetches.fetch_add(1, Ordering::AcqRel);
    let keys = s.published.lock().unwrap().clone();
    (
        [("cache-control", "public, max-age=3600")],
        axum::Json(json!({ "keys": keys })),
    )
        .into_response()
}

impl TestIssuer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let key = new_key();
        let state = Arc::new(IssuerState {
            base: format!("http://{addr}"),
            published: Mutex::new(vec![key.jwk.clone()]),
            jwks_fetches: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        });
        let router = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/keys", get(jwks))
            .with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            state,
            key: Mutex::new(key),
        }
    }

    fn url(&self) -> String {
        self.state.base.clone()
    }

    fn fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::Acquire)
    }

    /// Publishes a new key beside the old one and signs with it from now on.
    fn rotate(&self) {
        let k = new_key();
        self.state.published.lock().unwrap().push(k.jwk.clone());
        *self.key.lock().unwrap() = k;
    }

    fn sign(&self, claims: &Value) -> String {
        let k = self.key.lock().unwrap().clone();
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(k.kid.clone());
        jsonwebtoken::encode(&h, claims, &k.key).unwrap()
    }

    /// Claims shaped like a GitHub Actions OIDC token.
    fn github(&self, aud: &str, repository: &str, git_ref: &str) -> Value {
        let now = unix_secs();
        json!({
            "iss": self.url(), "aud": aud,
            "sub": format!("repo:{repository}:ref:{git_ref}"),
            "repository": repository, "repository_owner": repository.split('/').next(),
            "ref": git_ref, "workflow": "release", "event_name": "push",
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now, "nbf": now - 5, "exp": now + 300,
        })
    }

    /// Claims shaped like a Kubernetes projected service-account token.
    fn kubernetes(&self, aud: &str, namespace: &str, name: &str) -> Value {
        let now = unix_secs();
        json!({
            "iss": self.url(), "aud": [aud],
            "sub": format!("system:serviceaccount:{namespace}:{name}"),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": "u-1"}},
            "iat": now, "nbf": now, "exp": now + 3600,
        })
    }
}

/// An app with an administrator, a trusted test issuer and one account holding a federated
/// credential for `acme/app` on release branches.
struct Fixture {
    app: TestApp,
    admin: Caller,
    issuer: TestIssuer,
    issuer_id: String,
    account_id: String,
    client_id: String,
    wrong_secret: Value,
}

impl Fixture {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        Self::on(app).await
    }

    async fn on(app: TestApp) -> Self {
        let admin = administrator(&app).await;
        let issuer = TestIssuer::start().await;
        let res = call(
            &app,
            Method::POST,
            "/api/v1/trusted-issuers",
            Some(&admin.token),
            Some(json!({"name": "CI", "issuer": issuer.url()})),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        let issuer_id = res.json()["id"].as_str().unwrap().to_owned();
        let account = app
            .account("deployer")
            .roles(&["Token Introspector"])
            .create()
            .await;
        let account_id = account.id.clone();
        let res = call(
            &app,
            Method::POST,
            &format!("/api/v1/service-accounts/{account_id}/federated-credentials"),
            Some(&admin.token),
            Some(json!({"trusted_issuer": issuer_id, "conditions": [
                {"claim": "repository", "equals": "acme/app"},
                {"claim": "ref", "matches": "refs/heads/release/*"},
            ]})),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        let wrong_secret = app
            .token_response(&account.with_secret("kgs_wrong"))
            .await
            .json();
        Self {
            app,
            admin,
            issuer,
            issuer_id,
            account_id,
            client_id: account.client_id,
            wrong_secret,
        }
    }

    fn good(&self) -> String {
        self.issuer.sign(&self.issuer.github(
            &self.app.issuer,
            "acme/app",
            "refs/heads/release/1.4",
        ))
    }

    async fn grant_on(&self, app: &TestApp, assertion: &str) -> Resp {
        // Each from an address of its own (these tests fail on purpose; the backoff has
        // tests of its own).
        let [a, b, c] = keygate::domain::secret::random_bytes::<3>();
        let from = SocketAddr::from(([10, a, b, c], 40000));
        app.post("/oauth/token")
            .sent_from(from)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion),
            ])
            .send()
            .await
    }

    async fn grant(&self, assertion: &str) -> Resp {
        self.grant_on(&self.app, assertion).await
    }

    async fn assert_refused(&self, assertion: &str) {
        let res = self.grant(assertion).await;
        res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
        assert_eq!(res.json(), self.wrong_secret);
    }
}

fn assert_token(res: &Resp) {
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res.json()["access_token"].is_string());
}

#[tokio::test]
async fn a_github_actions_token_matching_repository_and_ref_gets_the_accounts_token() {
    let f = Fixture::new().await;
    let res = f.grant(&f.good()).await;
    assert_token(&res);
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    let (_, claims) = crate::helpers::verify_jwt(&token, &f.app.jwks().await, &f.app.issuer);
    assert_eq!(claims["sub"], f.account_id.as_str());
    assert_eq!(claims["scope"], "tokens:introspect");
    // Platform tokens are reused by design: no jti uniqueness.
    let again = f.good();
    assert_token(&f.grant(&again).await);
    assert_token(&f.grant(&again).await);
}

#[tokio::test]
async fn a_kubernetes_token_matching_its_subject_gets_a_token() {
    let f = Fixture::new().await;
    let res = call(
        &f.app,
        Method::POST,
        &format!(
            "/api/v1/service-accounts/{}/federated-credentials",
            f.account_id
        ),
        Some(&f.admin.token),
        Some(json!({"trusted_issuer": f.issuer_id,
                    "subject": "system:serviceaccount:ci:deployer",
                    "conditions": [{"claim": "kubernetes.io.namespace", "equals": "ci"}]})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let k8s = f
        .issuer
        .sign(&f.issuer.kubernetes(&f.app.issuer, "ci", "deployer"));
    assert_token(&f.grant(&k8s).await);
    let other = f
        .issuer
        .sign(&f.issuer.kubernetes(&f.app.issuer, "ci", "someone"));
    f.assert_refused(&other).await;
}

/// A test that one token, made from a [`Fixture`], is refused like a wrong secret.
macro_rules! refused {
    ($(#[$doc:meta])* $name:ident, |$f:ident| $assertion:expr) => {
        $(#[$doc])*
        #[tokio::test]
        async fn $name() {
            let $f = Fixture::new().await;
            // The issuer's keys are cached by a good grant first, so each refusal is the
            // rule's, not a missing key's.
            assert_token(&$f.grant(&$f.good()).await);
            let assertion: String = $assertion;
            $f.assert_refused(&assertion).await;
        }
    };
}

refused!(a_wrong_repository_is_refused, |f| f.issuer.sign(
    &f.issuer
        .github(&f.app.issuer, "acme/other", "refs/heads/release/1")
));
refused!(a_wrong_ref_is_refused, |f| f.issuer.sign(&f.issuer.github(
    &f.app.issuer,
    "acme/app",
    "refs/heads/main"
)));
refused!(
    /// A credential with an exact subject refuses another subject.
    a_wrong_sub_is_refused,
    |f| {
        let app = &f.app;
        let res = call(
            app,
            Method::POST,
            &format!(
                "/api/v1/service-accounts/{}/federated-credentials",
                f.account_id
            ),
            Some(&f.admin.token),
            Some(json!({"trusted_issuer": f.issuer_id, "subject": "repo:acme/app:environment:prod"})),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED);
        // Remove the condition-only credential, so the subject is what decides.
        let list = call(
            app,
            Method::GET,
            &format!(
                "/api/v1/service-accounts/{}/federated-credentials",
                f.account_id
            ),
            Some(&f.admin.token),
            None,
        )
        .await
        .json();
        let first = list["items"][0]["id"].as_str().unwrap().to_owned();
        f.app
            .state
            .admin
            .delete_federated_credential(&Actor::system(), &f.account_id, &first)
            .await
            .unwrap();
        let mut c = f
            .issuer
            .github(&f.app.issuer, "acme/app", "refs/heads/release/1");
        c["sub"] = "repo:acme/app:environment:staging".into();
        f.issuer.sign(&c)
    }
);
refused!(a_wrong_aud_is_refused, |f| f.issuer.sign(&f.issuer.github(
    "https://elsewhere.example",
    "acme/app",
    "refs/heads/release/1"
)));
refused!(an_expired_token_is_refused, |f| {
    let mut c = f
        .issuer
        .github(&f.app.issuer, "acme/app", "refs/heads/release/1");
    c["exp"] = json!(unix_secs() - 60);
    f.issuer.sign(&c)
});
refused!(a_token_without_exp_is_refused, |f| {
    let mut c = f
        .issuer
        .github(&f.app.issuer, "acme/app", "refs/heads/release/1");
    c.as_object_mut().unwrap().remove("exp");
    f.issuer.sign(&c)
});
refused!(a_token_not_yet_valid_is_refused, |f| {
    let mut c = f
        .issuer
        .github(&f.app.issuer, "acme/app", "refs/heads/release/1");
    c["nbf"] = json!(unix_secs() + 600);
    f.issuer.sign(&c)
});
refused!(
    /// Signed with the trusted issuer's key but naming an issuer keygate does not trust.
    a_wrong_issuer_is_refused,
    |f| {
        let mut c = f
            .issuer
            .github(&f.app.issuer, "acme/app", "refs/heads/release/1");
        c["iss"] = "https://token.actions.example".into();
        f.issuer.sign(&c)
    }
);
refused!(
    /// A key the issuer never published, under a kid of its own.
    an_unknown_kid_is_refused,
    |f| {
        let stranger = new_key();
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(stranger.kid.clone());
        jsonwebtoken::encode(
            &h,
            &f.issuer
                .github(&f.app.issuer, "acme/app", "refs/heads/release/1"),
            &stranger.key,
        )
        .unwrap()
    }
);
refused!(
    /// Signed by another key under the issuer's real kid.
    a_token_signed_by_another_key_is_refused,
    |f| {
        let stranger = new_key();
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(f.issuer.key.lock().unwrap().kid.clone());
        jsonwebtoken::encode(
            &h,
            &f.issuer
                .github(&f.app.issuer, "acme/app", "refs/heads/release/1"),
            &stranger.key,
        )
        .unwrap()
    }
);
refused!(an_unsigned_token_with_alg_none_is_refused, |f| format!(
    "{}.{}.",
    URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
    URL_SAFE_NO_PAD.encode(
        f.issuer
            .github(&f.app.issuer, "acme/app", "refs/heads/release/1")
            .to_string()
    )
));
refused!(
    /// HMAC keyed with the issuer's public JWK text: symmetric algorithms are never used.
    an_hmac_token_is_refused,
    |f| {
        let k = f.issuer.key.lock().unwrap().clone();
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(k.kid.clone());
        jsonwebtoken::encode(
            &h,
            &f.issuer
                .github(&f.app.issuer, "acme/app", "refs/heads/release/1"),
            &EncodingKey::from_secret(k.jwk.to_string().as_bytes()),
        )
        .unwrap()
    }
);

#[tokio::test]
async fn a_token_for_an_account_without_a_credential_for_that_issuer_is_refused() {
    let f = Fixture::new().await;
    let other = f.app.account("bystander").create().await;
    let res = f
        .app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", other.client_id.as_str()),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", f.good().as_str()),
        ])
        .send()
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    // Without client_id keygate cannot tell which account is meant.
    let res = f
        .app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", f.good().as_str()),
        ])
        .send()
        .await;
    assert_eq!(res.json(), f.wrong_secret);
}

#[tokio::test]
async fn a_rotated_issuer_key_works_after_one_refetch_and_unknown_kids_fetch_at_most_every_ten_seconds()
 {
    let f = Fixture::new().await;
    assert_token(&f.grant(&f.good()).await);
    assert_eq!(f.issuer.fetches(), 1, "fetched on first need");
    // A known kid never fetches.
    for _ in 0..3 {
        assert_token(&f.grant(&f.good()).await);
    }
    assert_eq!(f.issuer.fetches(), 1);
    f.issuer.rotate();
    // Within ten seconds of the last fetch, the new kid is refused without a fetch.
    f.assert_refused(&f.good()).await;
    assert_eq!(f.issuer.fetches(), 1);
    tokio::time::sleep(Duration::from_millis(
        keygate::oauth::federation::REFETCH_AFTER_MS as u64 + 200,
    ))
    .await;
    assert_token(&f.grant(&f.good()).await);
    assert_eq!(f.issuer.fetches(), 2, "one refetch");
    assert_token(&f.grant(&f.good()).await);
    assert_eq!(f.issuer.fetches(), 2);
}

#[tokio::test]
async fn an_issuer_that_goes_down_keeps_its_cached_keys() {
    let f = Fixture::new().await;
    assert_token(&f.grant(&f.good()).await);
    f.issuer.state.down.store(true, Ordering::Release);
    for _ in 0..3 {
        assert_token(&f.grant(&f.good()).await);
    }
}

#[tokio::test]
async fn a_disabled_account_or_a_deleted_credential_is_refused_at_once_also_on_a_second_instance() {
    let f = Fixture::new().await;
    let second = f.app.another_instance().await;
    assert_token(&f.grant(&f.good()).await);
    assert_token(&f.grant_on(&second, &f.good()).await);
    f.app
        .state
        .admin
        .set_enabled(&Actor::system(), &f.account_id, false)
        .await
        .unwrap();
    f.assert_refused(&f.good()).await;
    assert!(
        crate::helpers::eventually(Duration::from_secs(3), async || {
            f.grant_on(&second, &f.good()).await.status == StatusCode::UNAUTHORIZED
        })
        .await
    );
    f.app
        .state
        .admin
        .set_enabled(&Actor::system(), &f.account_id, true)
        .await
        .unwrap();
    assert!(
        crate::helpers::eventually(Duration::from_secs(3), async || {
            f.grant_on(&second, &f.good()).await.status == StatusCode::OK
        })
        .await
    );
    assert_token(&f.grant(&f.good()).await);
    // Delete the credential: refused at once here, and on the second instance.
    let path = format!(
        "/api/v1/service-accounts/{}/federated-credentials",
        f.account_id
    );
    let list = call(&f.app, Method::GET, &path, Some(&f.admin.token), None)
        .await
        .json();
    let fid = list["items"][0]["id"].as_str().unwrap().to_owned();
    let res = call(
        &f.app,
        Method::DELETE,
        &format!("{path}/{fid}"),
        Some(&f.admin.token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    f.assert_refused(&f.good()).await;
    assert!(
        crate::helpers::eventually(Duration::from_secs(3), async || {
            f.grant_on(&second, &f.good()).await.status == StatusCode::UNAUTHORIZED
        })
        .await
    );
}

#[tokio::test]
async fn trusted_issuers_are_managed_through_the_api_with_roles_write() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let manager = caller(&app, "manager", &[crate::api_accounts::MANAGER]).await;
    let body = json!({"name": "GitHub", "issuer": "https://token.actions.githubusercontent.com"});
    // Reading needs service-accounts:read; changing needs roles:write.
    let res = call(
        &app,
        Method::POST,
        "/api/v1/trusted-issuers",
        Some(&manager.token),
        Some(body.clone()),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = call(
        &app,
        Method::POST,
        "/api/v1/trusted-issuers",
        Some(&admin.token),
        Some(body.clone()),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let created = res.json();
    assert_eq!(
        created["issuer"],
        "https://token.actions.githubusercontent.com"
    );
    assert_eq!(created["jwks_uri"], Value::Null);
    assert_eq!(created["audience"], Value::Null);
    let id = created["id"].as_str().unwrap();
    let list = call(
        &app,
        Method::GET,
        "/api/v1/trusted-issuers",
        Some(&manager.token),
        None,
    )
    .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json()["items"][0]["id"], id);
    // The same issuer twice: 409.
    let res = call(
        &app,
        Method::POST,
        "/api/v1/trusted-issuers",
        Some(&admin.token),
        Some(json!({"name": "Again", "issuer": "https://token.actions.githubusercontent.com"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    // URLs that are not http(s): 422 naming the field.
    for (field, bad) in [
        (
            "issuer",
            json!({"name": "x", "issuer": "ftp://example.org"}),
        ),
        (
            "jwks_uri",
            json!({"name": "y", "issuer": "https://y.example", "jwks_uri": "file:///etc/passwd"}),
        ),
    ] {
        let res = call(
            &app,
            Method::POST,
            "/api/v1/trusted-issuers",
            Some(&admin.token),
            Some(bad),
        )
        .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(res.text().contains(field), "{}", res.text());
    }
    // PATCH and GET one.
    let res = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/trusted-issuers/{id}"),
        Some(&admin.token),
        Some(json!({"audience": "https://keygate.example/api", "jwks_uri": "http://127.0.0.1:9/jwks"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let got = call(
        &app,
        Method::GET,
        &format!("/api/v1/trusted-issuers/{id}"),
        Some(&manager.token),
        None,
    )
    .await
    .json();
    assert_eq!(got["audience"], "https://keygate.example/api");
    assert_eq!(got["jwks_uri"], "http://127.0.0.1:9/jwks");
    let res = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/trusted-issuers/{id}"),
        Some(&admin.token),
        Some(json!({"jwks_uri": null})),
    )
    .await;
    assert_eq!(res.json()["jwks_uri"], Value::Null);
    // Credentials: at least a subject or conditions; service-accounts:write.
    let account = app.account("ci").create().await;
    let path = format!(
        "/api/v1/service-accounts/{}/federated-credentials",
        account.id
    );
    let res = call(
        &app,
        Method::POST,
        &path,
        Some(&admin.token),
        Some(json!({"trusted_issuer": id})),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = call(
        &app,
        Method::POST,
        &path,
        Some(&admin.token),
        Some(json!({"trusted_issuer": "no-such", "subject": "x"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("trusted_issuer"));
    let res = call(
        &app,
        Method::POST,
        &path,
        Some(&manager.token),
        Some(json!({"trusted_issuer": id, "subject": "repo:acme/app:ref:refs/heads/main"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.json()["trusted_issuer"], id);
    // Deleting the issuer takes its credentials with it; audited.
    let res = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/trusted-issuers/{id}"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let list = call(&app, Method::GET, &path, Some(&admin.token), None)
        .await
        .json();
    assert_eq!(list["items"], json!([]));
    let audit = call(
        &app,
        Method::GET,
        &format!("/api/v1/audit-events?target={id}"),
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
    assert!(actions.contains(&"trusted_issuer.created"), "{actions:?}");
    assert!(actions.contains(&"trusted_issuer.updated"), "{actions:?}");
    assert!(actions.contains(&"trusted_issuer.deleted"), "{actions:?}");
}

#[tokio::test]
async fn a_new_trusted_issuer_is_trusted_at_once_on_a_second_instance() {
    let app = TestApp::spawn().await;
    let second = app.another_instance().await;
    let f = Fixture::on(app).await;
    assert!(
        crate::helpers::eventually(Duration::from_secs(3), async || {
            f.grant_on(&second, &f.good()).await.status == StatusCode::OK
        })
        .await
    );
}

#[tokio::test]
async fn the_console_manages_trusted_issuers_and_an_accounts_federated_credentials_with_presets() {
    use crate::console::{csrf_of, signed_in_admin};
    let app = TestApp::spawn().await;
    let account = app.account("deployer").create().await;
    let mut b = signed_in_admin(&app).await;
    let page = b.get("/settings/federation").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("No trusted issuers yet"), "{html}");
    assert!(html.contains("href=\"/settings/federation\""));
    let csrf = csrf_of(&html);
    // A URL that is not http(s) is refused inline, with what was typed kept.
    let res = b
        .post(
            "/settings/federation",
            &[
                ("csrf", &csrf),
                ("name", "GitHub Actions"),
                ("issuer", "ftp://token.actions.githubusercontent.com"),
                ("jwks_uri", ""),
                ("audience", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("issuer must be an http or https URL"),
        "{html}"
    );
    assert!(html.contains("value=\"GitHub Actions\""));
    let res = b
        .post(
            "/settings/federation",
            &[
                ("csrf", &csrf),
                ("name", "GitHub Actions"),
                ("issuer", "https://token.actions.githubusercontent.com"),
                ("jwks_uri", ""),
                ("audience", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let html = b.get("/settings/federation").await.text();
    assert!(html.contains("https://token.actions.githubusercontent.com"));
    // The account page leads to its federated credentials; the GitHub preset fills the
    // form, issuer included.
    let account_page = b
        .get(&format!("/settings/service-accounts/{}", account.id))
        .await
        .text();
    let creds_url = format!(
        "/settings/service-accounts/{}/federated-credentials",
        account.id
    );
    assert!(account_page.contains(&format!("href=\"{creds_url}\"")));
    let html = b.get(&format!("{creds_url}?preset=github")).await.text();
    for p in [
        "GitHub Actions",
        "GitLab CI",
        "Kubernetes",
        "SPIFFE JWT-SVID",
    ] {
        assert!(html.contains(p), "{p}");
    }
    assert!(html.contains("value=\"repository\"") && html.contains("value=\"acme/app\""));
    assert!(html.contains("value=\"refs/heads/release/*\""));
    assert!(html.contains("selected>GitHub Actions"), "{html}");
    let k8s = b
        .get(&format!("{creds_url}?preset=kubernetes"))
        .await
        .text();
    assert!(k8s.contains("value=\"system:serviceaccount:ci:deployer\""));
    let issuer_id = app
        .state
        .admin
        .list_trusted_issuers(&Actor::system())
        .await
        .unwrap()[0]
        .id
        .clone();
    // Neither subject nor claims: refused inline.
    let res = b
        .post(
            &creds_url,
            &[
                ("csrf", &csrf),
                ("trusted_issuer", &issuer_id),
                ("subject", ""),
                ("claim", ""),
                ("rule", "equals"),
                ("value", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("give a subject, conditions, or both"));
    let res = b
        .post(
            &creds_url,
            &[
                ("csrf", &csrf),
                ("trusted_issuer", &issuer_id),
                ("subject", ""),
                ("claim", "repository"),
                ("rule", "equals"),
                ("value", "acme/app"),
                ("claim", "ref"),
                ("rule", "matches"),
                ("value", "refs/heads/release/*"),
                ("claim", ""),
                ("rule", "equals"),
                ("value", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let list = app
        .state
        .admin
        .list_federated_credentials(&Actor::system(), &account.id)
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].conditions.len(), 2);
    let html = b.get(&creds_url).await.text();
    assert!(html.contains("ref matches refs/heads/release/*"), "{html}");
    // Delete asks first; without the CSRF token nothing happens.
    let delete = format!("{creds_url}/{}/delete", list[0].id);
    assert!(b.get(&delete).await.text().contains("stop standing in"));
    assert_eq!(
        b.post(&delete, &[("csrf", "wrong")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.post(&delete, &[("csrf", &csrf)]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        app.state
            .admin
            .list_federated_credentials(&Actor::system(), &account.id)
            .await
            .unwrap()
            .is_empty()
    );
    // Deleting the issuer asks first too.
    let delete = format!("/settings/federation/{issuer_id}/delete");
    assert!(b.get(&delete).await.text().contains("stop working"));
    assert_eq!(
        b.post(&delete, &[("csrf", &csrf)]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        b.get("/settings/federation")
            .await
            .text()
            .contains("No trusted issuers yet")
    );
}

#[tokio::test]
async fn failed_federated_assertions_count_in_the_brute_force_backoff() {
    let f = Fixture::new().await;
    let bad = f.issuer.sign(
        &f.issuer
            .github(&f.app.issuer, "acme/other", "refs/heads/main"),
    );
    let from = SocketAddr::from(([10, 9, 8, 7], 40000));
    let send = |assertion: String| {
        let app = &f.app;
        let client_id = f.client_id.clone();
        async move {
            app.post("/oauth/token")
                .sent_from(from)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
        }
    };
    for _ in 0..10 {
        send(bad.clone())
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    // The source now backs off for this client, even with a good token.
    let res = send(f.good()).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
    // Another source is not slowed.
    assert_token(&f.grant(&f.good()).await);
}
