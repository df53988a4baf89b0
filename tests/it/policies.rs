//! Account policies (issue 12, "Policies"): `GET/PATCH /api/v1/policies`, the console's
//! Settings → Policies page and `keygate policies`, and each policy enforced through the
//! REST API, the console and the command line.

use std::time::Duration;

use axum::http::{StatusCode, header};
use keygate::admin::roles::GroupInput;
use keygate::domain::audit::Actor;
use keygate::domain::now_ms;
use keygate::store::changes::Change;
use serde_json::{Value, json};

use crate::cli::keygate;
use crate::console::{Browser, PASSWORD, console_user, csrf_of, signed_in_admin};
use crate::helpers::{Creds, Resp, TestApp, eventually};

const DAY_MS: i64 = 86_400_000;

/// An Administrator account's token for keygate's REST API.
async fn admin_token(app: &TestApp) -> String {
    let admin = app
        .account("policy-admin")
        .roles(&["Administrator"])
        .create()
        .await;
    app.token(&admin).await
}

async fn patch(app: &TestApp, token: &str, body: Value) -> Resp {
    app.request(axum::http::Method::PATCH, "/api/v1/policies")
        .bearer(token)
        .json(&body)
        .send()
        .await
}

async fn set(app: &TestApp, token: &str, body: Value) -> Value {
    let res = patch(app, token, body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()
}

async fn patch_account(app: &TestApp, token: &str, id: &str, body: Value) -> Resp {
    app.request(
        axum::http::Method::PATCH,
        &format!("/api/v1/service-accounts/{id}"),
    )
    .bearer(token)
    .json(&body)
    .send()
    .await
}

fn assert_field(res: &Resp, field: &str) {
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    assert_eq!(res.json()["field"], field, "{}", res.text());
}

/// Moves an account's secret back in time, as if it had been made `days` ago.
async fn age_secret(app: &TestApp, id: &str, days: i64) {
    sqlx::query("update service_accounts set secret_created_at = $1 where id = $2")
        .bind(now_ms() - days * DAY_MS)
        .bind(id)
        .execute(app.state.store.pool())
        .await
        .unwrap();
    app.state.oauth.apply_local(&Change::Account(id.to_owned()));
}

#[tokio::test]
async fn policies_have_their_defaults_and_a_patch_changes_only_the_fields_it_names() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let res = app.get("/api/v1/policies").bearer(&token).send().await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        json!({"max_roles_per_account": null, "max_token_lifetime_secs": 86400,
               "max_personal_token_days": 90, "credential_lifetime_days": null,
               "disable_unused_after_days": null, "allow_client_secrets": true})
    );
    let after = set(&app, &token, json!({"max_roles_per_account": 3})).await;
    assert_eq!(after["max_roles_per_account"], 3);
    assert_eq!(after["max_token_lifetime_secs"], 86400);
    let after = set(&app, &token, json!({"max_token_lifetime_secs": null})).await;
    assert_eq!(after["max_roles_per_account"], 3);
    assert!(after["max_token_lifetime_secs"].is_null());
    for (body, field) in [
        (json!({"max_roles_per_account": 0}), "max_roles_per_account"),
        (
            json!({"max_token_lifetime_secs": 86401}),
            "max_token_lifetime_secs",
        ),
        (
            json!({"credential_lifetime_days": "five"}),
            "credential_lifetime_days",
        ),
        (
            json!({"allow_client_secrets": "no"}),
            "allow_client_secrets",
        ),
        (json!({"dry_run": 1}), "dry_run"),
    ] {
        assert_field(&patch(&app, &token, body).await, field);
    }
    // Audited with before and after.
    let events = app
        .state
        .admin
        .audit_events(
            &Actor::system(),
            &keygate::store::audit::AuditFilter {
                action: Some("policy.updated".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    let detail: Value = serde_json::from_str(&events[0].detail).unwrap();
    assert_eq!(detail["before"]["max_token_lifetime_secs"], 86400);
    assert!(detail["after"]["max_token_lifetime_secs"].is_null());
}

#[tokio::test]
async fn reading_needs_service_accounts_read_and_changing_needs_policies_write() {
    let app = TestApp::spawn().await;
    let auditor = app.account("auditor").roles(&["Auditor"]).create().await;
    let token = app.token(&auditor).await;
    let res = app.get("/api/v1/policies").bearer(&token).send().await;
    assert_eq!(res.status, StatusCode::OK);
    let res = patch(&app, &token, json!({"max_roles_per_account": 1})).await;
    res.assert_error(StatusCode::FORBIDDEN, "forbidden");
    // The built-in Administrator role holds policies:write.
    let admin = app.account("boss").roles(&["Administrator"]).create().await;
    let who = app.whoami(&app.token(&admin).await).await.json();
    assert!(
        who["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("policies:write")),
        "{who}"
    );
}

#[tokio::test]
async fn a_second_instance_applies_a_policy_change_within_a_second() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let token = admin_token(&a).await;
    let creds = a.account("slow").lifetime(3600).create().await;
    assert_eq!(b.token_response(&creds).await.json()["expires_in"], 3600);
    set(&a, &token, json!({"max_token_lifetime_secs": 120})).await;
    let capped = eventually(Duration::from_secs(1), async || {
        b.token_response(&creds).await.json()["expires_in"] == 120
    })
    .await;
    assert!(capped, "instance B still mints hour-long tokens");
}

#[tokio::test]
async fn the_token_lifetime_is_capped_at_mint_time_for_tokens_and_exchanges() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let creds = app
        .account("long")
        .roles(&["Auditor"])
        .lifetime(7200)
        .create()
        .await;
    set(&app, &token, json!({"max_token_lifetime_secs": 300})).await;
    let res = app.token_response(&creds).await.json();
    assert_eq!(res["expires_in"], 300);
    let (_, claims) = app
        .verify_with_jwks(res["access_token"].as_str().unwrap())
        .await;
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    // A token exchange lives as long as the account's tokens do: capped too.
    let bearer = res["access_token"].as_str().unwrap().to_owned();
    let made = app
        .post("/api/v1/service-accounts/me/tokens")
        .bearer(&bearer)
        .json(&json!({"name": "ci", "expires_in_days": 5}))
        .send()
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let pat = made.json()["token"].as_str().unwrap().to_owned();
    let exchanged = app
        .post("/oauth/token")
        .form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", &pat),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ])
        .send()
        .await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.text());
    assert_eq!(exchanged.json()["expires_in"], 300);
}

