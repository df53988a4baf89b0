//! The harness: one keygate instance per test over its own database, and helpers that let the
//! tests read like sentences.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keygate::admin::access::ApiInput;
use keygate::admin::accounts::CreateAccount;
use keygate::app::{App, AppState};
use keygate::config::Config;
use keygate::domain::audit::Actor;
use keygate::domain::secret::random_bytes;
use keygate::oauth::keys::{MasterKey, SigningKey, load_or_create};
use keygate::oauth::token::TokenSigner;
use serde_json::Value;
use sqlx::Connection as _;
use tower::ServiceExt as _;

/// Issuer of in-process test apps (served apps use their real address).
pub const ISSUER: &str = "https://keygate.test";

/// The identifier (`aud`) of the custom API that [`TestApp::api_defining`] makes.
pub const TEST_API_IDENTIFIER: &str = "https://api.test.example";

/// The name of that API.
pub const TEST_API_NAME: &str = "Test API";

/// Seconds since the Unix epoch.
pub fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Logs go nowhere unless `TEST_LOG` is set (to `1` or to an `EnvFilter` directive).
fn init_logging() {
    static LOG: Once = Once::new();
    LOG.call_once(|| {
        if let Ok(v) = std::env::var("TEST_LOG") {
            let filter = if v.is_empty() || v == "1" {
                "keygate=debug,info".to_owned()
            } else {
                v
            };
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

/// The PostgreSQL URL tests run against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Databases

/// A database of one test, removed when the last instance using it is gone.
pub struct TestDb {
    /// The URL keygate is given.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Schema { admin_url: String, schema: String },
}

impl TestDb {
    /// A fresh, empty database for one test (SQLite, or PostgreSQL when `TEST_DATABASE_URL`
    /// is set), for a test that prepares it before keygate starts ([`Builder::over`]).
    pub async fn fresh() -> Arc<Self> {
        Arc::new(Self::create().await)
    }

    async fn create() -> Self {
        match postgres_url() {
            Some(url) => Self::postgres(url).await,
            None => Self::sqlite(),
        }
    }

    fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "keygate-test-{}-{}",
            std::process::id(),
            hex(&random_bytes::<8>())
        ));
        std::fs::create_dir_all(&dir).expect("create the test directory");
        let url = format!("sqlite://{}", dir.join("keygate.db").display());
        Self {
            url,
            cleanup: Cleanup::Dir(dir),
        }
    }

    async fn postgres(admin_url: String) -> Self {
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        drop_stale_schemas(&mut conn).await;
        let schema = format!("kgtest_{}_{}", unix_secs(), hex(&random_bytes::<6>()));
        sqlx::query(&format!("create schema {schema}"))
            .execute(&mut conn)
            .await
            .expect("create the test schema");
        let _ = conn.close().await;
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options=-csearch_path%3D{schema}");
        Self {
            url,
            cleanup: Cleanup::Schema { admin_url, schema },
        }
    }

    /// Whether this is a PostgreSQL schema.
    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::Schema { .. })
    }
}

