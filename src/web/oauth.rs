//! OAuth 2.0 endpoints: token (RFC 6749 §4.4), revocation (RFC 7009), introspection
//! (RFC 7662), authorization-server metadata (RFC 8414) and the JWKS.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::extract::Source;
use super::limits::RETRY_AFTER_SECS;
use crate::admin::StoreError;
use crate::app::AppState;
use crate::domain::permission::TOKENS_INTROSPECT;
use crate::oauth::OAuthError;

/// Largest request body read at the OAuth endpoints; a token request is a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// The OAuth routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(issue_token))
        .route("/oauth/revoke", post(revoke_token))
        .route("/oauth/introspect", post(introspect_token))
        .route("/oauth/leaked", post(report_leaked))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
}

/// An RFC 6749 §5.2 error response.
pub struct OAuthErrorResponse {
    error: OAuthError,
    /// Which `WWW-Authenticate` challenge a 401 carries, if any.
    challenge: Challenge,
    status_override: Option<StatusCode>,
}

/// The `WWW-Authenticate` header of a 401 at `/oauth/*`. RFC 6749 §5.2 asks for the Basic
/// challenge when the client tried HTTP Basic; it also tells a client that sent no
/// authentication at all how to. A client that authenticated in the body gets none: clients
/// such as openid-client treat a challenge as an HTTP-authentication failure and would not
/// read the JSON body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Challenge {
    /// No header.
    None,
    /// No client authentication came at all.
    Basic,
    /// The client tried HTTP Basic.
    BasicTried,
    /// A bearer token was refused (RFC 6750 §3).
    Bearer,
}

impl From<OAuthError> for OAuthErrorResponse {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            challenge: Challenge::None,
            status_override: None,
        }
    }
}

fn invalid_request(msg: impl Into<String>) -> OAuthErrorResponse {
    OAuthError::InvalidRequest(msg.into()).into()
}

