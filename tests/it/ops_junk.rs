//! The junk sweep (issue 15): thousands of malformed requests over every route — garbled
//! forms, JSON and headers, huge parameters, invalid UTF-8, odd methods — sent as raw bytes
//! to a real server, signed in and not. None may get a 5xx, and the server must be healthy
//! at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::console::{Browser, PASSWORD, console_user, csrf_of};
use crate::helpers::TestApp;

/// Console routes (the REST API's come from its OpenAPI document).
const CONSOLE: &[&str] = &[
    "/",
    "/login",
    "/settings",
    "/settings/service-accounts",
    "/settings/service-accounts/new",
    "/settings/service-accounts/{id}",
    "/settings/service-accounts/{id}/enabled",
    "/settings/service-accounts/{id}/edit",
    "/settings/service-accounts/{id}/regenerate",
    "/settings/service-accounts/{id}/delete",
    "/settings/service-accounts/{id}/keys",
    "/settings/service-accounts/{id}/keys/{kid}/delete",
    "/settings/service-accounts/{id}/sessions/revoke",
    "/settings/service-accounts/{id}/sessions/revoke-all",
    "/settings/roles",
    "/settings/roles/new",
    "/settings/roles/{id}/edit",
    "/settings/roles/{id}/delete",
    "/settings/groups",
    "/settings/groups/new",
    "/settings/groups/{id}/edit",
    "/settings/groups/{id}/delete",
    "/settings/users",
    "/settings/users/{id}/enabled",
    "/settings/users/{id}/roles",
    "/settings/audit",
    "/settings/signing-keys",
    "/settings/signing-keys/rotate",
];

/// Everything else a server answers.
const OTHERS: &[&str] = &[
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/.well-known/jwks.json",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/api/openapi.json",
    "/metrics",
    "/readyz",
    "/healthz",
    "/favicon.ico",
    "/static/console.css",
    "/static/{id}",
    "/nope/{id}",
];

/// One raw request.
struct Junk {
    method: Vec<u8>,
    target: Vec<u8>,
    headers: Vec<Vec<u8>>,
    body: Vec<u8>,
}

/// Who sends it.
#[derive(Clone)]
struct Auth {
    bearer: String,
    basic: String,
    cookie: String,
    csrf: String,
}

fn fill(route: &str, value: &str) -> String {
    route
        .replace("{id}", value)
        .replace("{kid}", value)
        .replace("{jti}", value)
}

