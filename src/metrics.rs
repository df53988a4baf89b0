//! Prometheus metrics of one keygate instance, rendered at `GET /metrics`.
//!
//! Each [`App`](crate::app::App) owns its own recorder instead of installing a global one,
//! so several instances in one process (the tests) keep separate counts. Labels hold only
//! bounded, non-identifying values: the matched route pattern (never the raw path), a status
//! code, an outcome or a method name — never an account name, client ID, token or address.
//! Gauges that mirror state (cached accounts, change-feed lag, pool connections) are read at
//! scrape time, so the request path pays nothing for them.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use metrics::{Key, Label, Level, Metadata, Recorder as _, SharedString, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Request duration histogram buckets, in seconds: the token endpoint answers in well under a
/// millisecond, console pages in a few, argon2 sign-ins in tens to hundreds.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const HTTP_REQUESTS: &str = "keygate_http_requests_total";
const HTTP_DURATION: &str = "keygate_http_request_duration_seconds";
const TOKEN_REQUESTS: &str = "keygate_token_requests_total";
const CACHE_HITS: &str = "keygate_verified_token_cache_hits_total";
const CACHED_ACCOUNTS: &str = "keygate_cached_accounts";
const FEED_LAG: &str = "keygate_change_feed_lag_seconds";
const POOL_CONNECTIONS: &str = "keygate_db_pool_connections";
const SIGN_INS: &str = "keygate_console_sign_ins_total";
const FAILED_CLIENT_AUTH: &str = "keygate_client_auth_failures_total";

static METADATA: Metadata<'static> = Metadata::new("keygate", Level::INFO, Some("keygate"));

/// What the scrape reads from the running instance.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    /// Accounts in the token path's cache.
    pub cached_accounts: usize,
    /// Seconds since the change feed was last read.
    pub change_feed_lag_seconds: f64,
    /// Tokens verified from the cache of verified signatures, since start.
    pub verified_token_cache_hits: u64,
    /// Pool connections running a query.
    pub pool_in_use: usize,
    /// Pool connections open and idle.
    pub pool_idle: usize,
    /// Pool connections allowed at most.
    pub pool_max: usize,
}

/// The recorder of one instance and the handle that renders it.
///
/// The request path holds on to the handles it updates (one counter per route and status,
/// one histogram per route, one counter per token result and method), so counting a request
/// is a map lookup and two atomic updates: no label is built, hashed or registered again.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    routes: RwLock<HashMap<Box<str>, RouteMetrics>>,
    tokens: RwLock<Vec<(TokenLabels, metrics::Counter)>>,
}

/// A route's request duration histogram and its counter for each status seen.
struct RouteMetrics {
    duration: metrics::Histogram,
    statuses: Vec<(u16, metrics::Counter)>,
}