/// Once per process, drops the schemas of test runs that started over an hour ago.
async fn drop_stale_schemas(conn: &mut sqlx::PgConnection) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(names) = sqlx::query_scalar::<_, String>(
        r"select nspname::text from pg_namespace where nspname like 'kgtest\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    else {
        return;
    };
    let cutoff = unix_secs() - 3600;
    for name in names {
        let started = name
            .strip_prefix("kgtest_")
            .and_then(|r| r.split('_').next())
            .and_then(|s| s.parse::<i64>().ok());
        if started.is_some_and(|t| t < cutoff) {
            let _ = sqlx::query(&format!("drop schema if exists \"{name}\" cascade"))
                .execute(&mut *conn)
                .await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { admin_url, schema } => {
                // Best effort, on a thread of its own: this may run inside a runtime.
                let (url, schema) = (admin_url.clone(), schema.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async move {
                        let mut conn = sqlx::PgConnection::connect(&url).await?;
                        sqlx::query("set lock_timeout = '3s'")
                            .execute(&mut conn)
                            .await?;
                        sqlx::query(&format!("drop schema if exists {schema} cascade"))
                            .execute(&mut conn)
                            .await?;
                        conn.close().await
                    })
                    .map_err(std::io::Error::other)
                })
                .join();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Apps

/// One keygate instance: its state, its router and, if served, its address.
pub struct TestApp {
    /// The application.
    pub state: AppState,
    /// Its router, for in-process requests.
    pub router: Router,
    /// The database (shared with other instances made by [`TestApp::another_instance`]).
    pub db: Arc<TestDb>,
    /// The master key (base64), as given to CLI subprocesses.
    pub master_key: String,
    /// The issuer URL.
    pub issuer: String,
    /// Where the real server listens, when started with [`Builder::serving`].
    pub addr: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How to start a [`TestApp`].
pub struct Builder {
    follower: bool,
    serve: bool,
    shared: Option<(Arc<TestDb>, String, String)>,
    url: Option<String>,
    issuer: Option<String>,
}

impl Builder {
    /// Without the change-feed follower (which also flushes last-used times every 2 s).
    pub fn without_follower(mut self) -> Self {
        self.follower = false;
        self
    }

    /// With this issuer URL (say, one with a path).
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    /// Connects to the database through `url` instead of its own (say, through a proxy).
    pub fn database_url(mut self, url: String) -> Self {
        self.url = Some(url);
        self
    }

    /// With a real HTTP server on a free port of 127.0.0.1; the issuer is its URL.
    pub fn serving(mut self) -> Self {
        self.serve = true;
        self
    }

    /// Over `db`, a fresh database made by [`TestDb::fresh`] (and perhaps prepared by the
    /// test), with a new master key and the test issuer.
    pub fn over(mut self, db: Arc<TestDb>) -> Self {
        self.shared = Some((db, STANDARD.encode(random_bytes::<32>()), ISSUER.to_owned()));
        self
    }

    /// Builds the app.
    pub async fn start(self) -> TestApp {
        init_logging();
        let (db, master_key, issuer) = match self.shared {
            Some(shared) => shared,
            None => (
                Arc::new(TestDb::create().await),
                STANDARD.encode(random_bytes::<32>()),
                ISSUER.to_owned(),
            ),
        };
        let listener = if self.serve {
            Some(
                tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind a free port"),
            )
        } else {
            None
        };
        let addr = listener.as_ref().map(|l| l.local_addr().unwrap());
        let issuer = addr.map_or(issuer, |a| format!("http://{a}"));
        let issuer = self.issuer.unwrap_or(issuer);
        let mut config = Config::for_database(self.url.unwrap_or_else(|| db.url.clone()));
        config.master_key = Some(master_key.parse().unwrap());
        config.issuer = Some(issuer.clone());
        let state = App::build(config).await.expect("keygate starts");
        let router = keygate::web::router(state.clone());
        let mut tasks = Vec::new();
        if self.follower {
            tasks.push(tokio::spawn(state.oauth.clone().run_background()));
        }
        if let Some(listener) = listener {
            let service = router
                .clone()
                .into_make_service_with_connect_info::<SocketAddr>();
            tasks.push(tokio::spawn(async move {
                axum::serve(listener, service).await.expect("server runs");
            }));
        }
        TestApp {
            state,
            router,
            db,
            master_key,
            issuer,
            addr,
            tasks,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl TestApp {
    /// A fresh app over a fresh database, with its change-feed follower running.
    pub async fn spawn() -> Self {
        Self::builder().start().await
    }

    /// A fresh app, configured.
    pub fn builder() -> Builder {
        Builder {
            follower: true,
            serve: false,
            shared: None,
            url: None,
            issuer: None,
        }
    }

    /// A second instance over the same database with the same master key and issuer, with
    /// its own cache and change-feed follower (also: a restart of this one).
    pub async fn another_instance(&self) -> Self {
        self.instance_builder().start().await
    }

    /// A builder for another instance over the same database.
    pub fn instance_builder(&self) -> Builder {
        Builder {
            follower: true,
            serve: false,
            shared: Some((
                self.db.clone(),
                self.master_key.clone(),
                self.issuer.clone(),
            )),
            url: None,
            issuer: None,
        }
    }

    /// The base URL of the real server.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr.expect("started with .serving()"))
    }

    // -- requests ------------------------------------------------------------------------------

    /// A request to `path`.
    pub fn request(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            app: self,
            builder: Request::builder().method(method).uri(path),
            body: Body::empty(),
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Req<'_> {
        self.request(Method::GET, path)
    }

    /// `POST path`.
    pub fn post(&self, path: &str) -> Req<'_> {
        self.request(Method::POST, path)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Req<'_> {
        self.request(Method::DELETE, path)
    }

    /// Sends a request through the router in-process.
    pub async fn send(&self, req: Request<Body>) -> Resp {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("read the response body");
        Resp {
            status,
            headers,
            body,
        }
    }

    // -- accounts ------------------------------------------------------------------------------

    /// Starts describing a new service account.
    pub fn account(&self, name: &str) -> AccountBuilder<'_> {
        AccountBuilder {
            app: self,
            name: name.to_owned(),
            roles: Vec::new(),
            lifetime: None,
        }
    }

    /// Disables the account.
    pub async fn disable(&self, creds: &Creds) {
        self.state
            .admin
            .set_enabled(&Actor::system(), &creds.id, false)
            .await
            .expect("disable");
    }

    /// Enables the account.
    pub async fn enable(&self, creds: &Creds) {
        self.state
            .admin
            .set_enabled(&Actor::system(), &creds.id, true)
            .await
            .expect("enable");
    }

    /// Deletes the account.
    pub async fn delete_account(&self, creds: &Creds) {
        self.state
            .admin
            .delete_account(&Actor::system(), &creds.id)
            .await
            .expect("delete");
    }

    /// New credentials; the old ones live on for `grace_secs`.
    pub async fn regenerate(&self, creds: &Creds, grace_secs: i64) -> Creds {
        let c = self
            .state
            .admin
            .regenerate_credentials(&Actor::system(), &creds.id, grace_secs)
            .await
            .expect("regenerate");
        Creds {
            client_secret: c.secret().to_owned(),
            id: c.id,
            name: c.name,
            client_id: c.client_id,
        }
    }

    /// The stored last-used time of the account.
    pub async fn last_used_at(&self, creds: &Creds) -> Option<i64> {
        self.state
            .admin
            .get_account(&Actor::system(), &creds.id)
            .await
            .expect("get account")
            .account
            .last_used_at
    }

    /// How many service accounts exist.
    pub async fn account_count(&self) -> usize {
        self.state
            .admin
            .list_accounts(
                &Actor::system(),
                &keygate::store::accounts::ListFilter {
                    limit: 1000,
                    ..Default::default()
                },
            )
            .await
            .expect("list")
            .len()
    }

    // -- APIs ----------------------------------------------------------------------------------

    /// The id of an API defining every permission of `permissions` (blank entries and ones
    /// that are not valid permissions ignored), for making roles: keygate's own
    /// (`builtin-keygate`) when all are keygate's, else the one custom test API
    /// ([`TEST_API_IDENTIFIER`]), created or extended with what it lacks through the admin
    /// layer.
    pub async fn api_defining(&self, permissions: &[&str]) -> String {
        let wanted: Vec<String> = permissions
            .iter()
            .filter_map(|p| keygate::domain::permission::parse(p).ok())
            .collect();
        let is_keygate = |p: &String| keygate::domain::permission::ALL.contains(&p.as_str());
        if !wanted.is_empty() && wanted.iter().all(is_keygate) {
            return keygate::domain::access::KEYGATE_API_ID.to_owned();
        }
        assert!(
            !wanted.iter().any(is_keygate),
            "a role belongs to one API: {wanted:?} mixes keygate's permissions with others"
        );
        let admin = &self.state.admin;
        let system = Actor::system();
        let existing = admin
            .list_apis(&system)
            .await
            .expect("list APIs")
            .into_iter()
            .find(|a| a.identifier == TEST_API_IDENTIFIER);
        let as_permission = |name: &str| keygate::domain::access::ApiPermission {
            name: name.to_owned(),
            description: String::new(),
        };
        match existing {
            None => {
                admin
                    .create_api(
                        &system,
                        ApiInput {
                            name: Some(TEST_API_NAME.to_owned()),
                            identifier: Some(TEST_API_IDENTIFIER.to_owned()),
                            description: None,
                            permissions: Some(wanted.iter().map(|p| as_permission(p)).collect()),
                        },
                    )
                    .await
                    .expect("create the test API")
                    .id
            }
            Some(api) => {
                let missing: Vec<&String> = wanted.iter().filter(|p| !api.defines(p)).collect();
                if !missing.is_empty() {
                    let mut all = api.permissions.clone();
                    all.extend(missing.into_iter().map(|p| as_permission(p)));
                    admin
                        .update_api(
                            &system,
                            &api.id,
                            ApiInput {
                                permissions: Some(all),
                                ..ApiInput::default()
                            },
                        )
                        .await
                        .expect("extend the test API");
                }
                api.id
            }
        }
    }

    // -- protocol ------------------------------------------------------------------------------

    /// `POST /oauth/token` with HTTP Basic and `grant_type=client_credentials`.
    pub async fn token_response(&self, creds: &Creds) -> Resp {
        self.post("/oauth/token")
            .basic(creds)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
    }

    /// An access token for `creds` (which must work).
    pub async fn token(&self, creds: &Creds) -> String {
        let res = self.token_response(creds).await;
        assert_eq!(res.status, StatusCode::OK, "token request: {}", res.text());
        res.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// `POST /oauth/token` with HTTP Basic, `grant_type=client_credentials` and
    /// `resource=resource` (RFC 8707).
    pub async fn token_response_for(&self, creds: &Creds, resource: &str) -> Resp {
        self.post("/oauth/token")
            .basic(creds)
            .form(&[("grant_type", "client_credentials"), ("resource", resource)])
            .send()
            .await
    }

    /// An access token of `creds` for the API `resource` (which must work).
    pub async fn token_for(&self, creds: &Creds, resource: &str) -> String {
        let res = self.token_response_for(creds, resource).await;
        assert_eq!(res.status, StatusCode::OK, "token request: {}", res.text());
        res.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// `GET /api/v1/whoami` with `token`.
    pub async fn whoami(&self, token: &str) -> Resp {
        self.get("/api/v1/whoami").bearer(token).send().await
    }

    /// `DELETE /api/v1/session` with `token`.
    pub async fn end_session(&self, token: &str) -> Resp {
        self.delete("/api/v1/session").bearer(token).send().await
    }

    /// `POST /oauth/revoke` of `token` by `creds`.
    pub async fn revoke(&self, creds: &Creds, token: &str) -> Resp {
        self.post("/oauth/revoke")
            .basic(creds)
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
    }

    /// `POST /oauth/introspect` of `token` by `caller` (HTTP Basic); must answer 200.
    pub async fn introspect(&self, caller: &Creds, token: &str) -> Value {
        let res = self
            .post("/oauth/introspect")
            .basic(caller)
            .form(&[("token", token)])
            .send()
            .await;
        assert_eq!(res.status, StatusCode::OK, "introspect: {}", res.text());
        res.json()
    }

    /// Whether `token` is active according to introspection by `caller`.
    pub async fn is_active(&self, caller: &Creds, token: &str) -> bool {
        self.introspect(caller, token).await["active"] == Value::Bool(true)
    }

    /// The JWKS document.
    pub async fn jwks(&self) -> Value {
        let res = self.get("/.well-known/jwks.json").send().await;
        assert_eq!(res.status, StatusCode::OK);
        res.json()
    }

    /// Verifies `token` with the keys published at `/.well-known/jwks.json`, as keygate's
    /// own API (audience `<issuer>/api`).
    pub async fn verify_with_jwks(&self, token: &str) -> (jsonwebtoken::Header, Value) {
        verify_jwt(token, &self.jwks().await, &self.issuer)
    }

    /// Verifies `token` with the keys published at `/.well-known/jwks.json`, as the API with
    /// the identifier `audience` does.
    pub async fn verify_with_jwks_for(
        &self,
        token: &str,
        audience: &str,
    ) -> (jsonwebtoken::Header, Value) {
        verify_jwt_for(token, &self.jwks().await, &self.issuer, audience)
    }

    // -- forged tokens -------------------------------------------------------------------------

    /// The signer holding this instance's real signing key, loaded from the database.
    pub async fn real_signer(&self) -> TokenSigner {
        let master = MasterKey::parse(&self.master_key).expect("master key");
        let keys = load_or_create(&self.state.store, &master)
            .await
            .expect("load keys");
        TokenSigner::new(keys.signing)
    }

    /// A token for `creds` signed with the real key, with the given times.
    pub async fn mint(&self, creds: &Creds, iat: i64, exp: i64) -> String {
        self.real_signer().await.sign(
            &self.issuer,
            &creds.id,
            &creds.client_id,
            &keygate_audience(&self.issuer),
            iat,
            exp,
            // A fresh account's tokens are of generation 0 (the jti's prefix).
            &format!("0.forged-{}", hex(&random_bytes::<8>())),
            "tokens:introspect",
            &[],
        )
    }

    /// A currently valid-looking token for `creds` signed by a key keygate does not know,
    /// carrying `kid` in its header.
    pub fn mint_with_foreign_key(&self, creds: &Creds, kid: &str) -> String {
        let now = unix_secs();
        foreign_signer(kid).sign(
            &self.issuer,
            &creds.id,
            &creds.client_id,
            &keygate_audience(&self.issuer),
            now,
            now + 600,
            "foreign-jti",
            "tokens:introspect",
            &[],
        )
    }
}

/// A signer with a fresh P-256 key that no keygate instance knows.
pub fn foreign_signer(kid: &str) -> TokenSigner {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    TokenSigner::new(SigningKey {
        kid: kid.to_owned(),
        key: keygate::oauth::es256::Es256Key::from_pkcs8(pkcs8.as_ref()).unwrap(),
    })
}

/// The identifier (`aud`) of keygate's own API under `issuer`: `<issuer>/api`.
pub fn keygate_audience(issuer: &str) -> String {
    keygate::config::join_url(issuer, "api")
}

/// Verifies a JWT with `jsonwebtoken` against the keys of a JWKS document: ES256, issuer
/// `issuer` and audience keygate's own API (`<issuer>/api`). Returns its header and claims.
pub fn verify_jwt(token: &str, jwks: &Value, issuer: &str) -> (jsonwebtoken::Header, Value) {
    verify_jwt_for(token, jwks, issuer, &keygate_audience(issuer))
}

/// Verifies a JWT as an API with the identifier `audience` does: with `jsonwebtoken`,
/// against the keys of a JWKS document, ES256, issuer `issuer`. Returns its header and
/// claims.
pub fn verify_jwt_for(
    token: &str,
    jwks: &Value,
    issuer: &str,
    audience: &str,
) -> (jsonwebtoken::Header, Value) {
    try_verify_jwt_for(token, jwks, issuer, audience).expect("the JWT verifies")
}

/// As [`verify_jwt_for`], but the error when the JWT does not verify.
pub fn try_verify_jwt_for(
    token: &str,
    jwks: &Value,
    issuer: &str,
    audience: &str,
) -> Result<(jsonwebtoken::Header, Value), jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    let kid = header.kid.clone().expect("the header names its key");
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).expect("a JWK set");
    let jwk = set.find(&kid).expect("the kid is published in the JWKS");
    let key = DecodingKey::from_jwk(jwk).expect("an EC public key");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf", "iat"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)?;
    Ok((header, data.claims))
}

/// Polls `check` every 25 ms until it is true or `limit` has passed; whether it became true.
pub async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts

/// Credentials of a service account, as handed out once.
#[derive(Debug, Clone)]
pub struct Creds {
    /// Account id (`sub`).
    pub id: String,
    /// Account name.
    pub name: String,
    /// Client ID.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
}

impl Creds {
    /// The same client ID with another secret.
    pub fn with_secret(&self, secret: &str) -> Self {
        Self {
            client_secret: secret.to_owned(),
            ..self.clone()
        }
    }
}

/// A service account being described.
pub struct AccountBuilder<'a> {
    app: &'a TestApp,
    name: String,
    roles: Vec<String>,
    lifetime: Option<i64>,
}

impl AccountBuilder<'_> {
    /// Roles by name.
    pub fn roles(mut self, roles: &[&str]) -> Self {
        self.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    /// Token lifetime in seconds.
    pub fn lifetime(mut self, secs: i64) -> Self {
        self.lifetime = Some(secs);
        self
    }

    /// Creates it.
    pub async fn create(self) -> Creds {
        let admin = &self.app.state.admin;
        let role_ids = admin.role_ids_by_names(&self.roles).await.expect("roles");
        let c = admin
            .create_account(
                &Actor::system(),
                CreateAccount {
                    name: self.name,
                    description: String::new(),
                    role_ids,
                    token_lifetime_secs: self.lifetime,
                    ..CreateAccount::default()
                },
            )
            .await
            .expect("create account");
        Creds {
            client_secret: c.secret().to_owned(),
            id: c.id,
            name: c.name,
            client_id: c.client_id,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and responses

/// An in-process request being built.
pub struct Req<'a> {
    app: &'a TestApp,
    builder: axum::http::request::Builder,
    body: Body,
}

impl Req<'_> {
    /// Adds a header (any bytes a header value may hold).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.builder = self.builder.header(
            name,
            HeaderValue::from_bytes(value.as_ref()).expect("a valid header value"),
        );
        self
    }

    /// `Authorization: Basic` with the client's ID and secret.
    pub fn basic(self, creds: &Creds) -> Self {
        self.basic_pair(&creds.client_id, &creds.client_secret)
    }

    /// `Authorization: Basic` with form-encoded `id` and `secret` (RFC 6749 §2.3.1).
    pub fn basic_pair(self, id: &str, secret: &str) -> Self {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let value = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
        );
        self.header("authorization", value)
    }

    /// As if sent from `addr` (what a served app learns from the connection).
    pub fn sent_from(mut self, addr: SocketAddr) -> Self {
        self.builder = self.builder.extension(axum::extract::ConnectInfo(addr));
        self
    }

    /// `Authorization: Bearer token`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.raw_form(body)
    }

    /// A form body given as raw bytes.
    pub fn raw_form(self, body: impl Into<Body>) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// A JSON body, with its `content-length` as a real client sends it.
    pub fn json(self, value: &Value) -> Self {
        let body = value.to_string();
        self.header("content-type", "application/json")
            .header("content-length", body.len().to_string())
            .body(body)
    }

    /// The body, as is (set `content-type` separately).
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends it through the router.
    pub async fn send(self) -> Resp {
        let req = self.builder.body(self.body).expect("a valid request");
        self.app.send(req).await
    }
}

/// A response, read in full.
#[derive(Debug)]
pub struct Resp {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Resp {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header as text.
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The RFC 6749 §5.2 `error` code (or the REST API's `error`).
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    /// Asserts the status and the `error` code of an error response.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "status of {}", self.text());
        assert_eq!(self.error(), code, "error code of {}", self.text());
    }

    /// Whether this is a 401 with `WWW-Authenticate: Bearer … error="invalid_token"`.
    #[track_caller]
    pub fn assert_invalid_token(&self) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{}", self.text());
        let challenge = self
            .header(header::WWW_AUTHENTICATE)
            .expect("a WWW-Authenticate header");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
    }
}
