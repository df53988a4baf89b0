//! The `keygate` command line, run as a subprocess over the test's database.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::{Command, Stdio};

use axum::http::StatusCode;
use serde_json::Value;

use crate::helpers::{Creds, TestApp};

/// What a run of the command printed and how it ended.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// The command over `app`'s database, with its master key unless `master_key` is false.
fn command(app: &TestApp, master_key: bool) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygate"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEYGATE_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("KEYGATE_DATABASE_URL", &app.db.url)
        .env("KEYGATE_ISSUER", &app.issuer)
        .env(
            "KEYGATE_LOG",
            if std::env::var_os("TEST_LOG").is_some() {
                "keygate=debug,info"
            } else {
                "error"
            },
        );
    if master_key {
        cmd.env("KEYGATE_MASTER_KEY", &app.master_key);
    }
    cmd
}

async fn run_command(mut cmd: Command, args: &[&str], stdin: Option<&str>) -> Run {
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("run keygate");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(input.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// Runs `keygate ARGS` over `app`'s database with its master key.
pub(crate) async fn keygate(app: &TestApp, args: &[&str]) -> Run {
    run_command(command(app, true), args, None).await
}

#[tokio::test]
async fn create_prints_credentials_as_one_json_object_that_get_a_token() {
    let app = TestApp::spawn().await;

    let run = keygate(
        &app,
        &[
            "service-accounts",
            "create",
            "--name",
            "billing",
            "--role",
            "Token Introspector",
            "--output",
            "json",
        ],
    )
    .await;

    assert_eq!(run.code, Some(0), "{run:?}");
    let value: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON document");
    let object = value.as_object().expect("a JSON object");
    let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "name",
            "client_id",
            "client_secret",
            "access_token_uri"
        ])
    );
    assert_eq!(run.stdout.trim().lines().count(), 1, "{}", run.stdout);
    assert_eq!(value["name"], "billing");
    assert_eq!(
        value["access_token_uri"],
        format!("{}/oauth/token", app.issuer)
    );
    let creds = Creds {
        id: value["id"].as_str().unwrap().to_owned(),
        name: "billing".into(),
        client_id: value["client_id"].as_str().unwrap().to_owned(),
        client_secret: value["client_secret"].as_str().unwrap().to_owned(),
    };
    let token = app.token(&creds).await;
    let who = app.whoami(&token).await;
    assert_eq!(who.status, StatusCode::OK);
    assert_eq!(who.json()["id"], creds.id.as_str());
    assert_eq!(
        who.json()["roles"],
        serde_json::json!(["Token Introspector"])
    );
}

#[tokio::test]
async fn create_with_an_unknown_role_fails_and_creates_nothing() {
    let app = TestApp::spawn().await;

    let run = keygate(
        &app,
        &[
            "service-accounts",
            "create",
            "--name",
            "billing",
            "--role",
            "Token Introspector",
            "--role",
            "Chief Wizard",
            "--output",
            "json",
        ],
    )
    .await;

    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("Chief Wizard"), "{}", run.stderr);
    assert!(run.stdout.trim().is_empty(), "{}", run.stdout);
    assert_eq!(app.account_count().await, 0);
}

#[tokio::test]
async fn create_with_a_duplicate_name_fails_and_creates_nothing() {
    let app = TestApp::spawn().await;
    app.account("Billing").create().await;

    let run = keygate(&app, &["service-accounts", "create", "--name", "billing"]).await;

    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(!run.stderr.trim().is_empty());
    assert!(
        !run.stdout.contains("kgs_"),
        "no secret printed: {}",
        run.stdout
    );
    assert_eq!(app.account_count().await, 1);
}

#[tokio::test]
async fn service_accounts_list_and_roles_list_succeed() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").roles(&["Auditor"]).create().await;

    let run = keygate(&app, &["service-accounts", "list"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("billing"), "{}", run.stdout);
    assert!(run.stdout.contains(&creds.client_id), "{}", run.stdout);

    let run = keygate(&app, &["service-accounts", "list", "--output", "json"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let list: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(list[0]["id"], creds.id.as_str());
    assert_eq!(list[0]["roles"], serde_json::json!(["Auditor"]));

    let run = keygate(&app, &["roles", "list"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    for role in [
        "Administrator",
        "Service Account Manager",
        "Auditor",
        "Token Introspector",
    ] {
        assert!(run.stdout.contains(role), "{role}: {}", run.stdout);
    }
}

#[tokio::test]
async fn admin_create_reads_the_password_from_stdin() {
    let app = TestApp::spawn().await;

    let run = run_command(
        command(&app, true),
        &["admin", "create", "--username", "u", "--password-stdin"],
        Some("a long enough password\n"),
    )
    .await;

    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("Created console user u "),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("a long enough password"));

    // The same name again is refused.
    let run = run_command(
        command(&app, true),
        &["admin", "create", "--username", "U", "--password-stdin"],
        Some("another long password\n"),
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:?}");
}

#[tokio::test]
async fn admin_create_refuses_a_short_password() {
    let app = TestApp::spawn().await;

    let run = run_command(
        command(&app, true),
        &["admin", "create", "--username", "u", "--password-stdin"],
        Some("short\n"),
    )
    .await;

    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("12"), "{}", run.stderr);

    // Nothing was created: the name is still free.
    let run = run_command(
        command(&app, true),
        &["admin", "create", "--username", "u", "--password-stdin"],
        Some("a long enough password"),
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[tokio::test]
async fn postgres_without_a_master_key_names_the_setting() {
    let app = TestApp::spawn().await;
    if !app.db.is_postgres() {
        eprintln!("skipped: TEST_DATABASE_URL is not a PostgreSQL URL");
        return;
    }

    let run = run_command(command(&app, false), &["service-accounts", "list"], None).await;

    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("KEYGATE_MASTER_KEY"), "{}", run.stderr);
}
