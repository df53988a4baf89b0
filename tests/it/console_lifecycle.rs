//! The console's account lifecycle without JavaScript: the Enabled toggle, the account page,
//! editing, regenerating client keys, deleting, CSRF on each form, and what a read-only
//! user may see and do.

use axum::http::{StatusCode, header};
use keygate::domain::audit::Actor;

use crate::console::{
    Browser, PASSWORD, console_user, csrf_of, data_link, signed_in_admin, value_of,
};
use crate::helpers::{Creds, Resp, TestApp};

fn page(id: &str, action: &str) -> String {
    if action.is_empty() {
        format!("/settings/service-accounts/{id}")
    } else {
        format!("/settings/service-accounts/{id}/{action}")
    }
}

#[track_caller]
fn assert_invalid_client(res: &Resp) {
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    assert_eq!(res.error(), "invalid_client");
}

#[track_caller]
fn assert_redirect_to_list(res: &Resp) {
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(
        res.header(header::LOCATION),
        Some("/settings/service-accounts")
    );
}

async fn enabled(app: &TestApp, id: &str) -> bool {
    app.state
        .admin
        .get_account(&Actor::system(), id)
        .await
        .unwrap()
        .account
        .enabled
}

async fn exists(app: &TestApp, id: &str) -> bool {
    app.state
        .admin
        .get_account(&Actor::system(), id)
        .await
        .is_ok()
}

async fn introspector(app: &TestApp) -> Creds {
    app.account("introspector")
        .roles(&["Token Introspector"])
        .create()
        .await
}