#[tokio::test]
async fn the_command_line_shows_and_sets_policies_and_the_server_follows() {
    let app = TestApp::spawn().await;
    let creds = app.account("cli-capped").lifetime(3600).create().await;
    let run = keygate(
        &app,
        &["policies", "set", "--max-token-lifetime-secs", "90"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("max_token_lifetime_secs: 90"),
        "{}",
        run.stdout
    );
    let capped = eventually(Duration::from_secs(2), async || {
        app.token_response(&creds).await.json()["expires_in"] == 90
    })
    .await;
    assert!(
        capped,
        "the server did not follow a change made at the command line"
    );
    let run = keygate(&app, &["policies", "show", "--output", "json"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let shown: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(shown["max_token_lifetime_secs"], 90);
    let run = keygate(&app, &["policies", "set", "--max-roles-per-account", "0"]).await;
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr.contains("max_roles_per_account"),
        "{}",
        run.stderr
    );
    // The role limit at the command line.
    keygate(&app, &["policies", "set", "--max-roles-per-account", "1"]).await;
    let run = keygate(
        &app,
        &[
            "service-accounts",
            "create",
            "--name",
            "two-roles",
            "--role",
            "Auditor",
            "--role",
            "Token Introspector",
        ],
    )
    .await;
    assert_ne!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stderr.contains("at most 1 role"), "{}", run.stderr);
    // No client secrets at the command line.
    keygate(
        &app,
        &["policies", "set", "--allow-client-secrets", "false"],
    )
    .await;
    let run = keygate(&app, &["service-accounts", "create", "--name", "secretive"]).await;
    assert_ne!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stderr.contains("private_key_jwt"), "{}", run.stderr);
}

