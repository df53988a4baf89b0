//! `keygate backup --to FILE` (issue 15): a consistent copy of a live SQLite database and its
//! key file that keygate starts on as it is; for PostgreSQL, advice to use pg_dump.

use std::process::{Command, Output};

use crate::helpers::{TestApp, postgres_url};

fn keygate(database_url: &str, master_key: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygate"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEYGATE_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("KEYGATE_DATABASE_URL", database_url)
        .env("KEYGATE_LOG", "error")
        .args(args);
    if let Some(k) = master_key {
        cmd.env("KEYGATE_MASTER_KEY", k);
    }
    cmd.output().expect("run keygate")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn a_backup_of_a_live_sqlite_database_starts_as_it_is_with_its_key_file() {
    if postgres_url().is_some() {
        return; // The SQLite case; the PostgreSQL one is the next test.
    }
    let dir = std::env::temp_dir().join(format!("keygate-backup-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("live.db");
    let url = format!("sqlite://{}", db.display());
    // A database whose master key lives in the key file beside it, as by default.
    let out = keygate(
        &url,
        None,
        &[
            "service-accounts",
            "create",
            "--name",
            "kept",
            "--output",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let creds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let copy = dir.join("copy.db");
    let out = keygate(&url, None, &["backup", "--to", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("key file"),
        "{}",
        text(&out.stdout)
    );
    let key_copy = dir.join("copy.db.key");
    assert_eq!(
        std::fs::read(&key_copy).unwrap(),
        std::fs::read(dir.join("live.db.key")).unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for f in [&copy, &key_copy] {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }

    // keygate runs on the copy with no further setting: the account is there, and its
    // secret (hashed under the copied key) still gets a token.
    let copy_url = format!("sqlite://{}", copy.display());
    let out = keygate(
        &copy_url,
        None,
        &["service-accounts", "list", "--output", "json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("kept"), "{}", text(&out.stdout));
    let mut config = keygate::config::Config::for_database(copy_url);
    config.issuer = Some(crate::helpers::ISSUER.to_owned());
    let state = keygate::app::App::build(config).await.unwrap();
    let rec = state
        .oauth
        .authenticate(
            creds["client_id"].as_str().unwrap(),
            creds["client_secret"].as_str().unwrap(),
        )
        .await;
    assert!(rec.is_ok(), "the secret verifies on the copy");
    state.store.close().await;

    // It never overwrites.
    let out = keygate(&url, None, &["backup", "--to", copy.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("exists already"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_backup_is_consistent_while_the_server_writes() {
    if postgres_url().is_some() {
        return;
    }
    let app = TestApp::spawn().await;
    let writer = {
        let state = app.state.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let create = keygate::admin::accounts::CreateAccount {
                    name: format!("busy-{i}"),
                    description: String::new(),
                    role_ids: Vec::new(),
                    token_lifetime_secs: None,
                    ..Default::default()
                };
                state
                    .admin
                    .create_account(&keygate::domain::audit::Actor::system(), create)
                    .await
                    .unwrap();
            }
        })
    };
    let copy = std::env::temp_dir().join(format!("keygate-busy-{}.db", uuid::Uuid::new_v4()));
    let out = tokio::task::spawn_blocking({
        let (url, key, copy) = (app.db.url.clone(), app.master_key.clone(), copy.clone());
        move || {
            keygate(
                &url,
                Some(&key),
                &["backup", "--to", copy.to_str().unwrap()],
            )
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    writer.await.unwrap();
    // The copy is one moment of the database: every account in it has its audit event,
    // and no event names an account it lacks (each create writes both in one transaction).
    let mut config = keygate::config::Config::for_database(format!("sqlite://{}", copy.display()));
    config.master_key = Some(app.master_key.parse().unwrap());
    let state = keygate::app::App::build(config).await.unwrap();
    let pool = state.store.pool();
    let accounts: i64 =
        sqlx::query_scalar("select count(*) from service_accounts where name like 'busy-%'")
            .fetch_one(pool)
            .await
            .unwrap();
    let created: i64 = sqlx::query_scalar(
        "select count(*) from audit_events where action = 'service_account.created' \
         and target_name like 'busy-%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(accounts, created);
    state.store.close().await;
    let _ = std::fs::remove_file(&copy);
}

#[tokio::test]
async fn on_postgresql_backup_says_to_use_pg_dump() {
    let url = postgres_url().unwrap_or_else(|| "postgres://nobody@127.0.0.1:1/none".into());
    let out = keygate(&url, None, &["backup", "--to", "/tmp/never-written.db"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("pg_dump"),
        "{}",
        text(&out.stderr)
    );
    assert!(!std::path::Path::new("/tmp/never-written.db").exists());
}
