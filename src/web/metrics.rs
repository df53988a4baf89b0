//! Operations endpoints and the request-metrics layer: `GET /metrics` (Prometheus text),
//! `GET /readyz` (database and change feed), and the middleware that counts and times every
//! request by its matched route pattern.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower_layer::Layer;
use tower_service::Service;

use crate::admin::StoreError;
use crate::admin::users::SignInError;
use crate::app::AppState;
use crate::domain::now_ms;
use crate::metrics::Snapshot;
use crate::oauth::OAuthError;

/// How long the database may take to answer the readiness probe.
pub const READY_DB_TIMEOUT: Duration = Duration::from_secs(1);

/// How far behind the change feed may be for the instance to be ready, in milliseconds.
pub const READY_MAX_FEED_LAG_MS: i64 = 5_000;

/// Label of requests that matched no route (the fallback): one value, not the raw path.
const UNMATCHED: &str = "unmatched";

/// `/readyz`, and `/metrics` unless it has a listener of its own (`--metrics-bind`).
pub fn router(with_metrics: bool) -> Router<AppState> {
    let r = Router::new().route("/readyz", get(readyz));
    if with_metrics {
        r.route("/metrics", get(metrics))
    } else {
        r
    }
}

/// The router of the private metrics listener (`--metrics-bind`).
pub fn metrics_only(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Starts what `serve` runs beside the main listener: the metrics upkeep every 5 s, the
/// aggregated audit events of failed client authentications every minute and, with
/// `--metrics-bind`, the private metrics listener. Abort the tasks at shutdown.
pub async fn spawn_tasks(app: &AppState) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let mut tasks = Vec::new();
    let upkeep = app.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.metrics.run_upkeep();
        }
    }));
    let audit = app.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = audit
                .admin
                .audit_failed_authentications(&audit.backoff)
                .await
            {
                tracing::warn!(error = %e, "cannot record failed client authentications");
            }
        }
    }));
    if let Some(addr) = app.config.metrics_bind.filter(|_| app.config.metrics) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
        tracing::info!("metrics at http://{addr}/metrics");
        let router = metrics_only(app.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        }));
    }
    Ok(tasks)
}

/// Layer: counts and times each request under its matched route pattern. A plain tower
/// layer rather than `middleware::from_fn`, so counting a request boxes nothing: it is on
/// the token endpoint's path, and "metrics on" must cost next to nothing (issue 15).
#[derive(Clone)]
pub struct Track(pub AppState);

impl<S> Layer<S> for Track {
    type Service = TrackService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrackService {
            inner,
            app: self.0.clone(),
        }
    }
}

/// The service of [`Track`].
#[derive(Clone)]
pub struct TrackService<S> {
    inner: S,
    app: AppState,
}

impl<S, B> Service<Request<B>> for TrackService<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        Tracked {
            route: req.extensions().get::<MatchedPath>().cloned(),
            started: Instant::now(),
            app: self.app.clone(),
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request being answered, counted when its response is ready.
    pub struct Tracked<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
        started: Instant,
        app: AppState,
    }
}

impl<F, E> Future for Tracked<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = std::task::ready!(this.inner.poll(cx));
        if let Ok(res) = &out {
            this.app.metrics.http_request(
                this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
                res.status().as_u16(),
                this.started.elapsed().as_secs_f64(),
            );
        }
        Poll::Ready(out)
    }
}

/// The state gauges, read now.
fn snapshot(app: &AppState) -> Snapshot {
    let pool = app.admin.pool_gauges();
    Snapshot {
        cached_accounts: app.oauth.cache().len(),
        change_feed_lag_seconds: app.oauth.feed_health().lag_ms(now_ms()) as f64 / 1000.0,
        verified_token_cache_hits: app.oauth.verified_token_cache_hits(),
        pool_in_use: pool.in_use,
        pool_idle: pool.idle,
        pool_max: pool.max,
    }
}

/// `GET /metrics`: the Prometheus text exposition format.
async fn metrics(State(app): State<AppState>) -> Response {
    let body = app.metrics.render(&snapshot(&app));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// `GET /readyz`: 200 when the database answers within [`READY_DB_TIMEOUT`] and the change
/// feed is less than [`READY_MAX_FEED_LAG_MS`] behind; otherwise 503 naming the failed checks.
async fn readyz(State(app): State<AppState>) -> Response {
    let db = match tokio::time::timeout(READY_DB_TIMEOUT, app.admin.ping_database()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database did not answer");
            Err("the database did not answer")
        }
        Err(_) => Err("the database did not answer within 1 s"),
    };
    let lag_ms = app.oauth.feed_health().lag_ms(now_ms());
    let feed = if lag_ms < READY_MAX_FEED_LAG_MS {
        Ok(())
    } else {
        Err("the change feed is more than 5 s behind")
    };
    let check = |r: &Result<(), &str>| match r {
        Ok(()) => json!({"ok": true}),
        Err(m) => json!({"ok": false, "message": m}),
    };
    let mut change_feed = check(&feed);
    change_feed["lag_seconds"] = json!(lag_ms as f64 / 1000.0);
    let failed: Vec<&str> = [("database", &db), ("change_feed", &feed)]
        .into_iter()
        .filter(|(_, r)| r.is_err())
        .map(|(name, _)| name)
        .collect();
    let status = if failed.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if failed.is_empty() { "ready" } else { "not_ready" },
        "failed": failed,
        "checks": {"database": check(&db), "change_feed": change_feed},
    });
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(body),
    )
        .into_response()
}

/// The `result` label of a failed token request: its RFC 6749 error code.
pub fn token_error_result(e: &OAuthError) -> &'static str {
    match e {
        OAuthError::InvalidRequest(_) => "invalid_request",
        OAuthError::InvalidClient => "invalid_client",
        OAuthError::InvalidToken => "invalid_token",
        OAuthError::UnsupportedGrantType => "unsupported_grant_type",
        OAuthError::InvalidScope => "invalid_scope",
        OAuthError::InvalidTarget => "invalid_target",
        OAuthError::InvalidSubjectToken => "invalid_request",
        OAuthError::UnauthorizedClient(_) => "unauthorized_client",
        OAuthError::InsufficientScope(_) => "insufficient_scope",
        OAuthError::Internal(StoreError::Unavailable(_)) => "temporarily_unavailable",
        OAuthError::Internal(_) => "server_error",
        OAuthError::Throttled { .. } => "throttled",
    }
}

/// Counts a failed client authentication (at any OAuth endpoint) in the metrics and the
/// backoff, and passes the error on.
pub fn count_failure(
    app: &AppState,
    error: OAuthError,
    client_id: &str,
    source: &str,
    now: i64,
) -> OAuthError {
    if matches!(error, OAuthError::InvalidClient) {
        app.metrics.client_auth_failure();
        // Tallied for the audit log whatever the ID; the minute's flush drops IDs that name
        // no account, so the attempt itself reads nothing.
        app.backoff.failure(client_id, source, true, now);
    }
    error
}

/// The `result` label of a console sign-in.
pub fn sign_in_result<T>(r: &Result<T, SignInError>) -> &'static str {
    match r {
        Ok(_) => "success",
        Err(SignInError::Invalid) => "failure",
        Err(SignInError::Throttled { .. }) => "throttled",
        Err(SignInError::Busy) => "busy",
        Err(SignInError::Store(_)) => "error",
    }
}
