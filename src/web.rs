//! HTTP adapters only: the router, layers and extractors; every handler parses its input,
//! calls one operation and renders the result.

pub mod api;
pub mod console;
pub mod discovery;
pub mod extract;
pub mod limits;
pub mod metrics;
pub mod oauth;
pub mod prefix;
pub mod shutdown;
pub mod trace;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;

/// Content-Security-Policy of every response: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The whole application.
pub fn router(state: AppState) -> Router {
    let metrics_on = state.config.metrics;
    let with_metrics = metrics_on && state.config.metrics_bind.is_none();
    let issuer_path = state.config.issuer_path();
    let routes = Router::new()
        .merge(oauth::router())
        .merge(discovery::router(issuer_path.as_deref()))
        .merge(api::router())
        .merge(console::router())
        .merge(metrics::router(with_metrics))
        .route("/healthz", get(healthz));
    let app =
        discovery::with_issuer_prefix(routes, issuer_path.as_deref()).fallback(page_not_found);
    let app = if metrics_on {
        app.layer(metrics::Track(state.clone()))
    } else {
        app
    };
    // Under an issuer with a path, every URL keygate sends carries it (see `web::prefix`).
    let app = match issuer_path {
        Some(prefix) => app.layer(axum::middleware::from_fn(move |req, next| {
            prefix::prefix_urls(prefix.clone(), req, next)
        })),
        None => app,
    };
    let app = app.with_state(state);
    trace::with_request_logs(app)
        .layer(header_layer(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::REFERRER_POLICY, "no-referrer"))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

async fn page_not_found() -> console::ConsoleError {
    console::ConsoleError::NotFound("There is no page at this address.".into())
}

/// Liveness: answers once the database is migrated and keys are loaded.
async fn healthz() -> &'static str {
    "ok"
}
