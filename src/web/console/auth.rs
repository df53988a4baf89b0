//! Sign-in and sign-out.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use super::{Chrome, Console, ConsoleError, FormFields, SESSION_COOKIE};
use crate::admin::users::SignInError;
use crate::app::AppState;
use crate::domain::secret::random_token;
use crate::web::extract::Source;

/// Cookie holding the sign-in form's CSRF token (double-submit, before any session exists).
const LOGIN_CSRF_COOKIE: &str = "kg_login_csrf";

/// The sign-in page.
#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    chrome: Option<Chrome>,
    has_users: bool,
    error: Option<String>,
    csrf: String,
    next: String,
    username: String,
}

/// Query of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Where a sign-in goes when `next` is missing or not one of the console's own pages.
const DEFAULT_NEXT: &str = "/settings/service-accounts";

/// The page to go to after sign-in: only a path of the console's own pages (`/` or under
/// `/settings`), parsed as a URI with no scheme or authority, with no control character,
/// backslash, `//` or encoded slash that a browser could read as another host. Anything
/// else falls back to the account list (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    let Some(n) = next else {
        return DEFAULT_NEXT.to_owned();
    };
    let suspicious = n.is_empty()
        || n.len() > 2000
        || n.chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        || n.contains("//")
        || n.to_ascii_lowercase().contains("%2f")
        || n.to_ascii_lowercase().contains("%5c");
    if suspicious {
        return DEFAULT_NEXT.to_owned();
    }
    let Ok(uri) = n.parse::<axum::http::Uri>() else {
        return DEFAULT_NEXT.to_owned();
    };
    let path = uri.path();
    let own_page = path == "/" || path == "/settings" || path.starts_with("/settings/");
    if uri.scheme().is_some() || uri.authority().is_some() || !own_page {
        return DEFAULT_NEXT.to_owned();
    }
    n.to_owned()
}

fn cookie(
    app: &AppState,
    name: &'static str,
    value: String,
    path: &'static str,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(app.config.issuer().starts_with("https://"))
        .path(path)
        .build()
}

async fn render_login(
    app: &AppState,
    jar: CookieJar,
    status: StatusCode,
    error: Option<String>,
    next: String,
    username: String,
) -> Result<Response, ConsoleError> {
    let csrf = random_token::<32>();
    let jar = jar.add(cookie(app, LOGIN_CSRF_COOKIE, csrf.clone(), "/login"));
    let page = LoginPage {
        chrome: None,
        has_users: app.admin.has_console_users().await?,
        error,
        csrf,
        next,
        username,
    };
    Ok((status, jar, page).into_response())
}

/// `GET /login`.
pub async fn login_page(
    State(app): State<AppState>,
    console: Option<Console>,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Result<Response, ConsoleError> {
    let next = safe_next(q.next.as_deref());
    if console.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    render_login(&app, jar, StatusCode::OK, None, next, String::new()).await
}

/// `POST /login`.
pub async fn sign_in(
    State(app): State<AppState>,
    Source(source): Source,
    jar: CookieJar,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    let expected = jar
        .get(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let sent = form.get("csrf").unwrap_or_default();
    if expected.is_empty() || !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ConsoleError::Csrf);
    }
    let next = safe_next(form.get("next"));
    let username = form.get("username").unwrap_or_default().to_owned();
    let password = form.get("password").unwrap_or_default().to_owned();
    let outcome = app.admin.sign_in(&username, password, &source).await;
    app.metrics
        .console_sign_in(crate::web::metrics::sign_in_result(&outcome));
    match outcome {
        Ok((token, _)) => {
            // A browser-session cookie; the server ends the session when idle or too old.
            let session = cookie(&app, SESSION_COOKIE, token, "/");
            let jar = jar
                .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/login"))
                .add(session);
            Ok((jar, Redirect::to(&next)).into_response())
        }
        Err(SignInError::Store(e)) => Err(e.into()),
        Err(e) => {
            let (status, retry_after) = match &e {
                SignInError::Throttled { retry_after_secs } => {
                    (StatusCode::TOO_MANY_REQUESTS, Some(*retry_after_secs))
                }
                SignInError::Busy => (StatusCode::SERVICE_UNAVAILABLE, Some(5)),
                _ => (StatusCode::UNAUTHORIZED, None),
            };
            let mut res =
                render_login(&app, jar, status, Some(e.to_string()), next, username).await?;
            if let Some(secs) = retry_after
                && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
            {
                res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            Ok(res)
        }
    }
}

/// `POST /logout`.
pub async fn sign_out(
    State(app): State<AppState>,
    console: Console,
    jar: CookieJar,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    app.admin
        .sign_out(&console.session, &console.source)
        .await?;
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, Redirect::to("/login")).into_response())
}