/// The requests for one route.
fn junk_for(route: &str, methods: &[String], ids: &[String], auth: &Auth) -> Vec<Junk> {
    let mut out = Vec::new();
    let huge = "a".repeat(60_000);
    let mut values: Vec<String> = ids.to_vec();
    values.extend(
        [
            "%FF%FE",
            "%00",
            "%",
            "%zz",
            "..%2F..%2Fetc%2Fpasswd",
            "%F0%9F%98%80",
            "'%20or%201=1--",
            &"b".repeat(5000),
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    let forms: Vec<Vec<u8>> = vec![
        b"a=%ZZ&&=&csrf".to_vec(),
        [b"csrf=".as_slice(), auth.csrf.as_bytes(), b"&name=\xff\xfe&description=%FF&roles=\x00"]
            .concat(),
        [b"csrf=".as_slice(), auth.csrf.as_bytes(), b"&grant_type=client_credentials&scope=", huge.as_bytes()]
            .concat(),
        [b"csrf=".as_slice(), auth.csrf.as_bytes(), b"&enabled=maybe&token_lifetime_secs=99999999999999999999999&grace_period_seconds=-1&grace_amount=1e999&grace_unit=years&step=9&role=nope&permissions=%22%5C"]
            .concat(),
        [b"csrf=".as_slice(), auth.csrf.as_bytes(), b"&username=&password=&role_id=%FF&jti=x&token=", huge.as_bytes()]
            .concat(),
        b"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=e30.e30.".to_vec(),
        b"\xff\xfe\xfd".to_vec(),
    ];
    let jsons: Vec<Vec<u8>> = vec![
        b"{\"name\":".to_vec(),
        b"{\"name\":1,\"roles\":\"x\",\"token_lifetime_secs\":\"x\",\"enabled\":\"yes\"}".to_vec(),
        format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)).into_bytes(),
        b"{\"name\":\"\xff\xfe\"}".to_vec(),
        format!("{{\"name\":\"{huge}\",\"description\":\"{huge}\",\"roles\":[\"{huge}\"]}}").into_bytes(),
        b"{\"jwks\":{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%%\",\"y\":1}]},\"public_key\":\"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\",\"expires_at\":\"yesterday\"}".to_vec(),
        b"null".to_vec(),
        b"{\"permissions\":[\"\",\"a b\",null],\"members\":{\"x\":1},\"grace_period_seconds\":-5,\"limit\":1e400}".to_vec(),
    ];
    let queries = [
        "?q=%FF%FE&limit=-1&cursor=abc&enabled=maybe&status=%00".to_owned(),
        format!("?q={huge}&action={huge}&actor={huge}&target={huge}"),
        "?since=99999999999999999999999&until=-99999999999999999999&limit=1e9&cursor=-1".to_owned(),
        "?since=2026-13-45&until=x&page=%&next=%2F%2Fevil.example".to_owned(),
        "?step=%FF&name=%00&a=%zz".to_owned(),
    ];
    let header_sets: Vec<Vec<Vec<u8>>> = vec![
        vec![],
        vec![format!("Authorization: Bearer {}", auth.bearer).into_bytes()],
        vec![format!("Cookie: kg_session={}", auth.cookie).into_bytes()],
        vec![
            format!("Cookie: kg_session={}", auth.cookie).into_bytes(),
            b"HX-Request: true".to_vec(),
            b"HX-Current-URL: http://\xff/%%".to_vec(),
            b"HX-Target: \xff".to_vec(),
        ],
        vec![format!("Authorization: Basic {}", auth.basic).into_bytes()],
        vec![
            b"Authorization: Bearer \xff\xfe".to_vec(),
            b"Cookie: kg_session=\xff; kg_notice=%FF%".to_vec(),
        ],
        vec![
            format!("Authorization: Basic {}", STANDARD.encode(b"\xff\xfe:\x00")).into_bytes(),
            b"X-Forwarded-For: ::::, 999.1.1.1, \xff".to_vec(),
            b"Forwarded: for=\"[::1\";proto=\xff".to_vec(),
            b"X-Request-Id: \xff\xfe".to_vec(),
        ],
        vec![
            b"Authorization: Basic !!!!".to_vec(),
            b"Authorization: Bearer a.b.c".to_vec(),
        ],
        vec![format!("Cookie: {}", "kg_session=x; ".repeat(2000)).into_bytes()],
    ];
    let content_types: [&[u8]; 5] = [
        b"application/x-www-form-urlencoded",
        b"application/json",
        b"application/json; charset=\xff",
        b"multipart/form-data; boundary=",
        b"text/plain",
    ];

    for (i, v) in values.iter().enumerate() {
        let path = fill(route, v);
        for k in 0..2 {
            let method = ["GET", "POST", "DELETE", "PATCH"][(i + k) % 4];
            let headers = header_sets[(i * 2 + k) % header_sets.len()].clone();
            out.push(Junk {
                method: method.into(),
                target: path.clone().into_bytes(),
                headers,
                body: Vec::new(),
            });
        }
    }
    let base = fill(route, &ids[0]);
    for (i, q) in queries.iter().enumerate() {
        for (k, headers) in header_sets[1..4].iter().enumerate() {
            out.push(Junk {
                method: methods[(i + k) % methods.len()].clone().into_bytes(),
                target: format!("{base}{q}").into_bytes(),
                headers: headers.clone(),
                body: Vec::new(),
            });
        }
    }
    for (i, body) in forms.iter().chain(jsons.iter()).enumerate() {
        // Signed in both ways, and one of the garbled header sets.
        let garbled = 4 + i % (header_sets.len() - 4);
        for j in [1, 3, garbled] {
            let headers = &header_sets[j];
            let ct = content_types[(i + j) % content_types.len()];
            let mut headers = headers.clone();
            headers.push([b"Content-Type: ".as_slice(), ct].concat());
            out.push(Junk {
                method: methods[(i + j) % methods.len()].clone().into_bytes(),
                target: base.clone().into_bytes(),
                headers,
                body: body.clone(),
            });
        }
    }
    // Odd methods, raw invalid UTF-8 in the path, a huge body.
    for method in [
        &b"PUT"[..],
        b"OPTIONS",
        b"TRACE",
        b"HEAD",
        b"FOO",
        b"CONNECT",
        b"G\xffT",
    ] {
        out.push(Junk {
            method: method.to_vec(),
            target: base.clone().into_bytes(),
            headers: header_sets[2].clone(),
            body: b"x=1".to_vec(),
        });
    }
    out.push(Junk {
        method: b"GET".to_vec(),
        target: [base.as_bytes(), b"/\xff\xfe?\xff=\xfe"].concat(),
        headers: header_sets[1].clone(),
        body: Vec::new(),
    });
    out.push(Junk {
        method: b"POST".to_vec(),
        target: base.clone().into_bytes(),
        headers: vec![
            format!("Cookie: kg_session={}", auth.cookie).into_bytes(),
            b"Content-Type: application/x-www-form-urlencoded".to_vec(),
        ],
        body: [
            b"csrf=".as_slice(),
            auth.csrf.as_bytes(),
            b"&x=",
            "y".repeat(2_000_000).as_bytes(),
        ]
        .concat(),
    });
    out
}

