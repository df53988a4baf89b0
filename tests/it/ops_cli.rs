//! The command line prints the server's URLs (issue 15): `serve` records its issuer in the
//! database, and commands without `--issuer` print URLs under the one recorded last.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::helpers::TestApp;

/// Runs `keygate ARGS` over `app`'s database with no `KEYGATE_ISSUER`; stdout and status.
pub async fn keygate(app: &TestApp, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygate"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEYGATE_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("KEYGATE_DATABASE_URL", &app.db.url)
        .env("KEYGATE_MASTER_KEY", &app.master_key)
        .env("KEYGATE_LOG", "error")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let input = stdin.unwrap_or_default().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("run keygate");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn create_without_issuer_prints_the_token_url_of_the_running_server() {
    // A served app runs at a random port: its issuer is http://127.0.0.1:PORT, not the
    // default http://127.0.0.1:8080.
    let app = TestApp::builder().serving().start().await;
    let (ok, out) = keygate(
        &app,
        &[
            "service-accounts",
            "create",
            "--name",
            "cli-made",
            "--output",
            "json",
        ],
        None,
    )
    .await;
    assert!(ok, "{out}");
    let creds: Value = serde_json::from_str(&out).unwrap();
    let expected = format!("{}/oauth/token", app.base_url());
    assert_eq!(creds["access_token_uri"], expected.as_str());

    // The printed URL works: it is where the token comes from.
    let res = reqwest::Client::new()
        .post(expected)
        .basic_auth(
            creds["client_id"].as_str().unwrap(),
            creds["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_explicit_issuer_wins_over_the_recorded_one_and_keeps_its_path() {
    let app = TestApp::builder().serving().start().await;
    let (ok, out) = keygate(
        &app,
        &[
            "--issuer",
            "https://id.example.test/kg/",
            "service-accounts",
            "create",
            "--name",
            "explicit",
            "--output",
            "json",
        ],
        None,
    )
    .await;
    assert!(ok, "{out}");
    let creds: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        creds["access_token_uri"],
        "https://id.example.test/kg/oauth/token"
    );
}

#[tokio::test]
async fn admin_create_prints_the_real_sign_in_url() {
    let app = TestApp::builder().serving().start().await;
    let (ok, out) = keygate(
        &app,
        &["admin", "create", "--username", "boss", "--password-stdin"],
        Some("a long enough passphrase for boss\n"),
    )
    .await;
    assert!(ok, "{out}");
    let url = format!("{}/login", app.base_url());
    assert!(out.contains(&format!("Sign in at {url}")), "{out}");
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_issuer_recorded_last_is_used() {
    let app = TestApp::builder().serving().start().await;
    let later = app.instance_builder().serving().start().await;
    let (ok, out) = keygate(
        &app,
        &[
            "service-accounts",
            "create",
            "--name",
            "last",
            "--output",
            "json",
        ],
        None,
    )
    .await;
    assert!(ok, "{out}");
    let creds: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        creds["access_token_uri"],
        format!("{}/oauth/token", later.base_url()).as_str()
    );
    assert_ne!(app.base_url(), later.base_url());
}
