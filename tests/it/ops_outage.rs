//! After an outage (issue 15): while PostgreSQL cannot be reached, writes answer 503 with
//! `Retry-After`; once it is back, they succeed again at once, without a restart.
//!
//! The outage is made by a TCP proxy between keygate and PostgreSQL that cuts every
//! connection and refuses new ones, then lets them through again: reliable in CI, and it
//! touches neither the server nor the other tests sharing it. SQLite has no connection to
//! cut (an open file stays usable whatever its mode), so this runs on PostgreSQL only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{TestApp, postgres_url};

/// A TCP proxy that can be cut and restored.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn to(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, links2) = (up.clone(), links.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    // Down: the connection is closed at once, as by a dead server.
                    drop(client);
                    continue;
                }
                let target = target.clone();
                links2.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Self {
            addr,
            up,
            links,
            accept,
        }
    }

    /// Cuts every connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

#[tokio::test]
async fn writes_answer_503_during_an_outage_and_succeed_again_once_the_database_is_back() {
    let Some(pg) = postgres_url() else {
        eprintln!("skipped: needs TEST_DATABASE_URL (PostgreSQL)");
        return;
    };
    let direct = TestApp::spawn().await;
    let parsed = url::Url::parse(&pg).unwrap();
    let target = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(5432)
    );
    let proxy = Proxy::to(target.clone()).await;
    let via_proxy = direct.db.url.replacen(&target, &proxy.addr.to_string(), 1);
    assert_ne!(via_proxy, direct.db.url, "the URL names {target}");
    let app = direct
        .instance_builder()
        .database_url(via_proxy)
        .without_follower()
        .start()
        .await;
    let admin = app.account("root").roles(&["Administrator"]).create().await;
    let token = app.token(&admin).await;
    let create = async |name: &str| {
        app.post("/api/v1/service-accounts")
            .bearer(&token)
            .json(&json!({ "name": name }))
            .send()
            .await
    };
    assert_eq!(create("before").await.status, StatusCode::CREATED);

    proxy.cut();
    let started = Instant::now();
    let res = create("during").await;
    res.assert_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(res.header(header::RETRY_AFTER), Some("5"));
    assert!(started.elapsed() < Duration::from_secs(15));
    // The token endpoint keeps serving from memory meanwhile.
    assert!(!app.token(&admin).await.is_empty());

    proxy.restore();
    let res = create("after").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    for name in ["after-2", "after-3"] {
        assert_eq!(create(name).await.status, StatusCode::CREATED);
    }
    // Nothing was half-written during the outage.
    let list = app
        .get("/api/v1/service-accounts?q=during")
        .bearer(&token)
        .send()
        .await
        .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
}
