//! The web console: server-rendered HTML pages (askama), enhanced with htmx where it helps.
//! Every page works without JavaScript; every state-changing form carries a CSRF token.

pub mod access;
pub mod account;
pub mod accounts;
pub mod apis;
pub mod audit;
pub mod auth;
pub mod bindings;
pub mod federation;
pub mod keys;
pub mod personal_tokens;
pub mod policies;
pub mod signing_keys;
pub mod users;
pub mod when;

use std::path::PathBuf;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use subtle::ConstantTimeEq as _;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::admin::AdminError;
use crate::admin::StoreError;
use crate::admin::users::ConsoleSession;
use crate::app::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "kg_session";

/// Where static files are served from unless `KEYGATE_STATIC_DIR` says otherwise.
pub fn default_static_dir() -> PathBuf {
    std::env::var_os("KEYGATE_STATIC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static")))
}

/// The console routes and the static files.
pub fn router() -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(home))
        .route("/login", get(auth::login_page).post(auth::sign_in))
        .route("/logout", post(auth::sign_out))
        .route("/settings", get(home))
        .route(
            "/settings/service-accounts",
            get(accounts::list_service_accounts),
        )
        .route(
            "/settings/service-accounts/new",
            get(accounts::new_service_account).post(accounts::add_service_account_step),
        )
        .route(
            "/settings/service-accounts/{id}",
            get(account::show_service_account),
        )
        .route(
            "/settings/service-accounts/{id}/enabled",
            post(account::toggle_service_account),
        )
        .route(
            "/settings/service-accounts/{id}/edit",
            get(account::edit_service_account).post(account::save_service_account),
        )
        .route(
            "/settings/service-accounts/{id}/regenerate",
            get(account::confirm_regenerate).post(account::regenerate_keys),
        )
        .route(
            "/settings/service-accounts/{id}/delete",
            get(account::confirm_delete).post(account::delete_service_account),
        )
        .route("/settings/service-accounts/{id}/keys", post(keys::add_key))
        .route(
            "/settings/service-accounts/{id}/keys/{kid}/delete",
            get(keys::confirm_delete_key).post(keys::delete_key),
        )
        .route(
            "/settings/service-accounts/{id}/personal-tokens",
            post(personal_tokens::create_personal_token),
        )
        .route(
            "/settings/service-accounts/{id}/personal-tokens/{tid}/delete",
            get(personal_tokens::confirm_delete_personal_token)
                .post(personal_tokens::delete_personal_token),
        )
        .route(
            "/settings/federation",
            get(federation::list_trusted_issuers).post(federation::create_trusted_issuer),
        )
        .route(
            "/settings/federation/{id}/delete",
            get(federation::confirm_delete_trusted_issuer).post(federation::delete_trusted_issuer),
        )
        .route(
            "/settings/service-accounts/{id}/federated-credentials",
            get(federation::list_federated_credentials).post(federation::add_federated_credential),
        )
        .route(
            "/settings/service-accounts/{id}/federated-credentials/{fid}/delete",
            get(federation::confirm_delete_federated_credential)
                .post(federation::delete_federated_credential),
        )
        .route(
            "/settings/service-accounts/{id}/sessions/revoke",
            post(account::revoke_session),
        )
        .route(
            "/settings/service-accounts/{id}/sessions/revoke-all",
            get(account::confirm_revoke_all).post(account::revoke_all_sessions),
        )
        .route(
            "/settings/service-accounts/{id}/bindings",
            post(bindings::add_binding),
        )
        .route(
            "/settings/service-accounts/{id}/bindings/remove",
            post(bindings::remove_binding),
        )
        .route("/settings/apis", get(apis::list_apis))
        .route(
            "/settings/apis/new",
            get(apis::new_api).post(apis::create_api),
        )
        .route(
            "/settings/apis/{id}/edit",
            get(apis::edit_api).post(apis::save_api),
        )
        .route(
            "/settings/apis/{id}/delete",
            get(apis::confirm_delete_api).post(apis::delete_api),
        )
        .route("/settings/hierarchy", get(apis::list_nodes))
        .route(
            "/settings/hierarchy/new",
            get(apis::new_node).post(apis::create_node),
        )
        .route(
            "/settings/hierarchy/{id}/edit",
            get(apis::edit_node).post(apis::save_node),
        )
        .route(
            "/settings/hierarchy/{id}/delete",
            get(apis::confirm_delete_node).post(apis::delete_node),
        )
        .route("/settings/roles", get(access::list_roles))
        .route(
            "/settings/roles/new",
            get(access::new_role).post(access::create_role),
        )
        .route(
            "/settings/roles/{id}/edit",
            get(access::edit_role).post(access::save_role),
        )
        .route(
            "/settings/roles/{id}/delete",
            get(access::confirm_delete_role).post(access::delete_role),
        )
        .route("/settings/groups", get(access::list_groups))
        .route(
            "/settings/groups/new",
            get(access::new_group).post(access::create_group),
        )
        .route("/settings/groups/{id}", get(access::show_group))
        .route(
            "/settings/groups/{id}/bindings",
            post(bindings::add_group_binding),
        )
        .route(
            "/settings/groups/{id}/bindings/remove",
            post(bindings::remove_group_binding),
        )
        .route(
            "/settings/groups/{id}/edit",
            get(access::edit_group).post(access::save_group),
        )
        .route(
            "/settings/groups/{id}/delete",
            get(access::confirm_delete_group).post(access::delete_group),
        )
        .route(
            "/settings/users",
            get(users::list_users).post(users::add_user),
        )
        .route("/settings/users/{id}/enabled", post(users::toggle_user))
        .route(
            "/settings/users/{id}/password",
            post(users::reset_user_password),
        )
        .route(
            "/settings/users/{id}/delete",
            get(users::confirm_delete_user).post(users::delete_user),
        )
        .route(
            "/settings/password",
            get(users::edit_own_password).post(users::change_own_password),
        )
        .route(
            "/settings/users/{id}/roles",
            get(users::edit_user_roles).post(users::save_user_roles),
        )
        .route(
            "/settings/policies",
            get(policies::show_policies).post(policies::save_policies),
        )
        .route("/settings/audit", get(audit::audit_log))
        .route("/settings/audit/export", get(audit::export_audit_log))
        .route(
            "/settings/signing-keys",
            get(signing_keys::list_signing_keys),
        )
        .route(
            "/settings/signing-keys/rotate",
            get(signing_keys::confirm_rotate).post(signing_keys::rotate_signing_key),
        )
        .layer(middleware::from_fn(htmx_answers))
        .layer(DefaultBodyLimit::max(64 * 1024))
        // Console pages show private data, and the wizard's last step a secret: never cache.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let assets = Router::new()
        .route_service(
            "/favicon.ico",
            tower_http::services::ServeFile::new(default_static_dir().join("favicon.ico")),
        )
        .nest_service("/static", ServeDir::new(default_static_dir()))
        .layer(axum::middleware::from_fn(
            crate::web::limits::refuse_implausible_assets,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ));
    pages.merge(assets)
}

