//! The command line's account lifecycle (`service-accounts disable`, `enable`, `regenerate`,
//! `delete`) and `roles create`, run as a subprocess over the database of a running test
//! app, which learns of each change from the change feed.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use keygate::domain::audit::Actor;
use keygate::store::audit::{AuditFilter, AuditRow};
use serde_json::Value;

use crate::api_accounts::{assert_invalid_client, introspector};
use crate::cli::{Run, keygate};
use crate::helpers::{Creds, TestApp, eventually};

/// How long the running app may take to follow a change made by another process.
const FEED: Duration = Duration::from_secs(1);

#[track_caller]
fn assert_success(run: &Run) {
    assert_eq!(run.code, Some(0), "{run:?}");
}

/// Whether `creds` get a token from the running app.
async fn works(app: &TestApp, creds: &Creds) -> bool {
    app.token_response(creds).await.status == StatusCode::OK
}

/// Whether `creds` are refused with `invalid_client`.
async fn refused(app: &TestApp, creds: &Creds) -> bool {
    let res = app.token_response(creds).await;
    res.status == StatusCode::UNAUTHORIZED && res.error() == "invalid_client"
}

async fn events(app: &TestApp, id: &str) -> Vec<AuditRow> {
    app.state
        .admin
        .audit_events(
            &Actor::system(),
            &AuditFilter {
                target: Some(id.to_owned()),
                limit: 50,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap()
}

/// Asserts that the newest event on `id` is `action`, by the command line.
#[track_caller]
fn assert_system_event(events: &[AuditRow], action: &str) {
    let e = events
        .iter()
        .find(|e| e.action == action)
        .unwrap_or_else(|| panic!("no {action} in {events:?}"));
    assert_eq!(e.actor_kind, "system", "{e:?}");
    assert_eq!(e.actor_id, "cli", "{e:?}");
    assert_eq!(e.source, "cli", "{e:?}");
}

fn creds_from_json(stdout: &str, name: &str) -> Creds {
    assert_eq!(stdout.trim().lines().count(), 1, "one line: {stdout}");
    let v: Value = serde_json::from_str(stdout.trim()).expect("one JSON document");
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
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
    assert_eq!(v["name"], name);
    Creds {
        id: v["id"].as_str().unwrap().to_owned(),
        name: name.to_owned(),
        client_id: v["client_id"].as_str().unwrap().to_owned(),
        client_secret: v["client_secret"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn disable_reaches_the_running_server_within_a_second_and_enable_lets_the_keys_back() {
    let app = TestApp::spawn().await;
    let inspector = introspector(&app).await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let token = app.token(&c).await;
    // The running app has the account in its cache now.
    assert!(works(&app, &c).await);
    assert!(app.is_active(&inspector, &token).await);

    let run = keygate(&app, &["service-accounts", "disable", "billing"]).await;
    assert_success(&run);
    assert!(run.stdout.contains("Disabled billing"), "{run:?}");
    assert!(
        eventually(FEED, async || refused(&app, &c).await).await,
        "the running server still hands out tokens a second after the disable"
    );
    app.whoami(&token).await.assert_invalid_token();
    assert!(!app.is_active(&inspector, &token).await);

    // Enabled again (named by client ID): the keys work, the old token stays dead.
    let run = keygate(&app, &["service-accounts", "enable", &c.client_id]).await;
    assert_success(&run);
    assert!(run.stdout.contains("Enabled billing"), "{run:?}");
    assert!(eventually(FEED, async || works(&app, &c).await).await);
    app.whoami(&token).await.assert_invalid_token();
    let fresh = app.token(&c).await;
    assert_eq!(app.whoami(&fresh).await.status, StatusCode::OK);

    let events = events(&app, &c.id).await;
    assert_system_event(&events, "service_account.disabled");
    assert_system_event(&events, "service_account.enabled");
}

#[tokio::test]
async fn regenerate_prints_one_json_object_whose_keys_work_while_the_old_pair_fails() {
    let app = TestApp::spawn().await;
    let inspector = introspector(&app).await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let old_token = app.token(&c).await;

    let run = keygate(
        &app,
        &["service-accounts", "regenerate", &c.id, "--output", "json"],
    )
    .await;
    assert_success(&run);
    let new = creds_from_json(&run.stdout, "billing");
    assert_eq!(new.id, c.id);
    assert_ne!(new.client_id, c.client_id);
    assert_ne!(new.client_secret, c.client_secret);
    assert!(works(&app, &new).await);
    assert!(eventually(FEED, async || refused(&app, &c).await).await);
    assert_invalid_client(&app.token_response(&c).await);
    app.whoami(&old_token).await.assert_invalid_token();
    assert!(!app.is_active(&inspector, &old_token).await);

    let events = events(&app, &c.id).await;
    assert_system_event(&events, "service_account.credentials_regenerated");
    assert!(!events[0].detail.contains(&new.client_secret));
}

#[tokio::test]
async fn a_grace_period_keeps_the_old_pair_working() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let old_token = app.token(&c).await;

    let run = keygate(
        &app,
        &[
            "service-accounts",
            "regenerate",
            "billing",
            "--grace-period",
            "60",
        ],
    )
    .await;
    assert_success(&run);
    assert!(run.stdout.contains("client_secret:"), "{run:?}");
    assert!(
        run.stdout.contains("keep working for 60 seconds"),
        "{run:?}"
    );
    let line = |label: &str| {
        run.stdout
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {label} in {}", run.stdout))
    };
    let new = Creds {
        id: c.id.clone(),
        name: c.name.clone(),
        client_id: line("client_id:"),
        client_secret: line("client_secret:"),
    };
    assert!(works(&app, &new).await);
    // Give the running server time to follow the change; the old pair still works.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(works(&app, &c).await);
    assert_eq!(app.whoami(&old_token).await.status, StatusCode::OK);
    assert!(works(&app, &new).await);

    let e = events(&app, &c.id).await;
    assert_system_event(&e, "service_account.credentials_regenerated");
    assert!(e[0].detail.contains("\"grace_period_seconds\":60"), "{e:?}");

    // Out of range: refused, nothing changed.
    let run = keygate(
        &app,
        &[
            "service-accounts",
            "regenerate",
            "billing",
            "--grace-period",
            "86401",
        ],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("grace period"), "{run:?}");
    assert!(works(&app, &new).await);
}

#[tokio::test]
async fn delete_removes_the_account_and_its_keys() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let token = app.token(&c).await;
    assert_eq!(app.account_count().await, 1);

    let run = keygate(&app, &["service-accounts", "delete", "billing"]).await;
    assert_success(&run);
    assert!(run.stdout.contains(&c.id), "{run:?}");
    assert!(eventually(FEED, async || refused(&app, &c).await).await);
    app.whoami(&token).await.assert_invalid_token();
    assert_eq!(app.account_count().await, 0);
    assert!(
        app.state
            .admin
            .get_account(&Actor::system(), &c.id)
            .await
            .is_err()
    );
    assert_system_event(&events(&app, &c.id).await, "service_account.deleted");

    // Gone: a second delete fails.
    let run = keygate(&app, &["service-accounts", "delete", &c.id]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("not found"), "{run:?}");
}

#[tokio::test]
async fn accounts_are_named_by_id_name_or_client_id_and_an_unknown_one_is_an_error() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let other = app.account("other").create().await;

    for (verb, named) in [
        ("disable", c.id.as_str()),
        ("enable", "billing"),
        ("disable", c.client_id.as_str()),
        ("enable", c.id.as_str()),
    ] {
        let run = keygate(&app, &["service-accounts", verb, named]).await;
        assert_success(&run);
        assert!(run.stdout.contains(&c.id), "{verb} {named}: {run:?}");
    }

    let before = events(&app, &c.id).await.len();
    for verb in ["disable", "enable", "regenerate", "delete"] {
        for unknown in ["no-such-account", "kgc_nope", ""] {
            let run = keygate(&app, &["service-accounts", verb, unknown]).await;
            assert_eq!(run.code, Some(1), "{verb} {unknown:?}: {run:?}");
            assert!(
                run.stderr.contains("error: service account not found"),
                "{verb} {unknown:?}: {run:?}"
            );
            assert!(run.stdout.is_empty(), "{run:?}");
        }
    }
    // Nothing changed.
    assert_eq!(events(&app, &c.id).await.len(), before);
    assert_eq!(app.account_count().await, 2);
    assert!(eventually(FEED, async || works(&app, &c).await).await);
    assert!(works(&app, &other).await);
}

#[tokio::test]
async fn roles_create_makes_a_role_that_can_be_given() {
    let app = TestApp::spawn().await;
    let api = app
        .api_defining(&["reports:read", "reports:write", "x:y"])
        .await;
    let run = keygate(
        &app,
        &[
            "roles",
            "create",
            "--name",
            "Reports",
            "--api",
            crate::helpers::TEST_API_NAME,
            "--description",
            "for the reports API",
            "--permission",
            "reports:read",
            "--permission",
            "reports:write",
        ],
    )
    .await;
    assert_success(&run);
    assert!(run.stdout.contains("Created role Reports"), "{run:?}");
    assert!(
        run.stdout.contains("reports:read, reports:write"),
        "{run:?}"
    );
    let role = app
        .state
        .admin
        .list_roles(&Actor::system())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "Reports")
        .expect("the role exists");
    assert!(!role.builtin);
    assert_eq!(role.api_id, api);
    assert_eq!(role.description, "for the reports API");
    assert_eq!(role.permissions, vec!["reports:read", "reports:write"]);

    // Assignable, from the command line and from the running app.
    let run = keygate(
        &app,
        &[
            "service-accounts",
            "create",
            "--name",
            "reporter",
            "--role",
            "reports",
            "--output",
            "json",
        ],
    )
    .await;
    assert_success(&run);
    let c = creds_from_json(&run.stdout, "reporter");
    let res = app.token_response(&c).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["scope"], "reports:read reports:write");
    let other = app.account("other").roles(&["Reports"]).create().await;
    assert_eq!(
        app.token_response(&other).await.json()["scope"],
        "reports:read reports:write"
    );

    let e = events(&app, &role.id).await;
    assert_system_event(&e, "role.created");
    assert_system_event(&events(&app, &c.id).await, "service_account.created");

    // A duplicate, a bad permission, one the API does not define, or an unknown API: exit
    // 1, nothing created.
    for args in [
        &[
            "roles",
            "create",
            "--name",
            "reports",
            "--api",
            &api,
            "--permission",
            "x:y",
        ][..],
        &[
            "roles",
            "create",
            "--name",
            "Broken",
            "--api",
            &api,
            "--permission",
            "has space",
        ][..],
        &[
            "roles",
            "create",
            "--name",
            "Broken",
            "--api",
            &api,
            "--permission",
            "undefined:perm",
        ][..],
        &[
            "roles",
            "create",
            "--name",
            "Broken",
            "--api",
            "no such API",
            "--permission",
            "x:y",
        ][..],
        &[
            "roles",
            "create",
            "--name",
            "",
            "--api",
            &api,
            "--permission",
            "x:y",
        ][..],
    ] {
        let run = keygate(&app, args).await;
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        assert!(run.stderr.starts_with("error: "), "{run:?}");
    }
    assert_eq!(
        app.state
            .admin
            .list_roles(&Actor::system())
            .await
            .unwrap()
            .len(),
        5
    );
}