impl IntoResponse for OAuthErrorResponse {
    fn into_response(self) -> Response {
        let (status, code, description) = match &self.error {
            OAuthError::InvalidRequest(m) => {
                (StatusCode::BAD_REQUEST, "invalid_request", m.clone())
            }
            OAuthError::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                self.error.to_string(),
            ),
            OAuthError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                self.error.to_string(),
            ),
            OAuthError::Throttled { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_client",
                self.error.to_string(),
            ),
            OAuthError::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                self.error.to_string(),
            ),
            OAuthError::InvalidScope => (
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                self.error.to_string(),
            ),
            // RFC 8693 §2.2.2: an invalid or unacceptable subject_token is invalid_request.
            OAuthError::InvalidSubjectToken => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                self.error.to_string(),
            ),
            OAuthError::InvalidTarget => (
                StatusCode::BAD_REQUEST,
                "invalid_target",
                self.error.to_string(),
            ),
            OAuthError::UnauthorizedClient(_) => (
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                self.error.to_string(),
            ),
            OAuthError::InsufficientScope(_) => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                self.error.to_string(),
            ),
            // Not an RFC 6749 §5.2 code for this endpoint, but the one clients know (§4.1.2.1).
            OAuthError::Internal(e @ StoreError::Unavailable(_)) => {
                tracing::warn!(error = %e, "database unavailable at an OAuth endpoint");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the database is unavailable; retry shortly".to_owned(),
                )
            }
            OAuthError::Internal(e) => {
                tracing::error!(error = %e, "internal error at an OAuth endpoint");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the server could not handle the request".to_owned(),
                )
            }
        };
        let status = self.status_override.unwrap_or(status);
        let body = serde_json::json!({ "error": code, "error_description": description });
        let mut res = (status, no_store(), axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if let OAuthError::Throttled { retry_after_secs } = self.error {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        let challenge = match self.challenge {
            _ if status != StatusCode::UNAUTHORIZED => None,
            Challenge::None => None,
            Challenge::Basic => Some(r#"Basic realm="keygate""#),
            Challenge::BasicTried => Some(r#"Basic realm="keygate", charset="UTF-8""#),
            Challenge::Bearer => Some(r#"Bearer realm="keygate", error="invalid_token""#),
        };
        if let Some(c) = challenge {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        res
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// The parameters of an OAuth request, from a form or a JSON body, each at most once. A
/// request has a handful, so a list beats a hash map.
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    }

    /// Adds `k`; false if it was already there.
    fn insert(&mut self, k: String, v: String) -> bool {
        if self.get(&k).is_some() {
            return false;
        }
        self.0.push((k, v));
        true
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Form,
    Json,
}

/// Reads and parses a body of at most [`MAX_BODY`] bytes; anything larger is refused from
/// its `Content-Length` or as soon as the limit is passed, without reading the rest.
async fn read_params(
    headers: &HeaderMap,
    body: Body,
    allow_json: bool,
) -> Result<(Params, BodyKind), OAuthErrorResponse> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .unwrap_or_default();
    let kind = match content_type {
        t if t.eq_ignore_ascii_case("application/x-www-form-urlencoded") => BodyKind::Form,
        t if allow_json && t.eq_ignore_ascii_case("application/json") => BodyKind::Json,
        _ => {
            return Err(invalid_request(if allow_json {
                "Content-Type must be application/x-www-form-urlencoded or application/json"
            } else {
                "Content-Type must be application/x-www-form-urlencoded"
            }));
        }
    };
    let too_large = || OAuthErrorResponse {
        status_override: Some(StatusCode::PAYLOAD_TOO_LARGE),
        ..invalid_request(format!("the request body is larger than {MAX_BODY} bytes"))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| too_large())?;
    let mut params = Params::default();
    match kind {
        BodyKind::Form => {
            for (k, v) in form_urlencoded::parse(&bytes) {
                if !params.insert(k.to_string(), v.into_owned()) {
                    // RFC 8707 §2: a token is for one resource here.
                    if matches!(&*k, "resource" | "audience") {
                        return Err(OAuthError::InvalidTarget.into());
                    }
                    return Err(invalid_request(format!("the parameter {k} is repeated")));
                }
            }
        }
        BodyKind::Json => {
            let value: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|_| invalid_request("the body is not valid JSON"))?;
            let serde_json::Value::Object(map) = value else {
                return Err(invalid_request("the JSON body must be an object"));
            };
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) => {
                        params.insert(k, s);
                    }
                    serde_json::Value::Null => {}
                    serde_json::Value::Array(a)
                        if matches!(k.as_str(), "resource" | "audience") =>
                    {
                        match <[serde_json::Value; 1]>::try_from(a) {
                            Ok([serde_json::Value::String(s)]) => {
                                params.insert(k, s);
                            }
                            _ => return Err(OAuthError::InvalidTarget.into()),
                        }
                    }
                    _ => {
                        return Err(invalid_request(format!(
                            "the parameter {k} must be a string"
                        )));
                    }
                }
            }
        }
    }
    Ok((params, kind))
}

/// Client credentials from HTTP Basic (RFC 6749 §2.3.1: each part form-urlencoded) or from
/// the body, never both.
struct ClientCredentials {
    id: String,
    secret: String,
    basic: bool,
}

fn client_credentials(
    headers: &HeaderMap,
    params: &Params,
) -> Result<Option<ClientCredentials>, OAuthErrorResponse> {
    let mut auth_headers = headers.get_all(header::AUTHORIZATION).iter();
    let auth = auth_headers.next();
    if auth_headers.next().is_some() {
        return Err(invalid_request("the Authorization header is repeated"));
    }
    if let Some(value) = auth {
        let basic_err = || OAuthErrorResponse {
            challenge: Challenge::BasicTried,
            ..invalid_request("malformed HTTP Basic authorization header")
        };
        let value = value.to_str().map_err(|_| basic_err())?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(invalid_request(
                "unsupported authorization scheme: authenticate with HTTP Basic or in the body",
            ));
        }
        let decoded = STANDARD.decode(rest.trim()).map_err(|_| basic_err())?;
        let decoded = String::from_utf8(decoded).map_err(|_| basic_err())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(basic_err)?;
        let unescape = |s: &str| -> String {
            if !s.contains(['%', '+']) {
                return s.to_owned();
            }
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (id, secret) = (unescape(id), unescape(secret));
        if params.get("client_secret").is_some() {
            return Err(OAuthErrorResponse {
                challenge: Challenge::BasicTried,
                ..invalid_request(
                    "use one client authentication method, not HTTP Basic and client_secret",
                )
            });
        }
        if params.get("client_id").is_some_and(|b| b != id) {
            return Err(OAuthErrorResponse {
                challenge: Challenge::BasicTried,
                ..invalid_request("client_id in the body differs from the HTTP Basic one")
            });
        }
        return Ok(Some(ClientCredentials {
            id,
            secret,
            basic: true,
        }));
    }
    match (params.get("client_id"), params.get("client_secret")) {
        (Some(id), Some(secret)) => Ok(Some(ClientCredentials {
            id: id.to_owned(),
            secret: secret.to_owned(),
            basic: false,
        })),
        _ => Ok(None),
    }
}