async fn home(console: Option<Console>) -> Redirect {
    match console {
        Some(_) => Redirect::to("/settings/service-accounts"),
        None => Redirect::to("/login"),
    }
}

/// The signed-in user's name and CSRF token, shown in every page's header.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Username.
    pub username: String,
    /// CSRF token for the sign-out form.
    pub csrf: String,
    /// Whether the Console Users page is shown.
    pub can_users: bool,
    /// Whether the Audit Log page is shown.
    pub can_audit: bool,
    /// Whether the user may look but change nothing (marked "View only").
    pub view_only: bool,
}

/// A request from a signed-in console user.
pub struct Console {
    /// The session.
    pub session: ConsoleSession,
    /// The client's address, for the audit log.
    pub source: String,
}

impl Console {
    /// The page header for this user.
    pub fn chrome(&self) -> Option<Chrome> {
        Some(Chrome {
            username: self.session.username.clone(),
            csrf: self.session.csrf_token.clone(),
            can_users: self.session.can(crate::domain::permission::USERS_READ),
            can_audit: self.session.can(crate::domain::permission::AUDIT_READ),
            view_only: ![
                crate::domain::permission::SERVICE_ACCOUNTS_WRITE,
                crate::domain::permission::ROLES_WRITE,
                crate::domain::permission::USERS_WRITE,
            ]
            .iter()
            .any(|p| self.session.can(p)),
        })
    }

    /// Refuses a page for a user without `permission` (the operation behind it checks
    /// again; this only keeps users from forms they cannot submit).
    pub fn require(&self, permission: &'static str) -> Result<(), ConsoleError> {
        if self.session.can(permission) {
            Ok(())
        } else {
            Err(AdminError::Forbidden(permission).into())
        }
    }

