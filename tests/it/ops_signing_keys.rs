//! Signing-key rotation (issue 15): one operation behind `keygate keys rotate`, the console's
//! button and `POST /api/v1/signing-keys/rotate`. The new key signs at once on every instance;
//! the JWKS publishes old and new until no token the old key signed can be alive.

use std::time::Duration;

use axum::http::StatusCode;
use keygate::domain::audit::Actor;
use serde_json::Value;

use crate::console::{Browser, console_user, csrf_of, signed_in_admin};
use crate::helpers::{TestApp, eventually, verify_jwt};
use crate::ops_cli::keygate;

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_rotation_on_one_instance_signs_with_the_new_key_everywhere_and_old_tokens_live_on() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    // The shortest lifetime there is, so the old key retires within the test.
    let creds = a
        .account("billing")
        .roles(&["Token Introspector"])
        .lifetime(60)
        .create()
        .await;
    let old_token = b.token(&creds).await;
    let old_kid = kid_of(&old_token);

    let rotation = a
        .state
        .admin
        .rotate_signing_key(&Actor::system())
        .await
        .unwrap();
    assert_ne!(rotation.kid, old_kid);
    assert_eq!(rotation.retired, vec![old_kid.clone()]);

    // At once on the instance that rotated, within a second on the other.
    let on_a = a.token(&creds).await;
    assert_eq!(kid_of(&on_a), rotation.kid);
    let switched = eventually(Duration::from_secs(1), async || {
        kid_of(&b.token(&creds).await) == rotation.kid
    })
    .await;
    assert!(switched, "instance B still signs with the old key");

    // Both instances publish both keys; every token verifies against either JWKS with an
    // ordinary JWT library, and at introspection and the REST API of either instance.
    let on_b = b.token(&creds).await;
    for app in [&a, &b] {
        let jwks = app.jwks().await;
        assert_eq!(kids(&jwks), vec![old_kid.clone(), rotation.kid.clone()]);
        for token in [&old_token, &on_a, &on_b] {
            verify_jwt(token, &jwks, &a.issuer);
            assert!(app.is_active(&creds, token).await);
            assert_eq!(app.whoami(token).await.status, StatusCode::OK);
        }
    }

    // The old key leaves once its last token (60 s, plus leeway and propagation) is dead.
    let retired = eventually(Duration::from_secs(90), async || {
        kids(&a.jwks().await) == vec![rotation.kid.clone()]
            && kids(&b.jwks().await) == vec![rotation.kid.clone()]
    })
    .await;
    assert!(retired, "the old key is still published");
    for app in [&a, &b] {
        assert!(!app.is_active(&creds, &old_token).await);
        let fresh = app.token(&creds).await;
        verify_jwt(&fresh, &app.jwks().await, &a.issuer);
        assert!(app.is_active(&creds, &fresh).await);
    }
    // A restart loads the same keys.
    let c = a.another_instance().await;
    assert_eq!(kids(&c.jwks().await), vec![rotation.kid.clone()]);
    assert_eq!(kid_of(&c.token(&creds).await), rotation.kid);
}