#[tokio::test]
async fn the_role_limit_counts_groups_and_is_refused_every_way_roles_are_given() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let one = app.account("one-role").roles(&["Auditor"]).create().await;
    set(&app, &token, json!({"max_roles_per_account": 1})).await;
    // Creating with two.
    let res = app
        .post("/api/v1/service-accounts")
        .bearer(&token)
        .json(&json!({"name": "two", "roles": ["Auditor", "Token Introspector"]}))
        .send()
        .await;
    assert_field(&res, "roles");
    assert!(
        res.json()["message"]
            .as_str()
            .unwrap()
            .contains("at most 1 role")
    );
    // Account roles.
    let res = patch_account(
        &app,
        &token,
        &one.id,
        json!({"roles": ["Auditor", "Token Introspector"]}),
    )
    .await;
    assert_field(&res, "roles");
    // Bindings.
    let res = patch_account(
        &app,
        &token,
        &one.id,
        json!({"bindings": [{"role": "Auditor"}, {"role": "Token Introspector"}]}),
    )
    .await;
    assert_field(&res, "bindings");
    // Group membership: a group giving another role.
    let group = app
        .state
        .admin
        .save_group(
            &Actor::system(),
            None,
            GroupInput {
                name: "introspectors".into(),
                role_ids: vec!["builtin-token-introspector".into()],
                ..GroupInput::default()
            },
        )
        .await
        .unwrap();
    let res = patch_account(&app, &token, &one.id, json!({"groups": ["introspectors"]})).await;
    assert_field(&res, "groups");
    // The same role through a group counts once.
    let same = app
        .state
        .admin
        .save_group(
            &Actor::system(),
            None,
            GroupInput {
                name: "auditors".into(),
                role_ids: vec!["builtin-auditor".into()],
                ..GroupInput::default()
            },
        )
        .await
        .unwrap();
    let res = patch_account(&app, &token, &one.id, json!({"groups": ["auditors"]})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // A group's roles (REST): giving its member a second role through it.
    let res = app
        .request(
            axum::http::Method::PATCH,
            &format!("/api/v1/groups/{}", same.id),
        )
        .bearer(&token)
        .json(
            &json!({"name": "auditors", "roles": ["Auditor", "Token Introspector"],
                      "members": [one.id]}),
        )
        .send()
        .await;
    assert_field(&res, "roles");
    assert!(
        res.json()["message"].as_str().unwrap().contains("one-role"),
        "{}",
        res.text()
    );
    // Group membership from the group's side (REST).
    let res = app
        .request(
            axum::http::Method::PATCH,
            &format!("/api/v1/groups/{}", group.id),
        )
        .bearer(&token)
        .json(
            &json!({"name": "introspectors", "roles": ["Token Introspector"],
                      "members": [one.id]}),
        )
        .send()
        .await;
    assert_field(&res, "members");
    // Nothing changed: the account still holds one role.
    let who = app.whoami(&app.token(&one).await).await.json();
    assert_eq!(who["roles"].as_array().unwrap().len(), 1, "{who}");
    // The console's edit form, with the message inline.
    let mut browser = signed_in_admin(&app).await;
    let csrf = browser.csrf().await;
    let res = browser
        .post(
            &format!("/settings/service-accounts/{}/edit", one.id),
            &[
                ("csrf", &csrf),
                ("name", "one-role"),
                ("description", ""),
                ("token_lifetime_secs", "3600"),
                ("role", "builtin-auditor"),
                ("role", "builtin-token-introspector"),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    assert!(res.text().contains("at most 1 role"), "{}", res.text());
    // The console's group form: adding a role the member would hold a second of.
    let res = browser
        .post(
            &format!("/settings/groups/{}/edit", same.id),
            &[
                ("csrf", &csrf),
                ("name", "auditors"),
                ("description", ""),
                ("role", "builtin-auditor"),
                ("role", "builtin-token-introspector"),
                ("member", &one.id),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    assert!(res.text().contains("at most 1 role"), "{}", res.text());
}

#[tokio::test]
async fn personal_token_lifetimes_follow_the_policy_and_zero_turns_new_ones_off() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let creds = app.account("pat-maker").roles(&["Auditor"]).create().await;
    let bearer = app.token(&creds).await;
    let make = async |days: i64| {
        app.post("/api/v1/service-accounts/me/tokens")
            .bearer(&bearer)
            .json(&json!({"name": "t", "expires_in_days": days}))
            .send()
            .await
    };
    assert_field(&make(91).await, "expires_in_days");
    set(&app, &token, json!({"max_personal_token_days": 10})).await;
    assert_field(&make(11).await, "expires_in_days");
    assert_eq!(make(10).await.status, StatusCode::CREATED);
    set(&app, &token, json!({"max_personal_token_days": 0})).await;
    let res = make(1).await;
    assert_field(&res, "expires_in_days");
    assert!(
        res.json()["message"]
            .as_str()
            .unwrap()
            .contains("turned off")
    );
}

#[tokio::test]
async fn secrets_past_the_credential_lifetime_are_invalid_client_and_show_their_expiry() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    // Without the policy a secret never expires: 0, per RFC 7591.
    let res = app
        .post("/api/v1/service-accounts")
        .bearer(&token)
        .json(&json!({"name": "forever"}))
        .send()
        .await;
    assert_eq!(res.json()["client_secret_expires_at"], 0);
    let preview = set(
        &app,
        &token,
        json!({"credential_lifetime_days": 5, "dry_run": true}),
    )
    .await;
    let changes: Vec<String> = preview["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["name"].as_str().unwrap(),
                a["change"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        changes.contains(&"forever client secret expires in 4 days".to_owned()),
        "{changes:?}"
    );
    // The dry run saved nothing.
    let now = app
        .get("/api/v1/policies")
        .bearer(&token)
        .send()
        .await
        .json();
    assert!(now["credential_lifetime_days"].is_null());
    set(&app, &token, json!({"credential_lifetime_days": 5})).await;
    let res = app
        .post("/api/v1/service-accounts")
        .bearer(&token)
        .json(&json!({"name": "expiring"}))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let created = res.json();
    let expires = created["client_secret_expires_at"].as_i64().unwrap();
    assert!(
        (expires - (now_ms() / 1000 + 5 * 86_400)).abs() < 60,
        "{created}"
    );
    let creds = Creds {
        id: created["id"].as_str().unwrap().into(),
        name: "expiring".into(),
        client_id: created["client_id"].as_str().unwrap().into(),
        client_secret: created["client_secret"].as_str().unwrap().into(),
    };
    assert_eq!(app.token_response(&creds).await.status, StatusCode::OK);
    // The console says when.
    let mut browser = signed_in_admin(&app).await;
    let page = browser
        .get(&format!("/settings/service-accounts/{}", creds.id))
        .await
        .text();
    assert!(page.contains("expires in 4 days"), "{page}");
    // Six days later: refused exactly like a wrong secret.
    age_secret(&app, &creds.id, 6).await;
    let expired = app.token_response(&creds).await;
    let wrong = app.token_response(&creds.with_secret("kgs_wrong")).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.json(), wrong.json());
    assert_eq!(expired.json()["error"], "invalid_client");
    let shown = app
        .get(&format!("/api/v1/service-accounts/{}", creds.id))
        .bearer(&token)
        .send()
        .await
        .json();
    assert!(shown["client_secret_expires_at"].as_i64().unwrap() < now_ms() / 1000);
    let list = browser.get("/settings/service-accounts").await.text();
    assert!(list.contains("Secret expired"), "{list}");
    // A regeneration makes a fresh secret, its expiry in the answer.
    let res = app
        .post(&format!("/api/v1/service-accounts/{}/regenerate", creds.id))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let fresh = res.json();
    assert!(fresh["client_secret_expires_at"].as_i64().unwrap() > now_ms() / 1000 + 4 * 86_400);
    let renewed = Creds {
        client_id: fresh["client_id"].as_str().unwrap().into(),
        client_secret: fresh["client_secret"].as_str().unwrap().into(),
        ..creds
    };
    assert_eq!(app.token_response(&renewed).await.status, StatusCode::OK);
}

#[tokio::test]
async fn keys_past_the_credential_lifetime_are_refused() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let res = app
        .post("/api/v1/service-accounts")
        .bearer(&token)
        .json(
            &json!({"name": "keyed", "token_endpoint_auth_method": "private_key_jwt",
                      "generate_key": true}),
        )
        .send()
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let created = res.json();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let kid = created["keys"][0]["kid"].as_str().unwrap().to_owned();
    let pem = created["key_file"]["private_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    let grant = async || {
        let now = now_ms() / 1000;
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some(kid.clone());
        let jti = uuid::Uuid::new_v4().to_string();
        let assertion = jsonwebtoken::encode(
            &h,
            &json!({"iss": client_id, "sub": client_id, "aud": app.issuer,
                    "iat": now, "exp": now + 60, "jti": jti}),
            &key,
        )
        .unwrap();
        app.post("/oauth/token")
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ])
            .send()
            .await
    };
    assert_eq!(grant().await.status, StatusCode::OK);
    set(&app, &token, json!({"credential_lifetime_days": 5})).await;
    assert_eq!(grant().await.status, StatusCode::OK);
    sqlx::query("update client_keys set created_at = $1 where kid = $2")
        .bind(now_ms() - 6 * DAY_MS)
        .bind(&kid)
        .execute(app.state.store.pool())
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    app.state.oauth.apply_local(&Change::Account(id));
    let res = grant().await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn without_client_secrets_new_accounts_and_regenerations_must_use_another_method() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let old = app.account("old-secret").create().await;
    set(&app, &token, json!({"allow_client_secrets": false})).await;
    let res = app
        .post("/api/v1/service-accounts")
        .bearer(&token)
        .json(&json!({"name": "new-secret"}))
        .send()
        .await;
    assert_field(&res, "token_endpoint_auth_method");
    let message = res.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("private_key_jwt") && message.contains("federated"),
        "{message}"
    );
    let res = app
        .post(&format!("/api/v1/service-accounts/{}/regenerate", old.id))
        .bearer(&token)
        .send()
        .await;
    assert_field(&res, "token_endpoint_auth_method");
    // Existing secrets keep working; keys are fine.
    assert_eq!(app.token_response(&old).await.status, StatusCode::OK);
    let res = app
        .post("/api/v1/service-accounts")
        .bearer(&token)
        .json(
            &json!({"name": "keyed", "token_endpoint_auth_method": "private_key_jwt",
                      "generate_key": true}),
        )
        .send()
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    // The console's regeneration says so too.
    let mut browser = signed_in_admin(&app).await;
    let csrf = browser.csrf().await;
    let res = browser
        .post(
            &format!("/settings/service-accounts/{}/regenerate", old.id),
            &[("csrf", &csrf), ("grace_period_seconds", "0")],
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    assert!(res.text().contains("private_key_jwt"), "{}", res.text());
    // And the add-account wizard, at the authentication method, keeping what was typed.
    let res = browser
        .post(
            "/settings/service-accounts/new",
            &[
                ("csrf", &csrf),
                ("step", "create"),
                ("name", "wizard-secret"),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    let html = res.text();
    assert!(html.contains("id=\"key-error\""), "{html}");
    assert!(html.contains("turned off by policy"), "{html}");
    assert!(html.contains("value=\"wizard-secret\""), "{html}");
}

#[tokio::test]
async fn the_unused_account_job_disables_accounts_unused_for_n_days_on_a_simulated_clock() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let used = app.account("used").create().await;
    let idle = app.account("idle").create().await;
    let bearer = app.token(&used).await;
    app.state.oauth.flush_usage().await.unwrap();
    let admin_id = app
        .state
        .admin
        .find_account(&Actor::system(), "policy-admin")
        .await
        .unwrap()
        .account
        .id;
    app.state.oauth.flush_usage().await.unwrap();
    // The dry run names the accounts the job would disable 31 days from now… as of now,
    // none; the job with a clock 31 days ahead disables those unused since.
    let preview = set(
        &app,
        &token,
        json!({"disable_unused_after_days": 30, "dry_run": true}),
    )
    .await;
    assert_eq!(preview["affected"], json!([]));
    set(&app, &token, json!({"disable_unused_after_days": 30})).await;
    let admin = &app.state.admin;
    assert!(
        admin
            .disable_unused_accounts(now_ms())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        admin
            .disable_unused_accounts(now_ms() + 29 * DAY_MS)
            .await
            .unwrap()
            .is_empty()
    );
    // 31 days on: "idle" was never used and made 31 days before; "used" got a token then
    // too but nothing since; the admin's account is used on day 20.
    sqlx::query("update service_accounts set last_used_at = $1 where id = $2")
        .bind(now_ms() + 20 * DAY_MS)
        .bind(&admin_id)
        .execute(app.state.store.pool())
        .await
        .unwrap();
    let mut disabled = admin
        .disable_unused_accounts(now_ms() + 31 * DAY_MS)
        .await
        .unwrap();
    disabled.sort();
    assert_eq!(disabled, ["idle", "used"]);
    let shown = app
        .get(&format!("/api/v1/service-accounts/{}", idle.id))
        .bearer(&token)
        .send()
        .await
        .json();
    assert_eq!(shown["enabled"], false);
    assert_eq!(shown["disabled_reason"], "unused for 30 days");
    assert_eq!(
        app.token_response(&idle).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.whoami(&bearer).await.status, StatusCode::UNAUTHORIZED);
    let events = admin
        .audit_events(
            &Actor::system(),
            &keygate::store::audit::AuditFilter {
                target: Some(idle.id.clone()),
                action: Some("service_account.disabled".into()),
                limit: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert!(events[0].detail.contains("unused for 30 days"));
    // The command line's hidden hook runs the same job: the admin account 51 days on.
    let at = keygate::domain::format_ms(now_ms() + 51 * DAY_MS);
    let run = keygate(&app, &["policies", "disable-unused", "--now", &at]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("disabled policy-admin"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn the_console_policies_page_saves_confirms_and_keeps_what_was_typed() {
    let app = TestApp::spawn().await;
    let long = app.account("long-lived").lifetime(7200).create().await;
    let mut browser = signed_in_admin(&app).await;
    let page = browser.get("/settings/service-accounts").await.text();
    assert!(
        page.contains("href=\"/settings/policies\""),
        "no Policies link in the nav"
    );
    let page = browser.get("/settings/policies").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    let csrf = csrf_of(&html);
    assert!(html.contains("name=\"max_roles_per_account\""));
    let form = |csrf: &str, roles: &str, cap: &str| -> Vec<(String, String)> {
        vec![
            ("csrf".into(), csrf.into()),
            ("max_roles_per_account".into(), roles.into()),
            ("max_token_lifetime_secs".into(), cap.into()),
            ("max_personal_token_days".into(), "90".into()),
            ("credential_lifetime_days".into(), String::new()),
            ("disable_unused_after_days".into(), String::new()),
            ("allow_client_secrets".into(), "on".into()),
        ]
    };
    let post = async |b: &mut Browser<'_>, f: Vec<(String, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        b.post("/settings/policies", &pairs).await
    };
    // A bad value: 422, inline, what was typed kept.
    let res = post(&mut browser, form(&csrf, "zero", "86400")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("id=\"max_roles_per_account-error\""),
        "{html}"
    );
    assert!(html.contains("value=\"zero\""), "{html}");
    // No CSRF token: refused.
    let res = post(&mut browser, form("forged", "2", "86400")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // A change that affects nobody is saved at once.
    let res = post(&mut browser, form(&csrf, "2", "86400")).await;
    let html = browser.follow(&res).await.text();
    assert!(html.contains("Policies saved."), "{html}");
    assert_eq!(
        app.state.admin.policies_in_force().max_roles_per_account,
        Some(2)
    );
    // A cap below the account's lifetime lists it first, and saves nothing yet.
    let res = post(&mut browser, form(&csrf, "2", "600")).await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    assert!(html.contains("long-lived"), "{html}");
    assert!(html.contains("capped from 7200 to 600 seconds"), "{html}");
    assert!(html.contains("name=\"confirm\" value=\"1\""), "{html}");
    assert_eq!(app.token_response(&long).await.json()["expires_in"], 7200);
    let mut confirmed = form(&csrf, "2", "600");
    confirmed.push(("confirm".into(), "1".into()));
    let res = post(&mut browser, confirmed).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(app.token_response(&long).await.json()["expires_in"], 600);
    // Read-only for someone without policies:write.
    console_user(&app, "watcher", &["Auditor"]).await;
    let mut watcher = Browser::new(&app);
    watcher.sign_in("watcher", PASSWORD).await;
    let html = watcher.get("/settings/policies").await.text();
    assert!(
        !html.contains("<form method=\"post\" action=\"/settings/policies\""),
        "{html}"
    );
    assert!(html.contains("policies:write"), "{html}");
    let res = watcher
        .post(
            "/settings/policies",
            &[("csrf", &csrf_of(&html)), ("max_roles_per_account", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let _ = header::LOCATION;
}