    /// Refuses a state-changing form whose CSRF token is missing or wrong.
    pub fn check_csrf(&self, form: &FormFields) -> Result<(), ConsoleError> {
        let sent = form.get("csrf").unwrap_or_default();
        if bool::from(sent.as_bytes().ct_eq(self.session.csrf_token.as_bytes())) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }

    /// Claims the form's `form_id` (see [`form_id`]) for the form posted to `action`: a
    /// second post of the same rendering, as a reload sends, is [`ConsoleError::AlreadySent`]
    /// (linking to `back`). A form without an id (a script's post) is not guarded.
    pub async fn claim_form(
        &self,
        app: &AppState,
        form: &FormFields,
        action: &str,
        back: &str,
    ) -> Result<SentForm, ConsoleError> {
        let Some(id) = form.get("form_id").map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(SentForm(None));
        };
        if id.len() > 64 {
            return Err(ConsoleError::BadRequest(
                "The form's id is not valid.".into(),
            ));
        }
        let key = format!("{} {action} {id}", self.session.username);
        if app.admin.claim_form(&key).await? {
            Ok(SentForm(Some(key)))
        } else {
            Err(ConsoleError::AlreadySent(back.to_owned()))
        }
    }
}

/// A fresh id for one rendering of a form whose result is shown once (the hidden
/// `form_id` field), so [`Console::claim_form`] can tell a reload's second post.
pub fn form_id() -> String {
    crate::domain::secret::random_token::<16>()
}

/// A claimed form: [`SentForm::refused`] frees it again when its action was refused, so
/// the corrected form can be sent.
#[must_use]
pub struct SentForm(Option<String>);

impl SentForm {
    /// The action was refused: the same form may be sent again.
    pub async fn refused(self, app: &AppState) {
        if let Some(key) = self.0
            && let Err(e) = app.admin.release_form(&key).await
        {
            tracing::warn!(error = %e, "could not release a console form");
        }
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ConsoleError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
            return Err(ConsoleError::Unauthenticated);
        };
        let session = app
            .admin
            .session(&token)
            .await?
            .ok_or(ConsoleError::Unauthenticated)?;
        let crate::web::extract::Source(source) =
            crate::web::extract::Source::from_request_parts(parts, app)
                .await
                .unwrap_or_else(|e| match e {});
        let console = Self { session, source };
        // An error page for this request keeps the signed-in header and sidebar.
        if let Some(slot) = parts.extensions.get::<ChromeSlot>()
            && let Ok(mut chrome) = slot.0.lock()
        {
            *chrome = console.chrome();
        }
        Ok(console)
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Console {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Option<Self>, ConsoleError> {
        match <Self as FromRequestParts<AppState>>::from_request_parts(parts, app).await {
            Ok(c) => Ok(Some(c)),
            Err(ConsoleError::Unauthenticated) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The fields of a form body, in order, repeated names kept (checkbox lists).
#[derive(Debug, Default)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for FormFields {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ConsoleError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ConsoleError::BadRequest("The form could not be read.".into()))?;
        Ok(Self(
            form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// The message of an error the user can fix on the form they sent (shown inline, with
/// what they typed kept); any other error becomes an error page.
pub fn form_error(e: AdminError) -> Result<String, ConsoleError> {
    match e {
        AdminError::Invalid(v) => Ok(v.message),
        AdminError::Conflict { message, .. } | AdminError::Escalation(message) => Ok(message),
        other => Err(other.into()),
    }
}

/// An error page.
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    chrome: Option<Chrome>,
    section: &'static str,
    title: String,
    message: String,
    back: String,
}

/// What can go wrong in the console, each with the page it shows.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Not signed in: go to the sign-in page.
    #[error("sign-in required")]
    Unauthenticated,
    /// The form's CSRF token is missing or wrong.
    #[error("the form has expired")]
    Csrf,
    /// The user lacks a permission.
    #[error("{0}")]
    Forbidden(String),
    /// No such page or thing.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Something failed inside; logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
    /// The database is unreachable for now; logged, a friendly 503 page.
    #[error("{0}")]
    Unavailable(String),
    /// This rendering of a form was sent before (a reload posting it again) and its result,
    /// shown once, is not made twice; the page links back to `0`.
    #[error("the form was already sent")]
    AlreadySent(String),
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(e.to_string()),
            _ => Self::Internal(e.to_string()),
        }
    }
}

impl From<AdminError> for ConsoleError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Forbidden(p) => Self::Forbidden(format!(
                "You do not have the {p} permission needed for this."
            )),
            AdminError::Escalation(m) => Self::Forbidden(m),
            AdminError::NotFound(what) => Self::NotFound(format!("That {what} does not exist.")),
            AdminError::Conflict { message, .. } => Self::BadRequest(message),
            AdminError::Invalid(v) => Self::BadRequest(v.message),
            AdminError::Store(s) => s.into(),
        }
    }
}

