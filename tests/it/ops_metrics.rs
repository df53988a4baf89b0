//! `GET /metrics` parsed as Prometheus parses it, and `GET /readyz` while the database or the
//! change feed is down (issue 15).

use std::time::Duration;

use axum::http::StatusCode;
use keygate::app::App;
use prometheus_parse::{Sample, Scrape, Value};
use tower::ServiceExt as _;

use crate::console::{Browser, console_user};
use crate::helpers::TestApp;

/// The exposition as text and as parsed by `prometheus-parse`.
async fn scrape(app: &TestApp) -> (String, Scrape) {
    let res = app.get("/metrics").send().await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let content_type = res.header(axum::http::header::CONTENT_TYPE).unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = res.text();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (text, parsed)
}

fn find<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
}

fn number(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match find(s, metric, labels).map(|x| &x.value) {
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        other => panic!("{metric}{labels:?}: {other:?}"),
    }
}

#[tokio::test]
async fn metrics_count_requests_tokens_and_sign_ins_without_identifying_labels() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing-exporter").create().await;
    let token = app.token(&creds).await;
    let wrong = app.token_response(&creds.with_secret("kgs_wrong")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let posted = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &creds.client_id),
            ("client_secret", &creds.client_secret),
            ("scope", "no-such-permission"),
        ])
        .send()
        .await;
    assert_eq!(posted.status, StatusCode::BAD_REQUEST);
    for _ in 0..3 {
        assert_eq!(app.whoami(&token).await.status, StatusCode::OK);
    }
    let acct_path = format!("/api/v1/service-accounts/{}", creds.id);
    let _ = app.get(&acct_path).bearer(&token).send().await;
    let _ = app.get("/no/such/page/billing-exporter").send().await;
    console_user(&app, "operator", &["Administrator"]).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("operator", "not the password").await;
    browser.sign_in("operator", crate::console::PASSWORD).await;

    let (text, s) = scrape(&app).await;
    let issued = [("result", "issued"), ("method", "client_secret_basic")];
    assert_eq!(number(&s, "keygate_token_requests_total", &issued), 1.0);
    let bad = [
        ("result", "invalid_client"),
        ("method", "client_secret_basic"),
    ];
    assert_eq!(number(&s, "keygate_token_requests_total", &bad), 1.0);
    let scope = [
        ("result", "invalid_scope"),
        ("method", "client_secret_post"),
    ];
    assert_eq!(number(&s, "keygate_token_requests_total", &scope), 1.0);
    let ok = [("route", "/oauth/token"), ("status", "200")];
    assert_eq!(number(&s, "keygate_http_requests_total", &ok), 1.0);
    // prometheus-parse stops a label value at `}`, so the pattern is checked in the text.
    assert!(
        text.contains(
            r#"keygate_http_requests_total{route="/api/v1/service-accounts/{id}",status="#
        ),
        "{text}"
    );
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(number(&s, "keygate_http_requests_total", &unmatched), 1.0);
    assert!(number(&s, "keygate_verified_token_cache_hits_total", &[]) >= 2.0);
    assert!(number(&s, "keygate_cached_accounts", &[]) >= 1.0);
    assert!(number(&s, "keygate_change_feed_lag_seconds", &[]) < 5.0);
    assert!(number(&s, "keygate_client_auth_failures_total", &[]) >= 1.0);
    assert!(number(&s, "keygate_db_pool_connections", &[("state", "max")]) >= 1.0);
    for state in ["in_use", "idle"] {
        number(&s, "keygate_db_pool_connections", &[("state", state)]);
    }
    let sign_in = |result| number(&s, "keygate_console_sign_ins_total", &[("result", result)]);
    assert_eq!(sign_in("failure"), 1.0);
    assert_eq!(sign_in("success"), 1.0);

    // The duration is a real histogram with the configured buckets, per route pattern.
    let duration = find(
        &s,
        "keygate_http_request_duration_seconds",
        &[("route", "/oauth/token")],
    )
    .expect("a duration histogram for the token route");
    let Value::Histogram(buckets) = &duration.value else {
        panic!("not a histogram: {:?}", duration.value);
    };
    let bounds: Vec<f64> = buckets.iter().map(|b| b.less_than).collect();
    assert!(
        bounds.contains(&0.001) && bounds.contains(&1.0),
        "{bounds:?}"
    );
    // Three token requests: issued, invalid_client, invalid_scope.
    assert_eq!(buckets.last().unwrap().count, 3.0, "{buckets:?}");

    // No label names an account, a client, a token, a secret or the raw path.
    let forbidden = [
        creds.name.as_str(),
        creds.client_id.as_str(),
        creds.id.as_str(),
        creds.client_secret.as_str(),
        token.as_str(),
        "operator",
    ];
    for f in forbidden {
        assert!(!text.contains(f), "{f} appears in the metrics:\n{text}");
    }
    for sample in &s.samples {
        for (k, v) in sample.labels.iter() {
            assert!(
                !forbidden.iter().any(|f| v.contains(f)),
                "{} has {k}={v}",
                sample.metric
            );
            if k == "route" {
                assert!(v.starts_with('/') || v == "unmatched", "route {v}");
            }
        }
    }
}

#[tokio::test]
async fn readyz_is_200_while_the_database_answers_and_503_naming_it_when_not() {
    let app = TestApp::spawn().await;
    let res = app.get("/readyz").send().await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["status"], "ready");
    assert_eq!(res.json()["failed"], serde_json::json!([]));

    app.state.store.close().await;
    let res = app.get("/readyz").send().await;
    assert_eq!(
        res.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        res.text()
    );
    let body = res.json();
    assert_eq!(body["status"], "not_ready");
    assert!(
        body["failed"]
            .as_array()
            .unwrap()
            .contains(&"database".into()),
        "{body}"
    );
    assert_eq!(body["checks"]["database"]["ok"], false, "{body}");
    // Liveness is another question: the process still answers.
    assert_eq!(app.get("/healthz").send().await.status, StatusCode::OK);
}

#[tokio::test]
async fn readyz_is_503_naming_the_change_feed_once_it_is_5_s_behind() {
    let app = TestApp::builder().without_follower().start().await;
    assert_eq!(app.get("/readyz").send().await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(5_200)).await;
    let res = app.get("/readyz").send().await;
    assert_eq!(
        res.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        res.text()
    );
    let body = res.json();
    assert_eq!(body["failed"], serde_json::json!(["change_feed"]), "{body}");
    assert_eq!(body["checks"]["database"]["ok"], true, "{body}");
    assert!(
        body["checks"]["change_feed"]["lag_seconds"]
            .as_f64()
            .unwrap()
            >= 5.0
    );
}

#[tokio::test]
async fn with_metrics_bind_metrics_leave_the_public_router_for_their_own() {
    let app = TestApp::spawn().await;
    let mut config = app.state.config.clone();
    config.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let state = App::build(config).await.unwrap();
    let request = || {
        axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let public = keygate::web::router(state.clone());
    let res = public.oneshot(request()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let private = keygate::web::metrics::metrics_only(state);
    let res = private.oneshot(request()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
