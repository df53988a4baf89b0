//! Personal access tokens (`kgp_…`), their token exchange, self-identifying secrets and leak
//! reporting (issue 12), over HTTP.

use std::time::Duration;

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Creds, TestApp, eventually, verify_jwt};

async fn make(app: &TestApp, bearer: &str, account: &str, body: Value) -> crate::helpers::Resp {
    app.post(&format!("/api/v1/service-accounts/{account}/tokens"))
        .bearer(bearer)
        .json(&body)
        .send()
        .await
}

async fn own_token(app: &TestApp, creds: &Creds, body: Value) -> Value {
    let bearer = app.token(creds).await;
    let res = make(app, &bearer, "me", body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    res.json()
}

/// Checks the token format of the issue: `kgp_` + 30 base62 + CRC32 in 6 base62 digits.
fn checksum_ok(token: &str) -> bool {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if token.len() != 40 || !token.starts_with("kgp_") {
        return false;
    }
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&token.as_bytes()[..34]);
    let mut n = u64::from(crc);
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = B62[(n % 62) as usize];
        n /= 62;
    }
    token.as_bytes()[34..] == digits[..]
}

#[tokio::test]
async fn an_account_makes_lists_uses_and_deletes_its_own_personal_token() {
    let app = TestApp::spawn().await;
    let creds = app.account("ci").roles(&["Auditor"]).create().await;
    let made = own_token(
        &app,
        &creds,
        json!({"name": "deploy bot", "expires_in_days": 30, "scope": "service-accounts:read"}),
    )
    .await;
    let token = made["token"].as_str().unwrap().to_owned();
    assert!(checksum_ok(&token), "{token}");
    assert_eq!(made["prefix"], &token[..12]);
    assert_eq!(made["scope"], "service-accounts:read");
    let expires = keygate::domain::parse_rfc3339(made["expires_at"].as_str().unwrap()).unwrap();
    let in_30_days = keygate::domain::now_ms() + 30 * 86_400_000;
    assert!(
        (expires - in_30_days).abs() < 60_000,
        "{expires} vs {in_30_days}"
    );

    // It works as a bearer token: whoami, the REST API, introspection.
    let who = app.whoami(&token).await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.text());
    assert_eq!(who.json()["permissions"], json!(["service-accounts:read"]));
    let list = app
        .get("/api/v1/service-accounts")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let introspector = app
        .account("introspector")
        .roles(&["Token Introspector"])
        .create()
        .await;
    let i = app.introspect(&introspector, &token).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["scope"], "service-accounts:read");
    assert_eq!(i["client_id"], creds.client_id.as_str());
    assert_eq!(i["sub"], creds.id.as_str());
    assert_eq!(i["token_type"], "Bearer");
    assert_eq!(i["exp"], expires / 1000);

    // The list never shows the token.
    let bearer = app.token(&creds).await;
    let listed = app
        .get("/api/v1/service-accounts/me/tokens")
        .bearer(&bearer)
        .send()
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.text().contains(&token));
    let items = listed.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    for field in [
        "id",
        "name",
        "prefix",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
    ] {
        assert!(items[0].get(field).is_some(), "{field} in {}", items[0]);
    }

    // Deleted: refused at once, here and on a second instance.
    let other = app.another_instance().await;
    assert_eq!(other.whoami(&token).await.status, StatusCode::OK);
    let id = made["id"].as_str().unwrap();
    let gone = app
        .delete(&format!("/api/v1/service-accounts/me/tokens/{id}"))
        .bearer(&bearer)
        .send()
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text());
    assert_eq!(app.whoami(&token).await.status, StatusCode::UNAUTHORIZED);
    assert!(
        eventually(Duration::from_secs(2), async || other
            .whoami(&token)
            .await
            .status
            == StatusCode::UNAUTHORIZED)
        .await,
        "the second instance still accepts a deleted personal token"
    );
}