impl ConsoleError {
    /// The status, title and message shown for this error.
    fn shown(self) -> (StatusCode, &'static str, String) {
        match self {
            Self::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "Signed out",
                "Your session has ended. Sign in again to continue.".to_owned(),
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not accepted because its security token is missing or out of \
                 date. Nothing was changed. Go back, reload the page and try again."
                    .to_owned(),
            ),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "Request not understood", m),
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error in the console");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "keygate could not complete this request. Nothing secret was lost; try again, \
                     and check the server log if it happens again."
                        .to_owned(),
                )
            }
            Self::AlreadySent(_) => (
                StatusCode::CONFLICT,
                "Already done",
                "This form was already sent, and its result was shown then. Secrets are \
                 shown only once, so nothing new was made. Open the account to see where \
                 things stand, and start again from there if you need another."
                    .to_owned(),
            ),
            Self::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable in the console");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "keygate cannot reach its database right now, so nothing was changed. \
                     Wait a few seconds and try again."
                        .to_owned(),
                )
            }
        }
    }
}

/// Where the [`Console`] extractor leaves the signed-in user's header, so an error page
/// rendered without it (by [`ConsoleError`]) can be shown with it.
#[derive(Debug, Clone, Default)]
struct ChromeSlot(std::sync::Arc<std::sync::Mutex<Option<Chrome>>>);

/// Marks a response as a console error, so [`htmx_answers`] can answer an htmx request
/// with a message (or a sign-in redirect) instead of a whole page.
#[derive(Debug, Clone)]
struct ErrorMark {
    unauthenticated: bool,
    title: &'static str,
    message: String,
    back: String,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if matches!(self, Self::Unauthenticated) {
            let mut res = Redirect::to("/login").into_response();
            res.extensions_mut().insert(ErrorMark {
                unauthenticated: true,
                title: "Signed out",
                message: String::new(),
                back: String::new(),
            });
            return res;
        }
        let back = match &self {
            Self::AlreadySent(back) => back.clone(),
            _ => "/settings/service-accounts".to_owned(),
        };
        let (status, title, message) = self.shown();
        let page = ErrorPage {
            chrome: None,
            section: "",
            title: title.to_owned(),
            message: message.clone(),
            back: back.clone(),
        };
        let mut res = (status, page).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::web::limits::RETRY_AFTER_SECS),
            );
        }
        res.extensions_mut().insert(ErrorMark {
            unauthenticated: false,
            title,
            message,
            back,
        });
        res
    }
}

/// An error shown as a message in the page's notice area (`#notices`), in answer to an
/// htmx request whose target is a part of the page.
#[derive(Template, WebTemplate)]
#[template(path = "notice_partial.html")]
pub struct ErrorNoticePartial {
    title: &'static str,
    message: String,
}

/// A local path (with its query) taken from a full URL such as htmx's `HX-Current-URL`.
fn local_path(url: &str) -> Option<String> {
    let uri = url.parse::<Uri>().ok()?;
    let path = uri.path_and_query()?.as_str();
    (path.starts_with('/') && !path.starts_with("//")).then(|| path.to_owned())
}

/// The sign-in page, coming back to `next` afterwards.
fn login_url(next: Option<&str>) -> String {
    match next {
        Some(n) if n != "/" && !n.starts_with("/login") => {
            let q: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", n)
                .finish();
            format!("/login?{q}")
        }
        _ => "/login".to_owned(),
    }
}

