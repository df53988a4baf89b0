//! Client-authentication brute-force backoff (issue 15): wrong secrets from one address are
//! throttled after the threshold while the right secret from another address is served every
//! time; the wait grows; a success resets; `--trusted-proxies` decides whose forwarded
//! addresses count; failures become one aggregated audit event per account.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use keygate::app::{App, AppState};
use keygate::store::audit::{AuditFilter, list};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::helpers::{Creds, Resp, TestApp};

const ATTACKER: &str = "198.51.100.1:40000";
const RIGHTFUL: &str = "192.0.2.10:50000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

async fn attempt(app: &TestApp, creds: &Creds, secret: &str, from: &str) -> Resp {
    app.post("/oauth/token")
        .basic_pair(&creds.client_id, secret)
        .form(&[("grant_type", "client_credentials")])
        .sent_from(addr(from))
        .send()
        .await
}

#[track_caller]
fn assert_throttled(res: &Resp) {
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
    assert_eq!(
        res.json(),
        json!({"error": "invalid_client", "error_description": "too many failed attempts; retry later"})
    );
    let wait: u64 = res
        .header(axum::http::header::RETRY_AFTER)
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1, "Retry-After {wait}");
}

#[tokio::test]
async fn wrong_secrets_from_one_address_are_throttled_while_the_rightful_client_is_served() {
    let app = TestApp::spawn().await;
    let creds = app.account("victim").create().await;
    for i in 0..40 {
        let res = attempt(&app, &creds, "kgs_guess", ATTACKER).await;
        if i < 10 {
            assert_eq!(
                res.status,
                StatusCode::UNAUTHORIZED,
                "attempt {i}: {}",
                res.text()
            );
        } else {
            assert_throttled(&res);
        }
        let ok = attempt(&app, &creds, &creds.client_secret, RIGHTFUL).await;
        assert_eq!(
            ok.status,
            StatusCode::OK,
            "rightful request {i}: {}",
            ok.text()
        );
    }
    // While it backs off, the attacker's address gets 429 even with the right secret: the
    // secret is not checked.
    assert_throttled(&attempt(&app, &creds, &creds.client_secret, ATTACKER).await);

    let metrics = app.get("/metrics").send().await.text();
    for line in [
        r#"keygate_token_requests_total{result="throttled",method="client_secret_basic"} 31"#,
        r#"keygate_token_requests_total{result="invalid_client",method="client_secret_basic"} 10"#,
        r#"keygate_token_requests_total{result="issued",method="client_secret_basic"} 40"#,
        "keygate_client_auth_failures_total 10",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}

#[tokio::test]
async fn the_wait_grows_while_the_failures_go_on() {
    let app = TestApp::spawn().await;
    let creds = app.account("victim").create().await;
    for _ in 0..10 {
        attempt(&app, &creds, "kgs_guess", ATTACKER).await;
    }
    let res = attempt(&app, &creds, "kgs_guess", ATTACKER).await;
    assert_throttled(&res);
    assert_eq!(res.header(axum::http::header::RETRY_AFTER), Some("1"));
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let res = attempt(&app, &creds, "kgs_guess", ATTACKER).await;
    assert_eq!(
        res.status,
        StatusCode::UNAUTHORIZED,
        "checked again once the wait is over"
    );
    let res = attempt(&app, &creds, "kgs_guess", ATTACKER).await;
    assert_throttled(&res);
    assert_eq!(res.header(axum::http::header::RETRY_AFTER), Some("2"));
}

#[tokio::test]
async fn a_success_from_the_address_resets_its_count() {
    let app = TestApp::spawn().await;
    let creds = app.account("forgetful").create().await;
    for _ in 0..9 {
        attempt(&app, &creds, "kgs_typo", ATTACKER).await;
    }
    let ok = attempt(&app, &creds, &creds.client_secret, ATTACKER).await;
    assert_eq!(ok.status, StatusCode::OK);
    for i in 0..9 {
        let res = attempt(&app, &creds, "kgs_typo", ATTACKER).await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "attempt {i} after the success"
        );
    }
}