/// `result` and `method` of a token request.
type TokenLabels = (&'static str, &'static str);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A recorder with the request-duration histogram's buckets and every metric described.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), DURATION_BUCKETS)
            .expect("the duration buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let describe = [
            (
                HTTP_REQUESTS,
                Unit::Count,
                "HTTP requests answered, by route pattern and status",
            ),
            (
                HTTP_DURATION,
                Unit::Seconds,
                "Time to answer an HTTP request, by route pattern",
            ),
            (
                TOKEN_REQUESTS,
                Unit::Count,
                "Token requests, by result and client-authentication method",
            ),
            (
                CACHE_HITS,
                Unit::Count,
                "Access tokens verified from the cache of checked signatures",
            ),
            (
                CACHED_ACCOUNTS,
                Unit::Count,
                "Service accounts held in the token path's cache",
            ),
            (
                FEED_LAG,
                Unit::Seconds,
                "Seconds since the change feed was last read",
            ),
            (
                POOL_CONNECTIONS,
                Unit::Count,
                "Database pool connections, by state",
            ),
            (SIGN_INS, Unit::Count, "Console sign-in attempts, by result"),
            (
                FAILED_CLIENT_AUTH,
                Unit::Count,
                "Failed client authentications at the OAuth endpoints",
            ),
        ];
        for (name, unit, help) in describe {
            recorder.describe_counter(name.into(), Some(unit), SharedString::const_str(help));
        }
        Self {
            recorder,
            handle,
            routes: RwLock::default(),
            tokens: RwLock::default(),
        }
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> metrics::Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    /// One HTTP request answered: `route` is the matched pattern (`/api/v1/roles/{id}`).
    pub fn http_request(&self, route: &str, status: u16, seconds: f64) {
        {
            let routes = read(&self.routes);
            if let Some(r) = routes.get(route)
                && let Some((_, c)) = r.statuses.iter().find(|(s, _)| *s == status)
            {
                c.increment(1);
                r.duration.record(seconds);
                return;
            }
        }
        // First request of this route or status: register its handles.
        let mut routes = write(&self.routes);
        let r = routes.entry(route.into()).or_insert_with(|| RouteMetrics {
            duration: self.recorder.register_histogram(
                &Key::from_parts(HTTP_DURATION, vec![Label::new("route", route.to_owned())]),
                &METADATA,
            ),
            statuses: Vec::new(),
        });
        find_or_add(&mut r.statuses, status, || {
            self.counter(
                HTTP_REQUESTS,
                vec![
                    Label::new("route", route.to_owned()),
                    Label::new("status", status.to_string()),
                ],
            )
        })
        .increment(1);
        r.duration.record(seconds);
    }

    /// One token request: `result` is `issued` or the RFC 6749 error code (or `throttled`),
    /// `method` the client-authentication method tried.
    pub fn token_request(&self, result: &'static str, method: &'static str) {
        let labels = (result, method);
        if let Some((_, c)) = read(&self.tokens).iter().find(|(l, _)| *l == labels) {
            c.increment(1);
            return;
        }
        find_or_add(&mut write(&self.tokens), labels, || {
            self.counter(
                TOKEN_REQUESTS,
                vec![Label::new("result", result), Label::new("method", method)],
            )
        })
        .increment(1);
    }

    /// One failed client authentication at an OAuth endpoint.
    pub fn client_auth_failure(&self) {
        self.counter(FAILED_CLIENT_AUTH, Vec::new()).increment(1);
    }

    /// One console sign-in attempt: `result` is `success`, `failure` or `throttled`.
    pub fn console_sign_in(&self, result: &'static str) {
        self.counter(SIGN_INS, vec![Label::new("result", result)])
            .increment(1);
    }

    /// The Prometheus text exposition, after setting the gauges from `now`.
    pub fn render(&self, now: &Snapshot) -> String {
        self.counter(CACHE_HITS, Vec::new())
            .absolute(now.verified_token_cache_hits);
        let gauge = |name: &'static str, labels: Vec<Label>, value: f64| {
            self.recorder
                .register_gauge(&Key::from_parts(name, labels), &METADATA)
                .set(value);
        };
        gauge(CACHED_ACCOUNTS, Vec::new(), now.cached_accounts as f64);
        gauge(FEED_LAG, Vec::new(), now.change_feed_lag_seconds);
        for (state, n) in [
            ("in_use", now.pool_in_use),
            ("idle", now.pool_idle),
            ("max", now.pool_max),
        ] {
            gauge(POOL_CONNECTIONS, vec![Label::new("state", state)], n as f64);
        }
        self.handle.render()
    }

    /// Drains histogram samples into their buckets; run every few seconds so memory stays
    /// bounded between scrapes.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// The counter kept for `key` in `list`, made by `make` and kept on first use.
fn find_or_add<K: PartialEq>(
    list: &mut Vec<(K, metrics::Counter)>,
    key: K,
    make: impl FnOnce() -> metrics::Counter,
) -> metrics::Counter {
    if let Some((_, c)) = list.iter().find(|(k, _)| *k == key) {
        return c.clone();
    }
    let c = make();
    list.push((key, c.clone()));
    c
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample line that starts with `series`.
    fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    }

    #[test]
    fn kept_handles_count_every_request_after_the_first() {
        let m = Metrics::new();
        for _ in 0..3 {
            m.http_request("/oauth/token", 200, 0.001);
        }
        m.http_request("/oauth/token", 401, 0.001);
        m.http_request("/healthz", 200, 0.001);
        for _ in 0..2 {
            m.token_request("issued", "client_secret_basic");
        }
        m.token_request("invalid_client", "client_secret_basic");
        m.run_upkeep();
        let text = m.render(&Snapshot::default());
        let http = |route: &str, status: u16| {
            sample(
                &text,
                &format!(r#"keygate_http_requests_total{{route="{route}",status="{status}"}}"#),
            )
        };
        assert_eq!(http("/oauth/token", 200), 3.0);
        assert_eq!(http("/oauth/token", 401), 1.0);
        assert_eq!(http("/healthz", 200), 1.0);
        assert_eq!(
            sample(
                &text,
                r#"keygate_http_request_duration_seconds_count{route="/oauth/token"}"#
            ),
            4.0
        );
        let token = |result: &str| {
            sample(
                &text,
                &format!(
                    r#"keygate_token_requests_total{{result="{result}",method="client_secret_basic"}}"#
                ),
            )
        };
        assert_eq!(token("issued"), 2.0);
        assert_eq!(token("invalid_client"), 1.0);
    }
}