/// Authenticates the client of a request from `source`, or answers `invalid_client` (429
/// without checking the secret while that source backs off: `oauth::backoff`).
async fn authenticate(
    app: &AppState,
    creds: Option<ClientCredentials>,
    source: &str,
) -> Result<(std::sync::Arc<crate::domain::account::AuthRecord>, String), OAuthErrorResponse> {
    let Some(creds) = creds else {
        return Err(OAuthErrorResponse {
            challenge: Challenge::Basic,
            ..OAuthError::InvalidClient.into()
        });
    };
    let now = crate::domain::now_ms();
    if let Err(wait) = app.backoff.check(&creds.id, source, now) {
        return Err(OAuthError::Throttled {
            retry_after_secs: wait.as_millis().div_ceil(1000).max(1) as u64,
        }
        .into());
    }
    match app.oauth.authenticate(&creds.id, &creds.secret).await {
        Ok(rec) => {
            app.backoff.success(&creds.id, source);
            Ok((rec, creds.id))
        }
        Err(error) => Err(OAuthErrorResponse {
            error: super::metrics::count_failure(app, error, &creds.id, source, now),
            challenge: if creds.basic {
                Challenge::BasicTried
            } else {
                Challenge::None
            },
            status_override: None,
        }),
    }
}

/// Authenticates the client of a request by its JWT assertion (`private_key_jwt`); a second
/// method in the same request (HTTP Basic, `client_secret`) is an `invalid_request`.
async fn authenticate_assertion(
    app: &AppState,
    headers: &HeaderMap,
    params: &Params,
    assertion: &str,
    source: &str,
) -> Result<(std::sync::Arc<crate::domain::account::AuthRecord>, String), OAuthErrorResponse> {
    if params.get("client_assertion_type") != Some(crate::oauth::assertion::JWT_BEARER) {
        return Err(invalid_request(format!(
            "client_assertion_type must be {}",
            crate::oauth::assertion::JWT_BEARER
        )));
    }
    if headers.contains_key(header::AUTHORIZATION) || params.get("client_secret").is_some() {
        return Err(invalid_request(
            "use one client authentication method: a client assertion, or a client secret",
        ));
    }
    // The brute-force backoff counts assertion failures too, by the client ID the request
    // names (if any) and by source.
    let named = params.get("client_id").unwrap_or_default();
    let now = crate::domain::now_ms();
    if let Err(wait) = app.backoff.check(named, source, now) {
        return Err(OAuthError::Throttled {
            retry_after_secs: wait.as_millis().div_ceil(1000).max(1) as u64,
        }
        .into());
    }
    let rec = app
        .oauth
        .authenticate_assertion(params.get("client_id"), assertion)
        .await
        .map_err(|e| {
            OAuthErrorResponse::from(super::metrics::count_failure(app, e, named, source, now))
        })?;
    app.backoff.success(named, source);
    let client_id = rec.client_id.clone();
    Ok((rec, client_id))
}

