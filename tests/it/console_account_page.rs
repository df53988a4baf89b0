//! The account page for daily use (issue 13), driven through the router: failed client
//! authentications of the last hour with their addresses, the lifetime in words and edited
//! with a unit, copy buttons for the client ID and the token URL (no inline script), the
//! "Actions" menu, and the scope of each live token.

use std::net::SocketAddr;

use axum::http::StatusCode;
use keygate::domain::audit::{Actor, ActorKind, AuditEvent};

use crate::console::{csrf_of, signed_in_admin};
use crate::helpers::{Creds, TestApp};

async fn fail_from(app: &TestApp, creds: &Creds, from: &str) {
    let res = app
        .post("/oauth/token")
        .basic_pair(&creds.client_id, "kgs_guess")
        .form(&[("grant_type", "client_credentials")])
        .sent_from(from.parse::<SocketAddr>().unwrap())
        .send()
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
}

#[tokio::test]
async fn the_page_counts_failed_authentications_of_the_last_hour_with_their_addresses() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let page = b
        .get(&format!("/settings/service-accounts/{}", c.id))
        .await
        .text();
    assert!(
        page.contains("No failed attempts in the last hour."),
        "{page}"
    );

    for _ in 0..3 {
        fail_from(&app, &c, "198.51.100.7:4000").await;
    }
    for _ in 0..2 {
        fail_from(&app, &c, "203.0.113.5:4000").await;
    }
    let s = &app.state;
    keygate::oauth::backoff::audit_failures(&s.backoff, &s.oauth, &s.store)
        .await
        .unwrap();
    // An event from two hours ago is not counted.
    let mut tx = s.store.begin().await.unwrap();
    let anonymous = Actor {
        kind: ActorKind::Anonymous,
        id: String::new(),
        name: "unauthenticated client".into(),
        permissions: Default::default(),
        source: "192.0.2.99".into(),
    };
    let old = AuditEvent {
        action: "client_auth.failed",
        target_kind: "service_account",
        target_id: c.id.clone(),
        target_name: c.name.clone(),
        detail: r#"{"failures":40,"throttled":0,"addresses":["192.0.2.99"]}"#.into(),
    };
    let two_hours_ago = keygate::domain::now_ms() - 2 * 3_600_000;
    keygate::store::audit::append(&mut tx, &anonymous, &old, two_hours_ago)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let page = b
        .get(&format!("/settings/service-accounts/{}", c.id))
        .await
        .text();
    assert!(
        page.contains(
            "5 failed attempts in the last hour, from <code>198.51.100.7</code>, \
             <code>203.0.113.5</code>."
        ),
        "{page}"
    );
    let section = &page[page.find("id=\"failed-auth\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(!section.contains("192.0.2.99"), "{section}");
}

#[tokio::test]
async fn the_lifetime_reads_in_words_and_is_edited_with_a_unit() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let url = format!("/settings/service-accounts/{}", c.id);
    let page = b.get(&url).await.text();
    assert!(
        page.contains("<dt>Access-token lifetime</dt><dd>1 hour</dd>"),
        "{page}"
    );

    let edit = b.get(&format!("{url}/edit")).await.text();
    assert!(edit.contains("name=\"lifetime_amount\""), "{edit}");
    assert!(edit.contains("value=\"1\""), "{edit}");
    assert!(
        edit.contains("<option value=\"hours\" selected>hours</option>"),
        "{edit}"
    );
    let csrf = csrf_of(&edit);
    let res = b
        .post(
            &format!("{url}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "billing"),
                ("description", ""),
                ("lifetime_amount", "15"),
                ("lifetime_unit", "minutes"),
            ],
        )
        .await;
    let page = b.follow(&res).await.text();
    assert!(page.contains("<dd>15 minutes</dd>"), "{page}");
    let s = app
        .state
        .admin
        .get_account(&Actor::system(), &c.id)
        .await
        .unwrap();
    assert_eq!(s.account.token_lifetime_secs, 900);

    // Too long in hours is refused inline, with what was typed kept.
    let res = b
        .post(
            &format!("{url}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "billing"),
                ("description", ""),
                ("lifetime_amount", "25"),
                ("lifetime_unit", "hours"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("value=\"25\""), "{html}");
    assert!(
        html.contains("<option value=\"hours\" selected>hours</option>"),
        "{html}"
    );
}

#[tokio::test]
async fn client_id_and_token_url_have_copy_buttons_the_menu_is_labelled_and_tokens_show_their_scope_and_source()
 {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let from: std::net::SocketAddr = "198.51.100.7:40000".parse().unwrap();
    let res = app
        .post("/oauth/token")
        .basic(&c)
        .sent_from(from)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    assert_eq!(res.status, axum::http::StatusCode::OK, "{}", res.text());
    app.state.oauth.flush_usage().await.unwrap();
    let mut b = signed_in_admin(&app).await;
    let page = b
        .get(&format!("/settings/service-accounts/{}", c.id))
        .await
        .text();
    assert!(
        page.contains(&format!("<code id=\"client-id\">{}</code>", c.client_id)),
        "{page}"
    );
    assert!(
        page.contains("class=\"copy\" data-copy=\"client-id\""),
        "{page}"
    );
    assert!(page.contains("<code id=\"token-url\">"), "{page}");
    assert!(
        page.contains("class=\"copy\" data-copy=\"token-url\""),
        "{page}"
    );
    // Scripts come from static/ only (the CSP allows no inline script).
    assert_eq!(
        page.matches("<script").count(),
        page.matches("<script src=\"/static/").count()
    );
    assert!(
        page.contains("<summary class=\"labelled\">Actions"),
        "{page}"
    );
    let sessions = &page[page.find("<h2>Sessions</h2>").unwrap()..];
    assert!(
        sessions.contains("<th scope=\"col\">Scope</th>"),
        "{sessions}"
    );
    assert!(sessions.contains("<code>audit:read</code>"), "{sessions}");
    // And where each was requested from.
    assert!(
        sessions.contains("<th scope=\"col\">Requested from</th>"),
        "{sessions}"
    );
    assert!(sessions.contains("<code>198.51.100.7</code>"), "{sessions}");
}
