//! Request logs: one line per request at `info` (method, route pattern, status, duration and
//! request id) through tower-http's trace layer, and the `x-request-id` header taken from the
//! request or generated (a UUID) and returned on the response.
//!
//! Only the matched route pattern is logged, never the raw path or query, a header or a body,
//! so no secret, token, password or cookie can reach a request line.

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// Longest client-sent request id kept as is; a longer one is replaced by a fresh UUID.
pub const MAX_REQUEST_ID: usize = 128;

/// Wraps `router` in the request-id and trace layers.
pub fn with_request_logs(router: Router) -> Router {
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response)
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn(drop_odd_request_id))
}

/// A client's `x-request-id` is kept only if it is short printable ASCII: it goes into
/// every log line of the request.
async fn drop_odd_request_id(mut req: Request, next: axum::middleware::Next) -> Response {
    let odd = req.headers().get_all("x-request-id").iter().count() > 1
        || req.headers().get("x-request-id").is_some_and(|v| {
            v.len() > MAX_REQUEST_ID || !v.as_bytes().iter().all(|b| b.is_ascii_graphic())
        });
    if odd {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// The span every log line of a request is in.
fn request_span(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", method = %req.method(), route = %route, request_id = %id)
}

/// The request's line, once the response is ready.
fn log_response(res: &Response, latency: Duration, _: &Span) {
    tracing::info!(
        status = res.status().as_u16(),
        duration_ms = latency.as_micros() as f64 / 1000.0,
        "request"
    );
}