/// Answers for htmx, and notices across redirects, for every console page.
///
/// - An htmx request that is no longer signed in gets `HX-Redirect` to the sign-in page
///   (coming back to the page it was on), never the sign-in page swapped into a part of
///   the page.
/// - An error answer to an htmx request that targets a part of the page (a row, the
///   table) becomes a message retargeted to `#notices`, never an error page inside a
///   fragment. A boosted navigation (a whole page) keeps its error page.
/// - An error page for a signed-in user keeps the top bar and the sidebar.
/// - A notice carried by [`redirect_with_notice`] is cleared once a page has shown it.
async fn htmx_answers(mut req: Request, next: Next) -> Response {
    let slot = ChromeSlot::default();
    req.extensions_mut().insert(slot.clone());
    let headers = req.headers();
    let htmx = headers.contains_key("hx-request");
    let boosted = headers.contains_key("hx-boosted");
    let get = req.method() == Method::GET;
    let had_flash = CookieJar::from_headers(headers).get(FLASH_COOKIE).is_some();
    let here = req.uri().path_and_query().map(|p| p.as_str().to_owned());
    let current = headers
        .get("hx-current-url")
        .and_then(|v| v.to_str().ok())
        .and_then(local_path);
    let mut res = next.run(req).await;
    let Some(mark) = res.extensions_mut().remove::<ErrorMark>() else {
        if had_flash
            && get
            && !res.status().is_redirection()
            && !res.headers().contains_key(header::SET_COOKIE)
        {
            let mut clear = Cookie::build((FLASH_COOKIE, "")).path("/").build();
            clear.make_removal();
            if let Ok(v) = HeaderValue::from_str(&clear.to_string()) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        return res;
    };
    let whole_page = !htmx || (boosted && get);
    if mark.unauthenticated {
        if !htmx {
            return res;
        }
        let back = if get && boosted { here } else { current };
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&login_url(back.as_deref())) {
            h.insert("hx-redirect", v);
        }
        return (StatusCode::UNAUTHORIZED, h).into_response();
    }
    if whole_page {
        let chrome = slot.0.lock().ok().and_then(|mut c| c.take());
        return match chrome {
            Some(chrome) => {
                let page = ErrorPage {
                    chrome: Some(chrome),
                    section: "",
                    title: mark.title.to_owned(),
                    message: mark.message,
                    back: mark.back,
                };
                (res.status(), page).into_response()
            }
            None => res,
        };
    }
    let status = res.status();
    let notice = ErrorNoticePartial {
        title: mark.title,
        message: mark.message,
    };
    (
        status,
        [
            ("hx-retarget", "#notices"),
            ("hx-reswap", "innerHTML"),
            ("hx-push-url", "false"),
        ],
        notice,
    )
        .into_response()
}

/// Cookie carrying a notice across a post/redirect/get.
pub const FLASH_COOKIE: &str = "kg_notice";

/// A redirect (303) to `to` that shows `notice` on the page it lands on: every successful
/// post ends on a page the browser can reload.
pub fn redirect_with_notice(to: &str, notice: &str) -> Response {
    redirect_with_notice_at(to, "", notice)
}

/// Separates a notice's place from its text in the notice cookie.
const PLACE_MARK: char = '\u{1f}';

/// Like [`redirect_with_notice`], with the notice shown at `place` (a section of the page
/// where the action was, such as `sessions`), and the page scrolled there.
pub fn redirect_with_notice_at(to: &str, place: &str, notice: &str) -> Response {
    let (to, notice) = if place.is_empty() {
        (to.to_owned(), notice.to_owned())
    } else {
        (
            format!("{to}#{place}"),
            format!("{place}{PLACE_MARK}{notice}"),
        )
    };
    let to = to.as_str();
    let value: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    // A minute is enough to follow the redirect; the page that shows it clears it.
    let cookie = format!("{FLASH_COOKIE}={value}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict");
    let mut res = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The notice left by [`redirect_with_notice`], if any (cleared by [`htmx_answers`] once
/// shown), without its place.
#[derive(Debug, Default)]
pub struct Flash(pub Option<String>);

/// The notice left by [`redirect_with_notice_at`] with its place: `(place, text)`, the place
/// empty for the top of the page.
#[derive(Debug, Default)]
pub struct PlacedFlash(pub Option<(String, String)>);

fn flash_of(parts: &Parts) -> Option<(String, String)> {
    let jar = CookieJar::from_headers(&parts.headers);
    let raw = jar.get(FLASH_COOKIE).and_then(|c| {
        form_urlencoded::parse(format!("n={}", c.value()).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    })?;
    Some(match raw.split_once(PLACE_MARK) {
        Some((place, text)) => (place.to_owned(), text.to_owned()),
        None => (String::new(), raw),
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Flash {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(flash_of(parts).map(|(_, text)| text)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PlacedFlash {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(flash_of(parts)))
    }
}