/// The `<tr>` of the account in a list page.
fn row_of<'h>(html: &'h str, id: &str) -> &'h str {
    let start = html
        .find(&format!("<tr data-account-id=\"{id}\""))
        .unwrap_or_else(|| panic!("no row for {id} in {html}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

/// The credentials on a credentials page.
fn creds_on(html: &str, id: &str, name: &str) -> Creds {
    Creds {
        id: id.to_owned(),
        name: name.to_owned(),
        client_id: value_of(html, "id=\"cred-client-id\" readonly value=\"").unwrap(),
        client_secret: value_of(html, "id=\"cred-client-secret\" readonly value=\"").unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// The Enabled toggle

#[tokio::test]
async fn the_toggle_form_disables_and_enables_and_goes_back_to_the_list() {
    let app = TestApp::spawn().await;
    let inspector = introspector(&app).await;
    let c = app.account("billing").create().await;
    let old = app.token(&c).await;
    let mut b = signed_in_admin(&app).await;
    let list = b.get("/settings/service-accounts").await.text();
    let row = row_of(&list, &c.id);
    assert!(
        row.contains(&format!("action=\"{}\"", page(&c.id, "enabled"))),
        "{row}"
    );
    assert!(row.contains("name=\"enabled\" value=\"false\""), "{row}");
    assert!(row.contains("aria-checked=\"true\""), "{row}");
    assert!(row.contains(">Enabled</span></button>"), "{row}");
    let csrf = csrf_of(row);

    let res = b
        .post(
            &page(&c.id, "enabled"),
            &[("csrf", &csrf), ("enabled", "false")],
        )
        .await;
    assert_redirect_to_list(&res);
    assert!(!enabled(&app, &c.id).await);
    assert_invalid_client(&app.token_response(&c).await);
    app.whoami(&old).await.assert_invalid_token();
    assert!(!app.is_active(&inspector, &old).await);
    let list = b.get("/settings/service-accounts").await.text();
    let row = row_of(&list, &c.id);
    assert!(row.contains(">Disabled</span></button>"), "{row}");
    assert!(row.contains("name=\"enabled\" value=\"true\""), "{row}");
    assert!(row.contains("aria-label=\"billing enabled\""), "{row}");
    assert!(row.contains("aria-checked=\"false\""), "{row}");

    let res = b
        .post(
            &page(&c.id, "enabled"),
            &[("csrf", &csrf), ("enabled", "true")],
        )
        .await;
    assert_redirect_to_list(&res);
    assert!(enabled(&app, &c.id).await);
    let new = app.token(&c).await;
    assert!(app.is_active(&inspector, &new).await);
    assert!(!app.is_active(&inspector, &old).await, "not revived");

    // Posting the state it already has changes nothing and is no error.
    let res = b
        .post(
            &page(&c.id, "enabled"),
            &[("csrf", &csrf), ("enabled", "true")],
        )
        .await;
    assert_redirect_to_list(&res);
    assert!(app.is_active(&inspector, &new).await);

    // Nonsense is refused.
    for value in ["yes", ""] {
        let res = b
            .post(
                &page(&c.id, "enabled"),
                &[("csrf", &csrf), ("enabled", value)],
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    }
    let res = b
        .post(
            &page("no-such-id", "enabled"),
            &[("csrf", &csrf), ("enabled", "false")],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn htmx_gets_only_the_row_in_its_new_state() {
    let app = TestApp::spawn().await;
    let c = app
        .account("billing")
        .roles(&["Token Introspector"])
        .create()
        .await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let hx = [("hx-request", "true")];

    let res = b
        .post_with_headers(
            &page(&c.id, "enabled"),
            &[("csrf", &csrf), ("enabled", "false")],
            &hx,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = res.text();
    let trimmed = html.trim();
    assert!(
        trimmed.starts_with(&format!("<tr data-account-id=\"{}\"", c.id)),
        "{html}"
    );
    assert!(trimmed.ends_with("</tr>"), "{html}");
    assert!(!html.contains("<html") && !html.contains("<table"));
    assert!(html.contains(">Disabled</span></button>"), "{html}");
    assert!(html.contains("aria-checked=\"false\""));
    assert!(html.contains("name=\"enabled\" value=\"true\""));
    assert!(html.contains(&format!("hx-post=\"{}\"", page(&c.id, "enabled"))));
    assert!(html.contains(&format!("name=\"csrf\" value=\"{csrf}\"")));
    assert!(html.contains("Token Introspector") && html.contains(&c.client_id));
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    assert_invalid_client(&app.token_response(&c).await);

    let res = b
        .post_with_headers(
            &page(&c.id, "enabled"),
            &[("csrf", &csrf), ("enabled", "true")],
            &hx,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    assert!(html.contains(">Enabled</span></button>"), "{html}");
    assert!(html.contains("name=\"enabled\" value=\"false\""));
    assert_eq!(app.token_response(&c).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// The account page

#[tokio::test]
async fn the_account_page_shows_details_roles_and_activity() {
    let app = TestApp::spawn().await;
    let ids = app
        .state
        .admin
        .role_ids_by_names(&["Auditor".to_owned()])
        .await
        .unwrap();
    let created = app
        .state
        .admin
        .create_account(
            &Actor::system(),
            keygate::admin::accounts::CreateAccount {
                name: "billing <x>".into(),
                description: "ships invoices".into(),
                role_ids: ids,
                token_lifetime_secs: Some(900),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = created.id.clone();
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    b.post(
        &page(&id, "enabled"),
        &[("csrf", &csrf), ("enabled", "false")],
    )
    .await;

    let res = b.get(&page(&id, "")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    let html = res.text();
    assert!(
        html.contains("<h1>billing &#60;x&#62;</h1>")
            || html.contains("<h1>billing &lt;x&gt;</h1>"),
        "{html}"
    );
    assert!(!html.contains("billing <x>"));
    assert!(html.contains("ships invoices"));
    assert!(html.contains("<span class=\"status off\">Disabled</span>"));
    assert!(html.contains(&created.client_id));
    assert!(!html.contains(created.secret()));
    assert!(html.contains("15 minutes"));
    assert!(html.contains("https://keygate.test/oauth/token"));
    assert!(html.contains(&id));
    assert!(html.contains("Never"), "not used yet");
    // Roles with their permissions.
    assert!(html.contains("<h2>Roles</h2>"));
    assert!(html.contains("<td>Auditor</td>"), "{html}");
    assert!(html.contains("<code>audit:read</code>"));
    assert!(html.contains("<code>service-accounts:read</code>"));
    // Activity: who did what.
    assert!(html.contains("<h2>Activity</h2>"));
    assert!(html.contains("service_account.created"));
    assert!(html.contains("service_account.disabled"));
    assert!(html.contains("<td>admin</td>"), "{html}");
    assert!(html.contains("<td>command line</td>"), "{html}");
    // The ⋮ menu.
    assert!(html.contains("class=\"menu\""));
    for action in ["edit", "regenerate", "delete"] {
        assert!(
            html.contains(&format!("href=\"{}\"", page(&id, action))),
            "{action}"
        );
    }

    let res = b.get(&page("no-such-id", "")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Edit

#[tokio::test]
async fn the_edit_page_saves_name_description_lifetime_and_roles() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let mut b = signed_in_admin(&app).await;
    let form = b.get(&page(&c.id, "edit")).await;
    assert_eq!(form.status, StatusCode::OK);
    let html = form.text();
    assert!(html.contains("value=\"billing\""));
    assert!(html.contains("name=\"lifetime_amount\"") && html.contains("value=\"1\""));
    assert!(
        html.contains("<option value=\"hours\" selected>hours</option>"),
        "{html}"
    );
    assert!(html.contains("value=\"builtin-auditor\" checked"), "{html}");
    assert!(!html.contains("value=\"builtin-token-introspector\" checked"));
    let csrf = csrf_of(&html);
    let old = app.token(&c).await;

    let res = b
        .post(
            &page(&c.id, "edit"),
            &[
                ("csrf", &csrf),
                ("name", "Billing v2"),
                ("description", "ships invoices"),
                ("token_lifetime_secs", "120"),
                ("role", "builtin-token-introspector"),
            ],
        )
        .await;
    let res = b.follow(&res).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = res.text();
    assert!(html.contains("Changes saved."));
    assert!(html.contains("<h1>Billing v2</h1>"));
    assert!(html.contains("ships invoices"));
    assert!(html.contains("2 minutes"));
    assert!(html.contains("<td>Token Introspector</td>"));
    assert!(!html.contains("<td>Auditor</td>"));
    assert!(html.contains("service_account.updated"));

    let s = app
        .state
        .admin
        .get_account(&Actor::system(), &c.id)
        .await
        .unwrap();
    assert_eq!(s.account.name, "Billing v2");
    assert_eq!(s.account.description, "ships invoices");
    assert_eq!(s.account.token_lifetime_secs, 120);
    let roles: Vec<&str> = s.roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(roles, ["Token Introspector"]);
    // New tokens follow; the old token lost the removed role's permissions.
    let t = app.token_response(&c).await.json();
    assert_eq!(t["expires_in"], 120);
    assert_eq!(t["scope"], "tokens:introspect");
    assert_eq!(
        app.whoami(&old).await.json()["permissions"],
        serde_json::json!([])
    );

    // Unticking every role removes them all.
    let res = b
        .post(
            &page(&c.id, "edit"),
            &[
                ("csrf", &csrf),
                ("name", "Billing v2"),
                ("description", ""),
                ("token_lifetime_secs", "120"),
            ],
        )
        .await;
    let res = b.follow(&res).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("No roles"));
}

#[tokio::test]
async fn the_edit_page_reports_a_duplicate_name_or_bad_lifetime_inline_and_keeps_the_input() {
    let app = TestApp::spawn().await;
    app.account("Shipping").create().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let cases = [
        ("SHIPPING", "60", "already exists"),
        ("billing 2", "59", "between 60 and 86400"),
        ("billing 2", "86401", "between 60 and 86400"),
        ("billing 2", "an hour", "whole number"),
        ("billing 2", "", "whole number"),
        ("   ", "600", "Name is required."),
    ];
    for (name, lifetime, message) in cases {
        let res = b
            .post(
                &page(&c.id, "edit"),
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("description", "typed words"),
                    ("token_lifetime_secs", lifetime),
                    ("role", "builtin-token-introspector"),
                ],
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name} {lifetime}"
        );
        let html = res.text();
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(html.contains(message), "{message}: {html}");
        assert!(
            html.contains(&format!("value=\"{name}\"")),
            "the name is kept"
        );
        assert!(
            html.contains(">typed words</textarea>"),
            "the description is kept"
        );
        assert!(
            html.contains(&format!("value=\"{lifetime}\"")),
            "the lifetime is kept"
        );
        assert!(
            html.contains("value=\"builtin-token-introspector\" checked"),
            "the roles are kept"
        );
        assert!(!html.contains("value=\"builtin-auditor\" checked"));
        assert!(html.contains("<h1>Edit billing</h1>"), "{html}");
    }
    let s = app
        .state
        .admin
        .get_account(&Actor::system(), &c.id)
        .await
        .unwrap();
    assert_eq!(s.account.name, "billing");
    assert_eq!(s.account.description, "");
    assert_eq!(s.account.token_lifetime_secs, 3600);
    assert_eq!(s.roles[0].name, "Auditor");
}

// ---------------------------------------------------------------------------------------------
// Regenerate

#[tokio::test]
async fn regenerating_shows_new_keys_once_with_downloads_and_the_old_pair_stops() {
    let app = TestApp::spawn().await;
    let inspector = introspector(&app).await;
    let c = app.account("billing").create().await;
    let old_token = app.token(&c).await;
    let mut b = signed_in_admin(&app).await;

    let confirm = b.get(&page(&c.id, "regenerate")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let html = confirm.text();
    assert!(html.contains("Regenerate Client Keys for billing"));
    assert!(html.contains("name=\"grace_period_seconds\""));
    assert!(html.contains("<option value=\"0\" selected>Immediately</option>"));
    // Only looking changes nothing.
    assert_eq!(app.token_response(&c).await.status, StatusCode::OK);
    let csrf = csrf_of(&html);

    let res = b
        .post(
            &page(&c.id, "regenerate"),
            &[("csrf", &csrf), ("grace_period_seconds", "0")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    let html = res.text();
    assert!(html.contains("New client keys for billing"), "{html}");
    assert!(html.contains("will not be shown again"));
    let new = creds_on(&html, &c.id, "billing");
    assert_ne!(new.client_id, c.client_id);

    let (json, json_file) = data_link(&html, "download-json");
    assert_eq!(json_file, "billing-credentials.json");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["client_id"], new.client_id.as_str());
    assert_eq!(json["client_secret"], new.client_secret.as_str());
    assert_eq!(json["access_token_uri"], "https://keygate.test/oauth/token");
    let (csv, csv_file) = data_link(&html, "download-csv");
    assert_eq!(csv_file, "billing-credentials.csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    let from_csv = Creds {
        client_id: row[1].to_owned(),
        client_secret: row[2].to_owned(),
        ..c.clone()
    };
    let from_json = Creds {
        client_id: json["client_id"].as_str().unwrap().to_owned(),
        client_secret: json["client_secret"].as_str().unwrap().to_owned(),
        ..c.clone()
    };
    assert_eq!(app.token_response(&from_json).await.status, StatusCode::OK);
    assert_eq!(app.token_response(&from_csv).await.status, StatusCode::OK);
    assert_invalid_client(&app.token_response(&c).await);
    assert!(!app.is_active(&inspector, &old_token).await);

    // The account page shows the new client ID, no previous one, and never a secret.
    let html = b.get(&page(&c.id, "")).await.text();
    assert!(html.contains(&new.client_id));
    assert!(!html.contains(&new.client_secret));
    assert!(!html.contains("works until"));
    assert!(html.contains("service_account.credentials_regenerated"));
}

#[tokio::test]
async fn regenerating_with_grace_keeps_the_old_pair_working_and_says_until_when() {
    let app = TestApp::spawn().await;
    let inspector = introspector(&app).await;
    let c = app.account("billing").create().await;
    let old_token = app.token(&c).await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let res = b
        .post(
            &page(&c.id, "regenerate"),
            &[("csrf", &csrf), ("grace_period_seconds", "3600")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let new = creds_on(&res.text(), &c.id, "billing");
    assert_eq!(app.token_response(&c).await.status, StatusCode::OK);
    assert_eq!(app.token_response(&new).await.status, StatusCode::OK);
    assert!(app.is_active(&inspector, &old_token).await);

    let html = b.get(&page(&c.id, "")).await.text();
    assert!(html.contains("Previous client ID"), "{html}");
    assert!(
        html.contains(&format!("<code>{}</code> works until", c.client_id)),
        "{html}"
    );

    // A grace period out of range or not a number is refused and changes nothing.
    for grace in ["86401", "-1", "soon"] {
        let res = b
            .post(
                &page(&c.id, "regenerate"),
                &[("csrf", &csrf), ("grace_period_seconds", grace)],
            )
            .await;
        assert!(res.status.is_client_error(), "{grace}: {}", res.status);
    }
    assert_eq!(app.token_response(&new).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Delete

#[tokio::test]
async fn deleting_asks_for_the_name_and_only_a_match_deletes() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let token = app.token(&c).await;
    let mut b = signed_in_admin(&app).await;
    let confirm = b.get(&page(&c.id, "delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let html = confirm.text();
    assert!(html.contains("Delete billing?"));
    assert!(html.contains("name=\"confirm_name\""));
    assert!(html.contains("data-confirm-value=\"billing\""));
    let csrf = csrf_of(&html);

    for typed in ["", "Billing", "billin", "someone else"] {
        let res = b
            .post(
                &page(&c.id, "delete"),
                &[("csrf", &csrf), ("confirm_name", typed)],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}");
        assert!(res.text().contains("does not match; nothing was deleted"));
        assert!(exists(&app, &c.id).await);
    }
    let res = b.post(&page(&c.id, "delete"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.token_response(&c).await.status, StatusCode::OK);

    let res = b
        .post(
            &page(&c.id, "delete"),
            &[("csrf", &csrf), ("confirm_name", "billing")],
        )
        .await;
    assert_redirect_to_list(&res);
    assert!(!exists(&app, &c.id).await);
    assert_invalid_client(&app.token_response(&c).await);
    app.whoami(&token).await.assert_invalid_token();
    let list = b.get("/settings/service-accounts").await.text();
    assert!(!list.contains(&c.client_id));
    assert_eq!(b.get(&page(&c.id, "")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        b.get(&page(&c.id, "delete")).await.status,
        StatusCode::NOT_FOUND
    );
    let res = b
        .post(
            &page(&c.id, "delete"),
            &[("csrf", &csrf), ("confirm_name", "billing")],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// CSRF and read-only users

/// Every state-changing form of the account lifecycle, with a valid body but for `csrf`.
fn lifecycle_forms(c: &Creds) -> Vec<(String, Vec<(&'static str, String)>)> {
    vec![
        (page(&c.id, "enabled"), vec![("enabled", "false".into())]),
        (
            page(&c.id, "edit"),
            vec![
                ("name", "renamed".into()),
                ("description", "changed".into()),
                ("token_lifetime_secs", "60".into()),
            ],
        ),
        (
            page(&c.id, "regenerate"),
            vec![("grace_period_seconds", "0".into())],
        ),
        (
            page(&c.id, "delete"),
            vec![("confirm_name", c.name.clone())],
        ),
    ]
}

async fn assert_unchanged(app: &TestApp, c: &Creds) {
    let s = app
        .state
        .admin
        .get_account(&Actor::system(), &c.id)
        .await
        .expect("the account still exists");
    assert_eq!(s.account.name, c.name);
    assert_eq!(s.account.description, "");
    assert_eq!(s.account.token_lifetime_secs, 3600);
    assert!(s.account.enabled);
    assert_eq!(s.account.client_id, c.client_id);
    assert_eq!(s.roles.len(), 1);
    assert_eq!(app.token_response(c).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_token_changes_nothing_on_any_lifecycle_form() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let token = app.token(&c).await;
    let mut b = signed_in_admin(&app).await;
    let real = b.csrf().await;
    for (path, fields) in lifecycle_forms(&c) {
        for csrf in [
            None,
            Some(""),
            Some("forged"),
            Some(&real[..real.len() - 1]),
        ] {
            let mut form: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if let Some(t) = csrf {
                form.push(("csrf", t));
            }
            for hx in [&[][..], &[("hx-request", "true")][..]] {
                let res = b.post_with_headers(&path, &form, hx).await;
                assert_eq!(res.status, StatusCode::FORBIDDEN, "{path} {csrf:?}");
                assert!(res.text().contains("Nothing was changed"), "{path}");
            }
        }
    }
    assert_unchanged(&app, &c).await;
    assert_eq!(app.whoami(&token).await.status, StatusCode::OK);
    // And the audit log shows nothing but the creation.
    let events = app
        .state
        .admin
        .audit_events(
            &Actor::system(),
            &keygate::store::audit::AuditFilter {
                target: Some(c.id.clone()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
}

#[tokio::test]
async fn a_read_only_user_sees_no_way_to_change_an_account_and_is_refused_when_posting() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    console_user(&app, "auditor", &["Auditor"]).await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in("auditor", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    let list = b.get("/settings/service-accounts").await.text();
    let row = row_of(&list, &c.id);
    assert!(!row.contains("<form"), "{row}");
    assert!(!row.contains("/enabled"), "{row}");
    assert!(!row.contains("<button"), "{row}");
    assert!(
        row.contains("<span class=\"status on\">Enabled</span>"),
        "{row}"
    );

    let html = b.get(&page(&c.id, "")).await.text();
    assert!(html.contains("<h1>billing</h1>"));
    assert!(!html.contains("class=\"menu\""), "no ⋮ menu");
    assert!(!html.contains("⋮"));
    for action in ["edit", "regenerate", "delete", "enabled"] {
        assert!(!html.contains(&page(&c.id, action)), "{action}: {html}");
    }
    // The auditor does see the activity.
    assert!(html.contains("service_account.created"));

    for action in ["edit", "regenerate", "delete"] {
        let res = b.get(&page(&c.id, action)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "GET {action}");
    }
    let csrf = b.csrf().await;
    for (path, fields) in lifecycle_forms(&c) {
        let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("csrf", &csrf));
        let res = b.post(&path, &form).await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "POST {path}: {}",
            res.text()
        );
        let res = b
            .post_with_headers(&path, &form, &[("hx-request", "true")])
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "htmx POST {path}");
    }
    // The other way round too: enabling a disabled account.
    app.disable(&c).await;
    let res = b
        .post(
            &page(&c.id, "enabled"),
            &[("csrf", &csrf), ("enabled", "true")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(
        !app.state
            .admin
            .get_account(&Actor::system(), &c.id)
            .await
            .unwrap()
            .account
            .enabled
    );
    app.enable(&c).await;
    assert_unchanged(&app, &c).await;
}

#[tokio::test]
async fn lifecycle_pages_need_a_session() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    for action in ["", "edit", "regenerate", "delete"] {
        let res = Browser::new(&app).get(&page(&c.id, action)).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{action}");
        assert_eq!(res.header(header::LOCATION), Some("/login"));
    }
    for (path, fields) in lifecycle_forms(&c) {
        let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = Browser::new(&app).post(&path, &form).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.header(header::LOCATION), Some("/login"));
    }
    assert_unchanged(&app, &c).await;
}

#[tokio::test]
async fn reloading_the_new_keys_regenerates_nothing() {
    let app = TestApp::spawn().await;
    let c = app.account("reloaded").create().await;
    let mut b = signed_in_admin(&app).await;
    let html = b.get(&page(&c.id, "regenerate")).await.text();
    let csrf = csrf_of(&html);
    let form_id = crate::console::value_of(&html, "name=\"form_id\" value=\"").expect("a form id");

    // A refused grace period frees the form: corrected, it regenerates.
    let res = b
        .post(
            &page(&c.id, "regenerate"),
            &[
                ("csrf", &csrf),
                ("form_id", &form_id),
                ("grace_period_seconds", "custom"),
                ("grace_amount", "soon"),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    let form = [
        ("csrf", csrf.as_str()),
        ("form_id", form_id.as_str()),
        ("grace_period_seconds", "0"),
    ];
    let res = b.post(&page(&c.id, "regenerate"), &form).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let new = creds_on(&res.text(), &c.id, "reloaded");

    // The reload posts the same form again: the keys just shown stay the keys.
    let again = b.post(&page(&c.id, "regenerate"), &form).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    let html = again.text();
    assert!(html.contains("Already done"), "{html}");
    assert!(!html.contains("kgs_"), "{html}");
    assert!(
        html.contains(&format!("href=\"{}\"", page(&c.id, ""))),
        "{html}"
    );
    assert_eq!(app.token_response(&new).await.status, StatusCode::OK);
    let account = b.get(&page(&c.id, "")).await.text();
    assert!(account.contains(&new.client_id));
}