#[tokio::test]
async fn one_address_trying_many_client_ids_is_throttled_after_100() {
    let app = TestApp::spawn().await;
    let creds = app.account("bystander").create().await;
    for i in 0..100 {
        let res = app
            .post("/oauth/token")
            .basic_pair(&format!("kgc_spray{i}"), "kgs_guess")
            .form(&[("grant_type", "client_credentials")])
            .sent_from(addr(ATTACKER))
            .send()
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_throttled(&attempt(&app, &creds, &creds.client_secret, ATTACKER).await);
    let ok = attempt(&app, &creds, &creds.client_secret, RIGHTFUL).await;
    assert_eq!(ok.status, StatusCode::OK);
}

/// Another instance over `app`'s database that trusts `proxies`.
async fn behind_proxies(app: &TestApp, proxies: &[&str]) -> AppState {
    let mut config = app.state.config.clone();
    config.trusted_proxies = proxies.iter().map(|p| p.parse().unwrap()).collect();
    App::build(config).await.unwrap()
}

async fn via_proxy(state: &AppState, creds: &Creds, secret: &str, forwarded_for: &str) -> u16 {
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{secret}", creds.client_id),
    );
    let req = Request::post("/oauth/token")
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", forwarded_for)
        .extension(axum::extract::ConnectInfo(addr("10.0.0.2:443")))
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    keygate::web::router(state.clone())
        .oneshot(req)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_source() {
    let app = TestApp::spawn().await;
    let creds = app.account("proxied").create().await;
    let state = behind_proxies(&app, &["10.0.0.0/8"]).await;
    for i in 0..15 {
        let status = via_proxy(&state, &creds, "kgs_guess", "198.51.100.1").await;
        assert_eq!(status, if i < 10 { 401 } else { 429 }, "attempt {i}");
        let ok = via_proxy(&state, &creds, &creds.client_secret, "192.0.2.10").await;
        assert_eq!(ok, 200, "the rightful client behind the same proxy, {i}");
    }
}

#[tokio::test]
async fn forwarded_addresses_from_an_untrusted_peer_are_ignored() {
    let app = TestApp::spawn().await;
    let creds = app.account("direct").create().await;
    let state = behind_proxies(&app, &[]).await;
    // Each attempt claims another address, but they all come from the one peer.
    for i in 0..11 {
        let status = via_proxy(&state, &creds, "kgs_guess", &format!("203.0.113.{i}")).await;
        assert_eq!(status, if i < 10 { 401 } else { 429 }, "attempt {i}");
    }
}

#[tokio::test]
async fn failures_become_one_audit_event_per_account_with_the_addresses() {
    let app = TestApp::spawn().await;
    let creds = app.account("audited").create().await;
    for _ in 0..12 {
        attempt(&app, &creds, "kgs_guess", ATTACKER).await;
    }
    attempt(&app, &creds, "kgs_guess", RIGHTFUL).await;
    let s = &app.state;
    let written = keygate::oauth::backoff::audit_failures(&s.backoff, &s.oauth, &s.store)
        .await
        .unwrap();
    assert_eq!(written, 1);
    let filter = AuditFilter {
        action: Some("client_auth.failed".into()),
        limit: 10,
        ..AuditFilter::default()
    };
    let events = list(s.store.pool(), &filter).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.target_id, creds.id);
    let detail: Value = serde_json::from_str(&e.detail).unwrap();
    assert_eq!(detail["failures"], 11, "{detail}");
    assert_eq!(detail["throttled"], 2, "{detail}");
    assert_eq!(detail["addresses"], json!(["192.0.2.10", "198.51.100.1"]));
    // The tally starts over: nothing more to write.
    let again = keygate::oauth::backoff::audit_failures(&s.backoff, &s.oauth, &s.store)
        .await
        .unwrap();
    assert_eq!(again, 0);
}
