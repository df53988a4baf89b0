//! Where standard clients look for the RFC 8414 metadata, and the issuer's path prefix.
//!
//! openid-client's `discovery()` and Spring try `/.well-known/openid-configuration` first, so
//! the document is served there too. For an issuer with a path (`https://host/keygate`),
//! RFC 8414 §3.1 puts the document at `/.well-known/oauth-authorization-server/keygate`, and
//! a proxy that forwards `/keygate/…` unchanged reaches every route under that prefix.

use axum::Router;
use axum::routing::get;

use super::oauth::metadata;
use crate::app::AppState;

/// The OpenID discovery path and, for an issuer path `/keygate`, the RFC 8414 §3.1 one.
pub fn router(issuer_path: Option<&str>) -> Router<AppState> {
    let r = Router::new().route("/.well-known/openid-configuration", get(metadata));
    match issuer_path {
        Some(path) => r.route(
            &format!("/.well-known/oauth-authorization-server{path}"),
            get(metadata),
        ),
        None => r,
    }
}

/// `routes` at the root and, for an issuer path, under that path too.
pub fn with_issuer_prefix(routes: Router<AppState>, issuer_path: Option<&str>) -> Router<AppState> {
    match issuer_path {
        Some(path) => routes.clone().nest(path, routes),
        None => routes,
    }
}
