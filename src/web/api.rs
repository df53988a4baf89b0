//! The JSON REST API under `/api/v1`, authorised by a service account's bearer token.
//! Errors are `{"error","message"}`.

pub mod access;
pub mod accounts;
pub mod federation;
pub mod keys;
pub mod personal_tokens;
pub mod policies;
pub mod signing_keys;
pub mod spec;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::extract::Source;
use super::limits::{RETRY_AFTER_SECS, TooLong};
use crate::admin::AdminError;
use crate::admin::StoreError;
use crate::app::AppState;
use crate::oauth::{OAuthError, VerifiedToken};

/// The API routes.
pub fn router() -> Router<AppState> {
    let v1 = spec::ROUTES
        .iter()
        .fold(Router::new(), |router, r| {
            router.route(r.path, (r.handler)())
        })
        .fallback(not_found);
    Router::new()
        .nest("/api/v1", v1)
        .route("/api/openapi.json", get(openapi))
}

/// `GET /api/openapi.json`: the OpenAPI 3 document, generated from the route table.
async fn openapi(State(app): State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(spec::openapi(app.oauth.issuer()))
}

/// An API error: a status and `{"error","message"}`; internal details are logged only.
#[derive(Debug)]
pub enum ApiError {
    /// No bearer token at all: the challenge carries no error code (RFC 6750 §3.1).
    MissingToken,
    /// A live keygate token for another API than keygate's own.
    WrongAudience,
    /// Malformed, expired or revoked bearer token (RFC 6750 §3.1).
    InvalidToken,
    /// The token lacks a permission.
    Forbidden(String),
    /// No such thing.
    NotFound(String),
    /// Duplicate.
    Conflict(String),
    /// A field is invalid.
    Unprocessable {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The request itself is malformed.
    BadRequest(String),
    /// Something failed inside.
    Internal(String),
    /// The database is unreachable for now: 503 with `Retry-After`.
    Unavailable(String),
}

impl From<TooLong> for ApiError {
    fn from(e: TooLong) -> Self {
        Self::Unprocessable {
            field: e.field.to_owned(),
            message: e.to_string(),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Forbidden(_) => Self::Forbidden(e.to_string()),
            AdminError::Escalation(m) => Self::Forbidden(m),
            AdminError::NotFound(_) => Self::NotFound(e.to_string()),
            AdminError::Conflict { message, .. } => Self::Conflict(message),
            AdminError::Invalid(v) => Self::Unprocessable {
                field: v.field.to_owned(),
                message: v.message,
            },
            AdminError::Store(s @ StoreError::Unavailable(_)) => Self::Unavailable(s.to_string()),
            AdminError::Store(s) => Self::Internal(s.to_string()),
        }
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::Internal(s @ StoreError::Unavailable(_)) => {
                Self::Unavailable(s.to_string())
            }
            OAuthError::Internal(s) => Self::Internal(s.to_string()),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let missing = matches!(self, Self::MissingToken);
        let wrong_audience = matches!(self, Self::WrongAudience);
        let (status, code, message, field) = match self {
            Self::WrongAudience => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the token is not for this API: request one with resource set to this API's \
                 identifier"
                    .to_owned(),
                None,
            ),
            Self::MissingToken | Self::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "a valid bearer access token is required".to_owned(),
                None,
            ),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m, None),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m, None),
            Self::Conflict(m) => (StatusCode::CONFLICT, "conflict", m, None),
            Self::Unprocessable { field, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                message,
                Some(field),
            ),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m, None),
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error in the REST API");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server could not handle the request".to_owned(),
                    None,
                )
            }
            Self::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable in the REST API");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; retry shortly".to_owned(),
                    None,
                )
            }
        };
        let mut body = serde_json::json!({ "error": code, "message": message });
        if let Some(f) = field {
            body["field"] = f.into();
        }
        let mut res = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if status == StatusCode::UNAUTHORIZED {
            let challenge = if missing {
                r#"Bearer realm="keygate""#
            } else if wrong_audience {
                r#"Bearer realm="keygate", error="invalid_token", error_description="the token is not for this API""#
            } else {
                r#"Bearer realm="keygate", error="invalid_token""#
            };
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        res
    }
}

/// A JSON body whose rejections are `{"error","message"}` like every other API error.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

impl<S, T> axum::extract::OptionalFromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(
        req: axum::extract::Request,
        state: &S,
    ) -> Result<Option<Self>, ApiError> {
        let has_body = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
            || req.headers().contains_key(header::TRANSFER_ENCODING);
        if has_body {
            <Self as axum::extract::FromRequest<S>>::from_request(req, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}

/// For PATCH fields where `null` means "clear" and absence "leave as is": present fields,
/// `null` included, become `Some`.
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such API route".into())
}

/// The verified bearer token of the request (`Authorization: Bearer …`), for keygate's own
/// API (`aud` = `<issuer>/api`): what every route but whoami and session end requires.
pub struct Bearer(pub VerifiedToken);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let AnyBearer(token) = AnyBearer::from_request_parts(parts, app).await?;
        if !token.is_for(app.oauth.keygate_identifier()) {
            return Err(ApiError::WrongAudience);
        }
        Ok(Self(token))
    }
}

/// Any live keygate access token, whatever its API: whoami and session end concern the
/// token itself.
pub struct AnyBearer(pub VerifiedToken);

impl FromRequestParts<AppState> for AnyBearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(if parts.headers.contains_key(header::AUTHORIZATION) {
                ApiError::InvalidToken
            } else {
                ApiError::MissingToken
            });
        };
        let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
        let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::InvalidToken);
        }
        app.oauth
            .verify(token.trim())
            .await
            .map(AnyBearer)
            .map_err(|_| ApiError::InvalidToken)
    }
}

/// `GET /api/v1/whoami`: the account behind the token, its roles and what the token allows.
/// Roles and permissions are those of the token's API (`aud`), as they stand now.
async fn whoami(AnyBearer(token): AnyBearer) -> Response {
    let mut body = serde_json::json!({
        "id": token.account.id,
        "name": token.account.name,
        "client_id": token.claims.client_id,
        "aud": token.claims.aud,
        "roles": token.roles(),
        "permissions": token.permissions,
        "expires_at": token.claims.exp,
    });
    crate::oauth::add_authorization_details(&mut body, &token.details);
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

/// `DELETE /api/v1/session`: the token revokes itself.
async fn end_session(
    State(app): State<AppState>,
    Source(source): Source,
    AnyBearer(token): AnyBearer,
) -> Result<StatusCode, ApiError> {
    app.oauth.revoke_verified(&token, &source).await?;
    Ok(StatusCode::NO_CONTENT)
}