/// `POST /oauth/token`: the client-credentials grant, counted in the metrics by result and
/// client-authentication method.
async fn issue_token(
    State(app): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, OAuthErrorResponse> {
    let mut method = "none";
    let result = grant_token(&app, request, &mut method).await;
    let outcome = match &result {
        Ok(_) => "issued",
        Err(e) => super::metrics::token_error_result(&e.error),
    };
    app.metrics.token_request(outcome, method);
    result
}

/// The grant itself; sets `method` once the client's credentials are read.
async fn grant_token(
    app: &AppState,
    request: axum::extract::Request,
    method: &mut &'static str,
) -> Result<Response, OAuthErrorResponse> {
    // The request taken whole, not through the `HeaderMap` extractor, which copies the headers.
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let (params, kind) = read_params(headers, body, true).await?;
    match params.get("grant_type") {
        Some("client_credentials") => {}
        Some(TOKEN_EXCHANGE) => {
            *method = "personal_token";
            let source = super::extract::source_of(&parts, &app.config.trusted_proxies);
            return exchange_token(app, &params, &source).await;
        }
        None if kind == BodyKind::Json => {}
        None => return Err(invalid_request("the grant_type parameter is missing")),
        Some(_) => return Err(OAuthError::UnsupportedGrantType.into()),
    }
    let source = super::extract::source_of(&parts, &app.config.trusted_proxies);
    let (rec, client_id) = match params.get("client_assertion") {
        Some(assertion) => {
            *method = "private_key_jwt";
            authenticate_assertion(app, headers, &params, assertion, &source).await?
        }
        None => {
            if params.get("client_assertion_type").is_some() {
                return Err(invalid_request(
                    "client_assertion_type needs a client_assertion",
                ));
            }
            let creds = client_credentials(headers, &params)?;
            *method = match &creds {
                Some(c) if c.basic => "client_secret_basic",
                Some(_) => "client_secret_post",
                None => "none",
            };
            authenticate(app, creds, &source).await?
        }
    };
    // RFC 8707's `resource`, or `audience` as Auth0's clients send it: one of them, once.
    let resource = match (params.get("resource"), params.get("audience")) {
        (Some(_), Some(_)) => return Err(OAuthError::InvalidTarget.into()),
        (r, a) => r.or(a),
    };
    let issued = app
        .oauth
        .issue(&rec, &client_id, params.get("scope"), resource, &source)?;
    // Let the other requests that are ready mint theirs before this response is written, so
    // that under load responses leave in bursts: one wake-up of the peer and one trip through
    // the network stack's queues per burst rather than per token (+12-15 % grants/s on
    // loopback; see docs/performance.md). When idle this costs one pass of the scheduler.
    tokio::task::yield_now().await;
    Ok(json_body_no_store(issued.to_json()))
}

/// Body of `POST /oauth/leaked`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LeakReport {
    credentials: Vec<String>,
}

/// `POST /oauth/leaked` (unauthenticated, limited per address): `{"credentials": [...]}`.
/// Every live keygate client secret or personal token listed stops working at once. The
/// answer to a well-formed report is always `202 {}`, whatever it held.
async fn report_leaked(
    State(app): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuthErrorResponse> {
    if let Err(wait) = app
        .oauth
        .leak_reports()
        .allow(&source, crate::domain::now_ms())
    {
        let mut res = (
            StatusCode::TOO_MANY_REQUESTS,
            no_store(),
            axum::Json(serde_json::json!({
                "error": "slow_down",
                "error_description": "too many reports from this address; retry later",
            })),
        )
            .into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Ok(res);
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if !is_json {
        return Err(invalid_request("Content-Type must be application/json"));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        invalid_request(format!("the request body is larger than {MAX_BODY} bytes"))
    })?;
    let report: LeakReport = serde_json::from_slice(&bytes).map_err(|_| {
        invalid_request("the body must be {\"credentials\": [\"…\"]}, a list of strings")
    })?;
    if report.credentials.len() > crate::admin::leaks::MAX_REPORTED
        || report.credentials.iter().any(|c| c.len() > 512)
    {
        return Err(invalid_request(format!(
            "report at most {} credentials of at most 512 bytes each",
            crate::admin::leaks::MAX_REPORTED
        )));
    }
    app.admin
        .report_leaked(&source, &report.credentials)
        .await
        .map_err(|e| match e {
            crate::admin::AdminError::Store(s) => OAuthError::Internal(s),
            other => OAuthError::Internal(StoreError::Corrupt(other.to_string())),
        })?;
    Ok((
        StatusCode::ACCEPTED,
        no_store(),
        axum::Json(serde_json::json!({})),
    )
        .into_response())
}

/// RFC 8693's grant type.
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693's type of an access token (a personal access token is one).
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// RFC 8693 token exchange: a personal access token (the credential itself: no client
/// authentication) for a short-lived JWT that APIs verify locally.
async fn exchange_token(
    app: &AppState,
    params: &Params,
    source: &str,
) -> Result<Response, OAuthErrorResponse> {
    let subject = params
        .get("subject_token")
        .ok_or_else(|| invalid_request("the subject_token parameter is missing"))?;
    match params.get("subject_token_type") {
        Some(ACCESS_TOKEN_TYPE) => {}
        Some(_) => {
            return Err(invalid_request(format!(
                "subject_token_type must be {ACCESS_TOKEN_TYPE}"
            )));
        }
        None => {
            return Err(invalid_request(
                "the subject_token_type parameter is missing",
            ));
        }
    }
    if params
        .get("requested_token_type")
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(invalid_request(format!(
            "requested_token_type must be {ACCESS_TOKEN_TYPE}"
        )));
    }
    let issued = app
        .oauth
        .exchange(subject, params.get("scope"), source)
        .await?;
    let mut body = serde_json::json!({
        "access_token": issued.access_token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    });
    crate::oauth::add_authorization_details(&mut body, &issued.authorization_details);
    Ok(json_body_no_store(body.to_string().into_bytes()))
}

