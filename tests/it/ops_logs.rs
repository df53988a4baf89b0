//! Request logs (issue 15): one line per request with method, route, status, duration and
//! request id; `x-request-id` kept or generated and returned; JSON lines on request; and no
//! secret, token, password or cookie in any line of a whole run at trace level.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use keygate::logging::{Format, subscriber};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::console::{PASSWORD, console_user};
use crate::helpers::TestApp;

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Captured {
    type Writer = Self;
    fn make_writer(&'w self) -> Self {
        self.clone()
    }
}

/// Captures this test's logs (the runtime of a `#[tokio::test]` is this one thread).
fn capture(format: Format, filter: &str) -> (Captured, tracing::subscriber::DefaultGuard) {
    let out = Captured::default();
    let sub = subscriber(format, EnvFilter::new(filter), out.clone(), false);
    let guard = tracing::subscriber::set_default(sub);
    // Other tests running at the same time may have cached "nobody listens" for callsites
    // (when no subscriber was in place on their thread): ask every callsite again.
    tracing::callsite::rebuild_interest_cache();
    (out, guard)
}

#[tokio::test]
async fn each_request_logs_one_info_line_with_its_route_status_and_request_id() {
    let (logs, _guard) = capture(Format::Text, "keygate=info,warn");
    let app = TestApp::spawn().await;
    let creds = app.account("logged").create().await;
    let res = app
        .get(&format!("/api/v1/service-accounts/{}", creds.id))
        .header("x-request-id", "trace-me-42")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.header("x-request-id".parse().unwrap()),
        Some("trace-me-42")
    );
    let lines: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("request_id=trace-me-42"))
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}\n{}", logs.text());
    let line = &lines[0];
    for part in [
        " INFO ",
        "method=GET",
        "route=/api/v1/service-accounts/{id}",
        "status=401",
        "duration_ms=",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    assert!(!line.contains(&creds.id), "the raw path is logged: {line}");

    // Without one, a UUID is made and returned.
    let res = app.get("/healthz").send().await;
    let id = res
        .header("x-request-id".parse().unwrap())
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert!(logs.text().contains(&format!("request_id={id}")));
    // An absurd one is replaced.
    let res = app
        .get("/healthz")
        .header("x-request-id", "x".repeat(500))
        .send()
        .await;
    let id = res.header("x-request-id".parse().unwrap()).unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn json_format_writes_one_object_per_line_with_the_request_fields() {
    let (logs, _guard) = capture(Format::Json, "keygate=info,warn");
    let app = TestApp::spawn().await;
    let res = app
        .get("/healthz")
        .header("x-request-id", "json-1")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let text = logs.text();
    let mut found = None;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v["span"]["request_id"] == "json-1" {
            found = Some(v);
        }
    }
    let v = found.unwrap_or_else(|| panic!("no line of the request in {text}"));
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["fields"]["status"], 200);
    assert_eq!(v["span"]["route"], "/healthz");
    assert_eq!(v["span"]["method"], "GET");
    assert!(v["fields"]["duration_ms"].is_number());
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of every `Set-Cookie` of a response.
fn cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_whole_run_at_trace_level_logs_no_secret_token_password_or_cookie() {
    let (logs, _guard) = capture(Format::Text, "trace");
    let app = TestApp::builder().serving().start().await;
    let base = app.base_url();
    let client = http();
    let admin = app.account("root").roles(&["Administrator"]).create().await;
    let mut secrets: Vec<String> = vec![admin.client_secret.clone()];

    let token_of = |res: Value| res["access_token"].as_str().unwrap().to_owned();
    let admin_token = token_of(
        client
            .post(format!("{base}/oauth/token"))
            .basic_auth(&admin.client_id, Some(&admin.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    );
    secrets.push(admin_token.clone());
    let created: Value = client
        .post(format!("{base}/api/v1/service-accounts"))
        .bearer_auth(&admin_token)
        .json(&json!({"name": "worker", "roles": ["Token Introspector"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, client_id) = (
        created["id"].as_str().unwrap(),
        created["client_id"].as_str().unwrap(),
    );
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    secrets.push(secret.clone());

    let form_token = token_of(
        client
            .post(format!("{base}/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", &secret),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    );
    let json_token = token_of(
        client
            .post(format!("{base}/oauth/token"))
            .json(&json!({"client_id": client_id, "client_secret": secret}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    );
    secrets.extend([form_token.clone(), json_token.clone()]);
    let wrong = "kgs_this-is-a-wrong-secret-that-must-not-be-logged";
    secrets.push(wrong.to_owned());
    let res = client
        .post(format!("{base}/oauth/token"))
        .basic_auth(client_id, Some(wrong))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    for (path, form) in [
        ("/oauth/introspect", vec![("token", form_token.as_str())]),
        ("/oauth/revoke", vec![("token", json_token.as_str())]),
    ] {
        let res = client
            .post(format!("{base}{path}"))
            .basic_auth(client_id, Some(&secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let res = client
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(&json_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a revoked token");
    let regenerated: Value = client
        .post(format!("{base}/api/v1/service-accounts/{id}/regenerate"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    secrets.push(regenerated["client_secret"].as_str().unwrap().to_owned());

    // The console: a password sign-in and a page with the session cookie.
    console_user(&app, "operator", &["Administrator"]).await;
    let login = client.get(format!("{base}/login")).send().await.unwrap();
    let mut jar = cookies(&login);
    let page = login.text().await.unwrap();
    let csrf = crate::console::csrf_of(&page);
    let res = client
        .post(format!("{base}/login"))
        .header("cookie", jar.join("; "))
        .form(&[
            ("csrf", csrf.as_str()),
            ("next", "/settings/service-accounts"),
            ("username", "operator"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    jar.extend(cookies(&res));
    let res = client
        .get(format!("{base}/settings/service-accounts"))
        .header("cookie", jar.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    secrets.push(PASSWORD.to_owned());
    secrets.push(csrf);
    for c in &jar {
        let value = c.split_once('=').unwrap().1;
        if !value.is_empty() {
            secrets.push(value.to_owned());
        }
    }

    app.state.oauth.flush_usage().await.unwrap();
    let text = logs.text();
    // The run was logged, down to the HTTP server's trace lines and, on PostgreSQL, the
    // database's (SQLite runs its queries on a worker thread this capture does not see).
    // The request span's fields (route=…) are checked by the test above: with the whole
    // suite running, tracing may keep a span callsite's interest from another thread, so
    // they are not required here, where what matters is that nothing secret appears.
    // keygate's own request line is not required either: with the whole suite running on
    // PostgreSQL its callsite's interest is sometimes settled by another test's thread
    // (seen failing about one run in two there, never alone); the request-line test above
    // checks it. hyper's trace lines show the capture saw this run's requests.
    // The same holds for sqlx's query lines on PostgreSQL (seen missing in a full run).
    assert!(text.contains("hyper"), "no hyper line in the logs: {text}");
    for s in &secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s.as_str()), "{s} appears in the logs");
        // Not even its encoded forms (HTTP Basic, form encoding).
        let half = &s[..s.len() / 2];
        assert!(!text.contains(half), "half of {s} appears in the logs");
    }
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", admin.client_id, admin.client_secret),
    );
    assert!(
        !text.contains(&basic),
        "an Authorization header appears in the logs"
    );
}
