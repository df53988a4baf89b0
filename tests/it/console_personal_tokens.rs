//! The Personal tokens section of an account's page (issue 12), driven through the router
//! as a browser without JavaScript would: create (shown once), list, delete with
//! confirmation, the takeover rule shown inline, read-only users, CSRF.

use axum::http::{StatusCode, header};

use crate::console::{Browser, PASSWORD, console_user, csrf_of, signed_in_admin, value_of};
use crate::helpers::{Creds, TestApp};

fn page_of(c: &Creds) -> String {
    format!("/settings/service-accounts/{}", c.id)
}

/// Creates a personal token through the section's form; the answer as it came.
async fn create(b: &mut Browser<'_>, c: &Creds, fields: &[(&str, &str)]) -> crate::helpers::Resp {
    let csrf = csrf_of(&b.get(&page_of(c)).await.text());
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    b.post(&format!("{}/personal-tokens", page_of(c)), &form)
        .await
}

#[tokio::test]
async fn a_token_is_made_shown_once_listed_used_and_deleted() {
    let app = TestApp::spawn().await;
    let c = app.account("ci").roles(&["Auditor"]).create().await;
    let mut b = signed_in_admin(&app).await;

    // The form offers what the account holds, as checkboxes, and a default expiry.
    let html = b.get(&page_of(&c)).await.text();
    assert!(html.contains("<h2>Personal tokens</h2>"), "{html}");
    assert!(html.contains("No personal tokens."), "{html}");
    let keygate_api = app.state.oauth.keygate_identifier().to_owned();
    let read = format!("{keygate_api} service-accounts:read");
    assert!(
        html.contains(&format!("name=\"permission\" value=\"{read}\"")),
        "{html}"
    );
    assert!(html.contains(&format!("value=\"{keygate_api} audit:read\"")));
    assert!(
        html.contains(
            "name=\"expires_in_days\" type=\"number\" min=\"1\" max=\"90\" required value=\"30\""
        ),
        "{html}"
    );

    // Made: shown this once, not to be stored anywhere.
    let res = create(
        &mut b,
        &c,
        &[
            ("name", "deploy script"),
            ("expires_in_days", "7"),
            ("permission", &read),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    let shown = res.text();
    let token = value_of(&shown, "id=\"personal-token\" readonly value=\"").unwrap();
    assert!(token.starts_with("kgp_") && token.len() == 40, "{token}");
    assert!(shown.contains("data-copy=\"personal-token\""), "{shown}");
    assert!(shown.contains("It will not be shown again"), "{shown}");
    assert!(shown.contains("in 7 days"), "{shown}");

    // It works, with only what was ticked.
    let who = app.whoami(&token).await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.text());
    assert_eq!(
        who.json()["permissions"],
        serde_json::json!(["service-accounts:read"])
    );

    // Listed on the account page, never with its value.
    let html = b.get(&page_of(&c)).await.text();
    assert!(!html.contains(&token), "the token is shown again");
    assert!(html.contains("<td>deploy script</td>"), "{html}");
    assert!(
        html.contains(&format!("<code>{}…</code>", &token[..12])),
        "{html}"
    );
    assert!(
        html.contains("<code>service-accounts:read</code>"),
        "{html}"
    );
    assert!(html.contains(">in 7 days</time>"), "{html}");
    let delete = value_of(&html, "class=\"button danger\" href=\"")
        .filter(|h| h.contains("/personal-tokens/"))
        .expect("a Delete link");

    // Deleting asks first, then the token stops working at once.
    let confirm = b.get(&delete).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let confirm = confirm.text();
    assert!(confirm.contains("deploy script"), "{confirm}");
    assert!(confirm.contains("stops working at once"), "{confirm}");
    assert_eq!(app.whoami(&token).await.status, StatusCode::OK);
    let res = b.post(&delete, &[("csrf", &csrf_of(&confirm))]).await;
    let back = b.follow(&res).await.text();
    assert!(back.contains("Personal token deleted."), "{back}");
    assert!(back.contains("No personal tokens."), "{back}");
    assert_eq!(app.whoami(&token).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refusals_show_in_the_section_with_what_was_typed() {
    let app = TestApp::spawn().await;
    let c = app.account("ci").roles(&["Auditor"]).create().await;
    let mut b = signed_in_admin(&app).await;
    let res = create(
        &mut b,
        &c,
        &[("name", "too long"), ("expires_in_days", "91")],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("expires_in_days must be between 1 and 90 (the policy&#39;s maximum)."),
        "{html}"
    );
    assert!(html.contains("id=\"personal-token-error\""), "{html}");
    assert!(html.contains("value=\"too long\""), "{html}");
    assert!(html.contains("<h1>ci</h1>"), "a whole account page: {html}");

    let res = create(&mut b, &c, &[("name", "x"), ("expires_in_days", "soon")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("a whole number from 1 to 90"));

    // Nothing was made.
    assert!(
        b.get(&page_of(&c))
            .await
            .text()
            .contains("No personal tokens.")
    );
}

#[tokio::test]
async fn the_takeover_rule_is_shown_inline() {
    let app = TestApp::spawn().await;
    let admin_account = app.account("root").roles(&["Administrator"]).create().await;
    console_user(&app, "manager", &["Service Account Manager"]).await;
    let mut b = Browser::new(&app);
    b.sign_in("manager", PASSWORD).await;
    let res = create(
        &mut b,
        &admin_account,
        &[("name", "mine now"), ("expires_in_days", "30")],
    )
    .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    let html = res.text();
    assert!(html.contains("id=\"personal-token-error\""), "{html}");
    assert!(html.contains("root"), "{html}");
    assert!(!html.contains("id=\"personal-token\""), "{html}");
}

#[tokio::test]
async fn a_read_only_user_sees_the_list_without_forms() {
    let app = TestApp::spawn().await;
    let c = app.account("ci").roles(&["Auditor"]).create().await;
    let mut admin = signed_in_admin(&app).await;
    let res = create(
        &mut admin,
        &c,
        &[("name", "nightly"), ("expires_in_days", "30")],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    console_user(&app, "auditor", &["Auditor"]).await;
    let mut b = Browser::new(&app);
    b.sign_in("auditor", PASSWORD).await;
    let html = b.get(&page_of(&c)).await.text();
    assert!(html.contains("<td>nightly</td>"), "{html}");
    assert!(
        !html.contains("/personal-tokens\""),
        "a create form: {html}"
    );
    assert!(!html.contains("New personal token"), "{html}");
    assert!(!html.contains("/personal-tokens/"), "a Delete link: {html}");
    // And the operation refuses it anyway (a user who cannot see the form gets the error
    // page).
    let csrf = csrf_of(&html);
    let res = b
        .post(
            &format!("{}/personal-tokens", page_of(&c)),
            &[("csrf", &csrf), ("name", "x"), ("expires_in_days", "3")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(
        res.text().contains("service-accounts:write"),
        "{}",
        res.text()
    );
    assert!(!res.text().contains("id=\"personal-token\""));
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let c = app.account("ci").roles(&["Auditor"]).create().await;
    let mut b = signed_in_admin(&app).await;
    let res = b
        .post(
            &format!("{}/personal-tokens", page_of(&c)),
            &[("csrf", "wrong"), ("name", "x"), ("expires_in_days", "3")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(!res.text().contains("id=\"personal-token\""));
    assert!(
        b.get(&page_of(&c))
            .await
            .text()
            .contains("No personal tokens.")
    );

    let res = create(&mut b, &c, &[("name", "x"), ("expires_in_days", "3")]).await;
    let token = value_of(&res.text(), "id=\"personal-token\" readonly value=\"").unwrap();
    let html = b.get(&page_of(&c)).await.text();
    let delete = value_of(&html, "class=\"button danger\" href=\"")
        .filter(|h| h.contains("/personal-tokens/"))
        .unwrap();
    let res = b.post(&delete, &[("csrf", "wrong")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.whoami(&token).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Why keygate disabled an account, and enabling refused until its secret is regenerated

async fn leaked(app: &TestApp) -> Creds {
    let c = app.account("billing").create().await;
    let res = app
        .post("/oauth/leaked")
        .header("content-type", "application/json")
        .body(serde_json::json!({"credentials": [c.client_secret]}).to_string())
        .send()
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    c
}

#[tokio::test]
async fn the_reason_shows_on_the_list_and_the_account_page() {
    let app = TestApp::spawn().await;
    let c = leaked(&app).await;
    app.account("bystander").create().await;
    let mut b = signed_in_admin(&app).await;
    let list = b.get("/settings/service-accounts").await.text();
    assert!(
        list.contains(
            "<span class=\"disabled-reason\" title=\"secret reported leaked\">secret reported leaked</span>"
        ),
        "{list}"
    );
    assert_eq!(
        list.matches("class=\"disabled-reason\"").count(),
        1,
        "{list}"
    );
    let page = b.get(&page_of(&c)).await.text();
    assert!(
        page.contains(
            "<span class=\"disabled-reason\" id=\"disabled-reason\">secret reported leaked</span>"
        ),
        "{page}"
    );
    // A read-only user sees it too.
    console_user(&app, "auditor", &["Auditor"]).await;
    let mut r = Browser::new(&app);
    r.sign_in("auditor", PASSWORD).await;
    assert!(
        r.get("/settings/service-accounts")
            .await
            .text()
            .contains(">secret reported leaked</span>")
    );
}

#[tokio::test]
async fn enabling_before_regenerating_is_refused_where_the_toggle_was() {
    let app = TestApp::spawn().await;
    let c = leaked(&app).await;
    let mut b = signed_in_admin(&app).await;
    let why = "Its secret was reported leaked: regenerate its credentials first, then enable it.";
    let csrf = csrf_of(&b.get(&page_of(&c)).await.text());
    let toggle = format!("{}/enabled", page_of(&c));

    // From the account page: back there, the reason beside the status.
    let res = b
        .post(
            &toggle,
            &[("csrf", &csrf), ("from", "account"), ("enabled", "true")],
        )
        .await;
    let page = b.follow(&res).await.text();
    assert!(
        page.contains(&format!("id=\"status\" role=\"status\">{why}</p>")),
        "{page}"
    );
    assert!(page.contains("<span class=\"status off\">Disabled</span>"));

    // From the list with htmx: the row, saying why.
    let res = b
        .post_with_headers(
            &toggle,
            &[("csrf", &csrf), ("enabled", "true")],
            &[("hx-request", "true")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let row = res.text();
    assert!(row.starts_with("<tr"), "a row, not a page: {row}");
    assert!(
        row.contains(&format!(
            "<div class=\"row-notice error\" role=\"alert\">{why}</div>"
        )),
        "{row}"
    );
    assert!(row.contains("aria-checked=\"false\""), "{row}");

    // From the list without scripts: back to the list with the reason.
    let res = b
        .post(
            &toggle,
            &[("csrf", &csrf), ("enabled", "true"), ("q", "bill")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(res.header(header::LOCATION).unwrap().contains("q=bill"));
    let list = b.follow(&res).await.text();
    assert!(list.contains(why), "{list}");

    // Still disabled; after regenerating, enabling works.
    assert_eq!(
        app.token_response(&c).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.regenerate(&c, 0).await;
    let res = b
        .post(
            &toggle,
            &[("csrf", &csrf), ("from", "account"), ("enabled", "true")],
        )
        .await;
    let page = b.follow(&res).await.text();
    assert!(page.contains("billing enabled."), "{page}");
    assert!(!page.contains("disabled-reason"), "{page}");
}

#[tokio::test]
async fn the_account_pages_boosted_toggle_gets_the_page_back_not_a_row() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let csrf = csrf_of(&b.get(&page_of(&c)).await.text());
    let res = b
        .post_with_headers(
            &format!("{}/enabled", page_of(&c)),
            &[("csrf", &csrf), ("from", "account"), ("enabled", "false")],
            &[("hx-request", "true"), ("hx-boosted", "true")],
        )
        .await;
    let page = b.follow(&res).await.text();
    assert!(page.contains("<h1>billing</h1>"), "{page}");
    assert!(page.contains("billing disabled."), "{page}");
}

#[tokio::test]
async fn reloading_the_shown_token_makes_no_second_one() {
    let app = TestApp::spawn().await;
    let c = app.account("reload").roles(&["Auditor"]).create().await;
    let mut b = signed_in_admin(&app).await;
    let html = b.get(&page_of(&c)).await.text();
    let csrf = csrf_of(&html);
    let form_id = value_of(&html, "name=\"form_id\" value=\"").expect("a form id");
    let url = format!("{}/personal-tokens", page_of(&c));

    // Refused (no name): the same form, corrected, may be sent again.
    let base = [
        ("csrf", csrf.as_str()),
        ("form_id", form_id.as_str()),
        ("expires_in_days", "7"),
    ];
    let res = b.post(&url, &base).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    let mut form = base.to_vec();
    form.push(("name", "nightly"));
    let res = b.post(&url, &form).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let token = value_of(&res.text(), "id=\"personal-token\" readonly value=\"").unwrap();

    // A reload posts it once more: told it was already shown, nothing made, no token.
    let again = b.post(&url, &form).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    let shown = again.text();
    assert!(shown.contains("Already done"), "{shown}");
    assert!(!shown.contains("kgp_"), "{shown}");
    let html = b.get(&page_of(&c)).await.text();
    assert_eq!(html.matches("<td>nightly</td>").count(), 1, "{html}");
    assert_eq!(app.whoami(&token).await.status, StatusCode::OK);

    // Boosted by htmx, the refusal is a notice, not a page inside the page.
    let again = b
        .post_with_headers(
            &url,
            &form,
            &[("hx-request", "true"), ("hx-boosted", "true")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.headers.get("hx-retarget").unwrap(), "#notices");
    assert!(!again.text().contains("<html"), "{}", again.text());
}