/// A 200 response with `no_store()` and the JSON `body`.
fn json_body_no_store(body: Vec<u8>) -> Response {
    (
        no_store(),
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// `POST /oauth/revoke` (RFC 7009).
async fn revoke_token(
    State(app): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuthErrorResponse> {
    let (params, _) = read_params(&headers, body, false).await?;
    let token = params
        .get("token")
        .ok_or_else(|| invalid_request("the token parameter is missing"))?;
    let creds = client_credentials(&headers, &params)?;
    let (rec, _) = authenticate(&app, creds, &source).await?;
    app.oauth.revoke(&rec, token, &source).await?;
    Ok((StatusCode::OK, no_store()).into_response())
}

/// `POST /oauth/introspect` (RFC 7662): for callers holding `tokens:introspect`, who
/// authenticate with client credentials or a bearer token. Every answer, errors included,
/// is RFC 6749-shaped JSON with `Cache-Control: no-store`.
async fn introspect_token(
    State(app): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuthErrorResponse> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_owned())
        });
    let (params, _) = read_params(&headers, body, false).await?;
    let permitted = if let Some(bearer) = bearer {
        let caller = app
            .oauth
            .verify(&bearer)
            .await
            .map_err(|_| OAuthErrorResponse {
                challenge: Challenge::Bearer,
                ..OAuthError::InvalidToken.into()
            })?;
        caller.is_for(app.oauth.keygate_identifier())
            && caller.permissions.contains(TOKENS_INTROSPECT)
    } else {
        let creds = client_credentials(&headers, &params)?;
        let (rec, _) = authenticate(&app, creds, &source).await?;
        rec.keygate_permissions()
            .iter()
            .any(|p| p == TOKENS_INTROSPECT)
    };
    if !permitted {
        return Err(OAuthError::InsufficientScope(TOKENS_INTROSPECT).into());
    }
    let token = params
        .get("token")
        .ok_or_else(|| invalid_request("the token parameter is missing"))?;
    let answer = app.oauth.introspect(token).await;
    Ok((no_store(), axum::Json(answer)).into_response())
}

/// `GET /.well-known/jwks.json`.
async fn jwks(State(app): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        app.oauth.jwks_json().to_string(),
    )
        .into_response()
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414), also at the OpenID discovery
/// path and, for an issuer with a path, at the path-suffixed one (see `web::discovery`).
pub(super) async fn metadata(State(app): State<AppState>) -> Response {
    let iss = app.oauth.issuer();
    let url = |path| crate::config::join_url(iss, path);
    let methods = ["client_secret_basic", "client_secret_post"];
    let token_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];
    axum::Json(serde_json::json!({
        "issuer": iss,
        "token_endpoint": url("oauth/token"),
        "jwks_uri": url(".well-known/jwks.json"),
        "revocation_endpoint": url("oauth/revoke"),
        "introspection_endpoint": url("oauth/introspect"),
        "grant_types_supported": ["client_credentials", TOKEN_EXCHANGE],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": token_methods,
        "token_endpoint_auth_signing_alg_values_supported": crate::oauth::assertion::ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "bearer"],
        "access_token_signing_alg_values_supported": ["ES256"],
        "authorization_details_types_supported": [crate::domain::access::NODE_DETAIL_TYPE],
    }))
    .into_response()
}