#[tokio::test]
async fn a_personal_token_never_carries_more_than_its_account_and_expiry_is_bounded() {
    let app = TestApp::spawn().await;
    let creds = app.account("ci").roles(&["Auditor"]).create().await;
    let bearer = app.token(&creds).await;
    for (body, field) in [
        (
            json!({"name": "x", "expires_in_days": 5, "scope": "users:write"}),
            "scope",
        ),
        (
            json!({"name": "x", "scope": "audit:read"}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "expires_in_days": 91}),
            "expires_in_days",
        ),
        (json!({"name": "", "expires_in_days": 5}), "name"),
        (
            json!({"name": "x", "expires_in_days": 5, "resource": "https://nowhere.example"}),
            "resource",
        ),
    ] {
        let res = make(&app, &bearer, "me", body.clone()).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text()
        );
        assert_eq!(res.json()["field"], field, "{body}");
    }
    // Without a scope, everything the account holds for the API.
    let all = own_token(&app, &creds, json!({"name": "all", "expires_in_days": 90})).await;
    assert_eq!(all["scope"], "audit:read service-accounts:read");
}

#[tokio::test]
async fn making_another_accounts_token_needs_the_permission_and_the_takeover_rule() {
    let app = TestApp::spawn().await;
    let target = app.account("target").roles(&["Auditor"]).create().await;
    let reader = app.account("reader").roles(&["Auditor"]).create().await;
    let manager = app
        .account("manager")
        .roles(&["Service Account Manager", "Auditor"])
        .create()
        .await;
    let admin_target = app.account("root").roles(&["Administrator"]).create().await;
    let body = json!({"name": "for you", "expires_in_days": 1});
    let reader_token = app.token(&reader).await;
    assert_eq!(
        make(&app, &reader_token, &target.id, body.clone())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let manager_token = app.token(&manager).await;
    let made = make(&app, &manager_token, &target.id, body.clone()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    // An account holding more than the manager (Administrator) is out of reach.
    let refused = make(&app, &manager_token, &admin_target.id, body).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
}

#[tokio::test]
async fn a_disabled_accounts_personal_tokens_are_refused_until_it_is_enabled() {
    let app = TestApp::spawn().await;
    let creds = app.account("ci").roles(&["Auditor"]).create().await;
    let made = own_token(&app, &creds, json!({"name": "t", "expires_in_days": 3})).await;
    let token = made["token"].as_str().unwrap();
    app.disable(&creds).await;
    assert_eq!(app.whoami(token).await.status, StatusCode::UNAUTHORIZED);
    app.enable(&creds).await;
    assert_eq!(app.whoami(token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_personal_token_with_a_bad_checksum_is_refused() {
    let app = TestApp::spawn().await;
    let creds = app.account("ci").roles(&["Auditor"]).create().await;
    let made = own_token(&app, &creds, json!({"name": "t", "expires_in_days": 3})).await;
    let token = made["token"].as_str().unwrap();
    let mut forged = token.to_owned();
    let c = if &forged[20..21] == "a" { "b" } else { "a" };
    forged.replace_range(20..21, c);
    assert!(!checksum_ok(&forged));
    assert_eq!(app.whoami(&forged).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.whoami(token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn token_exchange_turns_a_personal_token_into_a_short_lived_jwt() {
    let app = TestApp::spawn().await;
    let creds = app
        .account("ci")
        .roles(&["Auditor"])
        .lifetime(600)
        .create()
        .await;
    let made = own_token(
        &app,
        &creds,
        json!({"name": "t", "expires_in_days": 3, "scope": "audit:read"}),
    )
    .await;
    let token = made["token"].as_str().unwrap();
    let exchange = |subject: &str, scope: Option<&str>| {
        let mut form = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", subject),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let form: Vec<(String, String)> = form
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.post("/oauth/token").form(&pairs).send().await
        }
    };
    let res = exchange(token, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    let body = res.json();
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "audit:read");
    assert!(body["expires_in"].as_i64().unwrap() <= 600);
    let (_, claims) = verify_jwt(
        body["access_token"].as_str().unwrap(),
        &app.jwks().await,
        &app.issuer,
    );
    assert_eq!(claims["sub"], creds.id.as_str());
    assert_eq!(claims["scope"], "audit:read");
    // Never more than the personal token: a wider scope is refused.
    let wider = exchange(token, Some("service-accounts:read")).await;
    assert_eq!(wider.status, StatusCode::BAD_REQUEST);
    assert_eq!(wider.json()["error"], "invalid_scope");
    // A bad subject token is invalid_request (RFC 8693 §2.2.2), with the reason.
    let bad = exchange("kgp_nope", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"], "invalid_request");
    assert!(
        bad.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("subject_token"),
        "{}",
        bad.text()
    );
}

#[tokio::test]
async fn new_secrets_carry_a_checksum_and_a_forged_one_is_refused() {
    let app = TestApp::spawn().await;
    let creds = app.account("ci").roles(&["Auditor"]).create().await;
    let s = &creds.client_secret;
    assert!(s.starts_with("kgs_") && s.len() == 4 + 43 + 6, "{s}");
    let mut forged = s.clone();
    let c = if &forged[10..11] == "a" { "b" } else { "a" };
    forged.replace_range(10..11, c);
    let res = app.token_response(&creds.with_secret(&forged)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error"], "invalid_client");
    assert_eq!(app.token_response(&creds).await.status, StatusCode::OK);
}

async fn report(app: &TestApp, body: &str) -> crate::helpers::Resp {
    app.post("/oauth/leaked")
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
}

#[tokio::test]
async fn a_reported_secret_disables_its_account_and_kills_its_tokens() {
    let app = TestApp::spawn().await;
    let creds = app.account("leaky").roles(&["Auditor"]).create().await;
    let bystander = app.account("bystander").roles(&["Auditor"]).create().await;
    let token = app.token(&creds).await;
    let other = app.another_instance().await;
    assert_eq!(other.whoami(&token).await.status, StatusCode::OK);

    let res = report(
        &app,
        &json!({"credentials": [creds.client_secret, "hello"]}).to_string(),
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(res.json(), json!({}));

    assert_eq!(app.whoami(&token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.token_response(&creds).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        eventually(Duration::from_secs(2), async || other
            .whoami(&token)
            .await
            .status
            == StatusCode::UNAUTHORIZED)
        .await
    );
    assert_eq!(app.token_response(&bystander).await.status, StatusCode::OK);

    let root = app.account("root").roles(&["Administrator"]).create().await;
    let admin = app.token(&root).await;
    let path = format!("/api/v1/service-accounts/{}", creds.id);
    let shown = app.get(&path).bearer(&admin).send().await.json();
    assert_eq!(shown["enabled"], false);
    assert_eq!(shown["disabled_reason"], "secret reported leaked");
    let audit = app
        .get(&format!("/api/v1/audit-events?target={}", creds.id))
        .bearer(&admin)
        .send()
        .await
        .text();
    assert!(audit.contains("secret reported leaked"), "{audit}");

    // Enabling is refused until the credentials are regenerated.
    let enable = app
        .request(axum::http::Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"enabled": true}))
        .send()
        .await;
    assert_eq!(
        enable.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        enable.text()
    );
    let fresh = app.regenerate(&creds, 3600).await;
    let enable = app
        .request(axum::http::Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"enabled": true}))
        .send()
        .await;
    assert_eq!(enable.status, StatusCode::OK, "{}", enable.text());
    assert_eq!(app.token_response(&fresh).await.status, StatusCode::OK);
    // The leaked secret got no grace period.
    assert_eq!(
        app.token_response(&creds).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_reported_personal_token_dies_and_garbage_changes_nothing() {
    let app = TestApp::spawn().await;
    let creds = app.account("ci").roles(&["Auditor"]).create().await;
    let made = own_token(&app, &creds, json!({"name": "t", "expires_in_days": 3})).await;
    let token = made["token"].as_str().unwrap();
    for body in [
        json!({"credentials": []}).to_string(),
        json!({"credentials": ["kgs_nothing", "kgp_nothing", "", "x".repeat(500)]}).to_string(),
    ] {
        let res = report(&app, &body).await;
        assert_eq!(res.status, StatusCode::ACCEPTED);
        assert_eq!(res.json(), json!({}));
    }
    assert_eq!(app.whoami(token).await.status, StatusCode::OK);
    assert_eq!(app.token_response(&creds).await.status, StatusCode::OK);
    for bad in ["not json", "{\"credentials\": \"one\"}", "[1]"] {
        assert_eq!(
            report(&app, bad).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let res = report(&app, &json!({"credentials": [token]}).to_string()).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(res.json(), json!({}));
    assert_eq!(app.whoami(token).await.status, StatusCode::UNAUTHORIZED);
    // Its account stays enabled.
    assert_eq!(app.token_response(&creds).await.status, StatusCode::OK);
}