/// Sends `junk` on a fresh connection; the status, or `None` if the connection broke
/// before a status line (the server may refuse a body it will not read).
async fn send(addr: std::net::SocketAddr, junk: &Junk) -> Option<(u16, Vec<u8>)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut req = Vec::with_capacity(junk.body.len() + 512);
    req.extend_from_slice(&junk.method);
    req.push(b' ');
    req.extend_from_slice(&junk.target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for h in &junk.headers {
        req.extend_from_slice(h);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", junk.body.len()).as_bytes());
    req.extend_from_slice(&junk.body);
    // A refused body may reset the connection mid-write: read what came back anyway.
    let _ = stream.write_all(&req).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    let line = std::str::from_utf8(buf.get(..12)?).ok()?;
    let status = line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let body_at = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some((status, buf[body_at..].to_vec()))
}

/// Whether an error answer has the shape of its surface: `{"error","message"}` at /api/,
/// an RFC 6749 `{"error"}` at /oauth/. Aside: 405s, HEAD (no body), and what hyper refuses
/// before any route sees it (bytes that are not a method or a URI, huge URIs and bodies).
fn well_shaped(junk: &Junk, status: u16, body: &[u8]) -> bool {
    let target = junk.target.as_slice();
    if !(400..500).contains(&status)
        || [405, 413, 414].contains(&status)
        || junk.method == b"HEAD"
        || !junk.method.is_ascii()
        || !target.is_ascii()
    {
        return true;
    }
    let json = || serde_json::from_slice::<serde_json::Value>(body).ok();
    if target.starts_with(b"/api/v1/") {
        json().is_some_and(|v| v["error"].is_string() && v["message"].is_string())
    } else if target.starts_with(b"/oauth/") {
        json().is_some_and(|v| v["error"].is_string())
    } else {
        true
    }
}

#[tokio::test]
async fn thousands_of_malformed_requests_over_every_route_get_no_5xx() {
    let started = Instant::now();
    let app = TestApp::builder().serving().start().await;
    let addr = app.addr.unwrap();
    let admin = app.account("root").roles(&["Administrator"]).create().await;
    let target = app.account("target").create().await;
    let bearer = app.token(&admin).await;
    console_user(&app, "admin", &["Administrator"]).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("admin", PASSWORD).await;
    let page = browser.get("/settings/service-accounts").await;
    let csrf = csrf_of(&page.text());
    let cookie = browser
        .cookie_header()
        .split("; ")
        .find_map(|c| c.strip_prefix("kg_session="))
        .unwrap()
        .to_owned();
    let auth = Auth {
        bearer,
        basic: STANDARD.encode(format!("{}:{}", admin.client_id, admin.client_secret)),
        cookie,
        csrf,
    };
    let ids = vec![
        target.id.clone(),
        "builtin-auditor".to_owned(),
        target.client_id.clone(),
    ];

    let doc = app.get("/api/openapi.json").send().await.json();
    let mut routes: Vec<(String, Vec<String>)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, ops)| {
            let methods = ops
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect();
    routes.extend(
        CONSOLE
            .iter()
            .chain(OTHERS)
            .map(|r| ((*r).to_owned(), vec!["POST".to_owned(), "GET".to_owned()])),
    );

    let mut all = Vec::new();
    for (route, methods) in &routes {
        for j in junk_for(route, methods, &ids, &auth) {
            all.push((route.clone(), j));
        }
    }
    // Signing out would end the session the rest use: last.
    all.push((
        "/logout".into(),
        Junk {
            method: b"POST".to_vec(),
            target: b"/logout".to_vec(),
            headers: vec![
                format!("Cookie: kg_session={}", auth.cookie).into_bytes(),
                b"Content-Type: application/x-www-form-urlencoded".to_vec(),
            ],
            body: b"csrf=%FF".to_vec(),
        },
    ));
    let total = all.len();
    assert!(total > 3000, "{total} requests");

    let all = Arc::new(all);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (all, next) = (all.clone(), next.clone());
        workers.spawn(async move {
            let mut failures = Vec::new();
            let mut answered = std::collections::BTreeMap::<u16, usize>::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((route, junk)) = all.get(i) else {
                    break;
                };
                match send(addr, junk).await {
                    Some((status, body)) if status >= 500 || !well_shaped(junk, status, &body) => {
                        failures.push(format!(
                        "{status} {} {} ({route}) headers {:?} body {:?}",
                        String::from_utf8_lossy(&junk.method),
                        String::from_utf8_lossy(&junk.target[..junk.target.len().min(120)]),
                        junk.headers
                            .iter()
                            .map(|h| String::from_utf8_lossy(&h[..h.len().min(80)]).into_owned())
                            .collect::<Vec<_>>(),
                        String::from_utf8_lossy(&junk.body[..junk.body.len().min(120)]),
                    ));
                    }
                    Some((status, _)) => *answered.entry(status).or_default() += 1,
                    None => {}
                }
            }
            (failures, answered)
        });
    }
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    while let Some(done) = workers.join_next().await {
        let (f, a) = done.unwrap();
        failures.extend(f);
        for (status, n) in a {
            *statuses.entry(status).or_default() += n;
        }
    }
    let answered: usize = statuses.values().sum();
    // Signed in, many requests get past authentication to the handlers' own checks.
    let ok = statuses.range(200..400).map(|(_, n)| n).sum::<usize>();
    assert!(ok * 10 > total, "statuses {statuses:?}");
    assert!(
        failures.is_empty(),
        "{} of {total} requests got a 5xx:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        answered * 10 >= total * 9,
        "only {answered} of {total} answered"
    );
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    // The server still works: a token, and the signed-in console.
    assert!(!app.token(&admin).await.is_empty());
    eprintln!(
        "junk sweep: {total} requests in {:?}, statuses {statuses:?}",
        started.elapsed()
    );
}