#[tokio::test]
async fn the_rest_api_lists_and_rotates_the_keys_with_roles_write() {
    let app = TestApp::spawn().await;
    let admin = app.account("ops").roles(&["Administrator"]).create().await;
    let manager = app
        .account("manager")
        .roles(&["Service Account Manager"])
        .create()
        .await;
    let admin_token = app.token(&admin).await;
    let first_kid = kid_of(&admin_token);

    let list = app
        .get("/api/v1/signing-keys")
        .bearer(&admin_token)
        .send()
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let items = list.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kid"], first_kid.as_str());
    assert_eq!(items[0]["signing"], true);
    assert_eq!(items[0]["retires_at"], Value::Null);

    let manager_token = app.token(&manager).await;
    let refused = app
        .post("/api/v1/signing-keys/rotate")
        .bearer(&manager_token)
        .send()
        .await;
    refused.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(app.jwks().await["keys"].as_array().unwrap().len(), 1);

    let res = app
        .post("/api/v1/signing-keys/rotate")
        .bearer(&admin_token)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = res.json();
    let new_kid = body["kid"].as_str().unwrap().to_owned();
    assert_eq!(body["retired"][0], first_kid.as_str());
    // An hour's lifetime (the default) keeps the old key published for over an hour.
    let retires_at: humantime::Timestamp = body["retires_at"].as_str().unwrap().parse().unwrap();
    let left = std::time::SystemTime::from(retires_at)
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(left > Duration::from_secs(3600), "{left:?}");

    let items = app
        .get("/api/v1/signing-keys")
        .bearer(&admin_token)
        .send()
        .await
        .json()["items"]
        .clone();
    assert_eq!(items[0]["kid"], first_kid.as_str());
    assert_eq!(items[0]["signing"], false);
    assert_eq!(items[0]["retires_at"], body["retires_at"]);
    assert_eq!(items[1]["kid"], new_kid.as_str());
    assert_eq!(items[1]["signing"], true);
    // The token signed before still works; new ones carry the new kid.
    assert_eq!(app.whoami(&admin_token).await.status, StatusCode::OK);
    assert_eq!(kid_of(&app.token(&admin).await), new_kid);

    let audit = app
        .get("/api/v1/audit-events?action=signing_key.")
        .bearer(&admin_token)
        .send()
        .await
        .json();
    let event = &audit["items"][0];
    assert_eq!(event["action"], "signing_key.rotated");
    assert_eq!(event["target"]["id"], new_kid.as_str());
    assert_eq!(event["actor"]["name"], "ops");
}

#[tokio::test]
async fn the_console_rotates_after_confirmation_with_csrf_and_only_for_roles_write() {
    let app = TestApp::spawn().await;
    let before = kids(&app.jwks().await);
    let mut b = signed_in_admin(&app).await;
    let page = b.get("/settings/signing-keys").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains(&before[0]), "{html}");
    assert!(html.contains("Signs new tokens"));
    assert!(html.contains("href=\"/settings/signing-keys/rotate\""));

    let confirm = b.get("/settings/signing-keys/rotate").await;
    assert_eq!(confirm.status, StatusCode::OK);
    let csrf = csrf_of(&confirm.text());
    let forged = b
        .post("/settings/signing-keys/rotate", &[("csrf", "wrong")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(kids(&app.jwks().await), before);

    let done = b
        .post("/settings/signing-keys/rotate", &[("csrf", &csrf)])
        .await;
    let landed = b.follow(&done).await;
    assert!(
        landed.text().contains("Signing key rotated"),
        "{}",
        landed.text()
    );
    let after = kids(&app.jwks().await);
    assert_eq!(after.len(), 2);
    assert_eq!(after[0], before[0]);
    assert!(landed.text().contains("Retiring"));
    assert!(landed.text().contains(&after[1]));

    // A user without roles:write sees the keys but gets no button and cannot rotate.
    console_user(&app, "auditor", &["Auditor"]).await;
    let mut viewer = Browser::new(&app);
    viewer.sign_in("auditor", crate::console::PASSWORD).await;
    let page = viewer.get("/settings/signing-keys").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text().contains("/settings/signing-keys/rotate"));
    assert_eq!(
        viewer.get("/settings/signing-keys/rotate").await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = viewer.csrf().await;
    let refused = viewer
        .post("/settings/signing-keys/rotate", &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(kids(&app.jwks().await).len(), 2);
}

#[tokio::test]
async fn keygate_keys_rotate_on_the_command_line_reaches_the_running_server() {
    let app = TestApp::spawn().await;
    let creds = app.account("billing").create().await;
    let old = kid_of(&app.token(&creds).await);

    let (ok, out) = keygate(&app, &["keys", "rotate", "--output", "json"], None).await;
    assert!(ok, "{out}");
    let rotated: Value = serde_json::from_str(&out).unwrap();
    let new = rotated["kid"].as_str().unwrap().to_owned();
    assert_eq!(rotated["retired"][0], old.as_str());

    // The server learns of it through the change feed.
    let switched = eventually(Duration::from_secs(2), async || {
        kid_of(&app.token(&creds).await) == new
    })
    .await;
    assert!(switched);
    assert_eq!(kids(&app.jwks().await), vec![old.clone(), new.clone()]);

    let (ok, out) = keygate(&app, &["keys", "list"], None).await;
    assert!(ok, "{out}");
    assert!(out.contains(&format!("{old}  created")), "{out}");
    assert!(out.contains("retires "), "{out}");
    assert!(out.contains(&format!("{new}  created")) && out.contains("signs new tokens"));
}
