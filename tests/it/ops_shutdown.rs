//! Graceful shutdown under load (issue 15): SIGTERM to `keygate serve` while clients fetch
//! tokens fails no request the server had taken, and what was pending in memory (last-used
//! times, issued-token sessions) is in the database once the process has exited.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::helpers::TestApp;

/// Starts `keygate serve` over `app`'s database on a free port; the child and its URL.
fn serve(app: &TestApp) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygate"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEYGATE_") {
            cmd.env_remove(name);
        }
    }
    let child = cmd
        .env("KEYGATE_DATABASE_URL", &app.db.url)
        .env("KEYGATE_MASTER_KEY", &app.master_key)
        .env("KEYGATE_BIND", format!("127.0.0.1:{port}"))
        .env("KEYGATE_LOG", "warn")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run keygate serve");
    (child, format!("http://127.0.0.1:{port}"))
}

#[derive(Debug, Default)]
struct Tally {
    issued: Vec<String>,
    bad_status: Vec<u16>,
    /// Requests sent on a connection that broke without an answer.
    broken: Vec<String>,
}

#[tokio::test]
async fn sigterm_during_a_token_load_fails_no_request_and_flushes_what_was_pending() {
    let app = TestApp::builder().without_follower().start().await;
    let creds = app.account("loaded").create().await;
    let (mut child, url) = serve(&app);
    let client = reqwest::Client::new();
    let up = crate::helpers::eventually(Duration::from_secs(20), async || {
        client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(up, "keygate serve did not start");

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(std::sync::Mutex::new(Tally::default()));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (url, creds, stop, tally) =
                (url.clone(), creds.clone(), stop.clone(), tally.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    let res = client
                        .post(format!("{url}/oauth/token"))
                        .basic_auth(&creds.client_id, Some(&creds.client_secret))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status() == 200 => {
                            let body: serde_json::Value = r.json().await.unwrap();
                            let token = body["access_token"].as_str().unwrap().to_owned();
                            tally.lock().unwrap().issued.push(token);
                        }
                        Ok(r) => tally.lock().unwrap().bad_status.push(r.status().as_u16()),
                        // The server no longer listens: not a request it had taken.
                        Err(e) if e.is_connect() => break,
                        Err(e) => {
                            tally.lock().unwrap().broken.push(format!("{e:?}"));
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = tally.lock().unwrap().issued.len();
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exited = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert!(exited.success(), "keygate serve exited with {exited}");
    let tally = Arc::try_unwrap(tally).unwrap().into_inner().unwrap();
    assert!(before > 50, "the load ran ({before} tokens before SIGTERM)");
    assert!(
        tally.bad_status.is_empty(),
        "statuses: {:?}",
        tally.bad_status
    );
    assert!(
        tally.broken.is_empty(),
        "broken requests: {:?}",
        tally.broken
    );

    // Everything pending was written before the process exited.
    let last = tally.issued.last().unwrap();
    let claims: serde_json::Value = {
        let payload = last.split('.').nth(1).unwrap();
        use base64::Engine as _;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    let last_jti = claims["jti"].as_str().unwrap();
    let recorded: i64 =
        sqlx::query_scalar::<_, i64>("select count(*) from issued_tokens where jti = $1")
            .bind(last_jti)
            .fetch_one(app.state.store.pool())
            .await
            .unwrap();
    assert_eq!(
        recorded, 1,
        "the last token issued is among the account's sessions"
    );
    let last_used = app.last_used_at(&creds).await.expect("a last-used time");
    assert!(last_used >= claims["iat"].as_i64().unwrap() * 1000 - 1000);
}
