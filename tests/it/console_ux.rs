//! The console's answers for daily use (issue 13's bugs), driven through the router: htmx
//! requests that are signed out or refused get a redirect or a message instead of a page
//! inside a fragment, successful posts end on a page that can be reloaded, the toggle
//! keeps the search and page, permissions are one word each, and the icon is served.

use axum::http::{StatusCode, header};
use keygate::domain::audit::Actor;

use crate::console::{Browser, csrf_of, signed_in_admin};
use crate::helpers::{Resp, TestApp};

const HTMX_ROW: &[(&str, &str)] = &[
    ("hx-request", "true"),
    (
        "hx-current-url",
        "http://keygate.test/settings/service-accounts?q=bill",
    ),
    ("hx-target", ""),
];

async fn enabled(app: &TestApp, id: &str) -> bool {
    app.state
        .admin
        .get_account(&Actor::system(), id)
        .await
        .unwrap()
        .account
        .enabled
}

#[track_caller]
fn assert_no_page(res: &Resp) {
    let body = res.text();
    assert!(!body.contains("<html"), "a whole page: {body}");
    assert!(!body.contains("<body"), "a whole page: {body}");
}

#[track_caller]
fn assert_notice(res: &Resp, status: StatusCode, text: &str) {
    assert_eq!(res.status, status, "{}", res.text());
    assert_eq!(res.headers.get("hx-retarget").unwrap(), "#notices");
    assert_eq!(res.headers.get("hx-reswap").unwrap(), "innerHTML");
    assert_eq!(res.headers.get("hx-push-url").unwrap(), "false");
    assert_no_page(res);
    let body = res.text();
    assert!(body.contains("role=\"alert\""), "{body}");
    assert!(body.contains(text), "{body}");
}

#[tokio::test]
async fn a_signed_out_htmx_toggle_is_sent_to_the_sign_in_page_and_back() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    // The session ends (signed out elsewhere); the page still shows the toggle.
    let res = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);

    let res = b
        .post_with_headers(
            &format!("/settings/service-accounts/{}/enabled", c.id),
            &[("csrf", &csrf), ("enabled", "false")],
            HTMX_ROW,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers.get("hx-redirect").unwrap(),
        "/login?next=%2Fsettings%2Fservice-accounts%3Fq%3Dbill"
    );
    assert!(!res.text().contains("Sign in"), "{}", res.text());
    assert!(enabled(&app, &c.id).await);

    // A boosted link comes back to where it was going.
    let res = b
        .get_with_headers(
            &format!("/settings/service-accounts/{}", c.id),
            &[("hx-request", "true"), ("hx-boosted", "true")],
        )
        .await;
    assert_eq!(
        res.headers.get("hx-redirect").unwrap().to_str().unwrap(),
        format!("/login?next=%2Fsettings%2Fservice-accounts%2F{}", c.id)
    );
    assert_no_page(&res);

    // The search box's request goes back to the page it was typed on.
    let res = b
        .get_with_headers("/settings/service-accounts?q=b", HTMX_ROW)
        .await;
    assert_eq!(
        res.headers.get("hx-redirect").unwrap(),
        "/login?next=%2Fsettings%2Fservice-accounts%3Fq%3Dbill"
    );

    // And the sign-in page follows `next`.
    let page = b
        .get("/login?next=%2Fsettings%2Fservice-accounts%3Fq%3Dbill")
        .await
        .text();
    assert!(
        page.contains("name=\"next\" value=\"/settings/service-accounts?q=bill\""),
        "{page}"
    );
}

#[tokio::test]
async fn htmx_errors_are_messages_in_the_notice_area_not_pages_in_a_row() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    crate::console::console_user(&app, "auditor", &["Auditor"]).await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let toggle = format!("/settings/service-accounts/{}/enabled", c.id);

    let res = b
        .post_with_headers(
            &toggle,
            &[("csrf", "stale"), ("enabled", "false")],
            HTMX_ROW,
        )
        .await;
    assert_notice(&res, StatusCode::FORBIDDEN, "Form expired");
    assert!(enabled(&app, &c.id).await);

    let res = b
        .post_with_headers(
            "/settings/service-accounts/no-such-account/enabled",
            &[("csrf", &csrf), ("enabled", "false")],
            HTMX_ROW,
        )
        .await;
    assert_notice(&res, StatusCode::NOT_FOUND, "does not exist");

    let res = b
        .post_with_headers(&toggle, &[("csrf", &csrf), ("enabled", "maybe")], HTMX_ROW)
        .await;
    assert_notice(&res, StatusCode::BAD_REQUEST, "Choose enabled or disabled.");

    // A read-only user's htmx post is refused with a message too.
    let mut a = Browser::new(&app);
    a.sign_in("auditor", crate::console::PASSWORD).await;
    let acsrf = a.csrf().await;
    let res = a
        .post_with_headers(&toggle, &[("csrf", &acsrf), ("enabled", "false")], HTMX_ROW)
        .await;
    assert_notice(&res, StatusCode::FORBIDDEN, "service-accounts:write");
    assert!(enabled(&app, &c.id).await);

    // A boosted navigation to a missing page is a whole page, in place of the page.
    let res = b
        .get_with_headers(
            "/settings/service-accounts/no-such-account",
            &[("hx-request", "true"), ("hx-boosted", "true")],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.text().contains("<html"));
    assert!(res.headers.get("hx-retarget").is_none());

    // Without htmx the error page is unchanged.
    let res = b
        .post(&toggle, &[("csrf", "stale"), ("enabled", "false")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.text().contains("<h1>Form expired</h1>"));
}

/// Asserts `res` redirects (303) to `to`, then that the page there shows `notice` once.
async fn assert_prg(b: &mut Browser<'_>, res: &Resp, to: &str, notice: &str) -> String {
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    // The address may name the section where the notice shows (`#sessions`).
    assert_eq!(
        res.header(header::LOCATION)
            .map(|l| l.split('#').next().unwrap()),
        Some(to)
    );
    let page = b.get(to).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains(notice), "{notice}: {html}");
    let again = b.get(to).await.text();
    assert!(!again.contains(notice), "the notice shows once: {again}");
    html
}

#[tokio::test]
async fn every_successful_post_ends_on_a_page_that_can_be_reloaded() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    let _t1 = app.token(&c).await;
    let t2 = app.token(&c).await;
    let (_, claims) = app.verify_with_jwks(&t2).await;
    let jti = claims["jti"].as_str().unwrap().to_owned();
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let account = format!("/settings/service-accounts/{}", c.id);
    let boosted = &[("hx-request", "true"), ("hx-boosted", "true")];

    let res = b
        .post_with_headers(
            &format!("{account}/sessions/revoke"),
            &[("csrf", &csrf), ("jti", &jti)],
            boosted,
        )
        .await;
    let html = assert_prg(&mut b, &res, &account, "Token revoked.").await;
    assert!(!html.contains(&jti));

    let res = b
        .post_with_headers(
            &format!("{account}/sessions/revoke-all"),
            &[("csrf", &csrf)],
            boosted,
        )
        .await;
    let html = assert_prg(
        &mut b,
        &res,
        &account,
        "Every token of this account was revoked.",
    )
    .await;
    assert!(html.contains("No live access tokens."));

    let res = b
        .post_with_headers(
            &format!("{account}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "billing-v2"),
                ("description", ""),
                ("token_lifetime_secs", "600"),
            ],
            boosted,
        )
        .await;
    let html = assert_prg(&mut b, &res, &account, "Changes saved.").await;
    assert!(html.contains("<h1>billing-v2</h1>"));

    let api = app.api_defining(&["deploy:run"]).await;
    let perm = format!("{api} deploy:run");
    let res = b
        .post_with_headers(
            "/settings/roles/new",
            &[
                ("csrf", &csrf),
                ("name", "Deployer"),
                ("api", &api),
                ("perm", &perm),
            ],
            boosted,
        )
        .await;
    assert_prg(&mut b, &res, "/settings/roles", "Role Deployer added.").await;
    let id = app
        .state
        .admin
        .role_ids_by_names(&["Deployer".to_owned()])
        .await
        .unwrap()
        .remove(0);
    let res = b
        .post(
            &format!("/settings/roles/{id}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "Deployers"),
                ("api", &api),
                ("perm", &perm),
            ],
        )
        .await;
    assert_prg(&mut b, &res, "/settings/roles", "Role Deployers saved.").await;

    let res = b
        .post(
            "/settings/groups/new",
            &[("csrf", &csrf), ("name", "ops"), ("role", &id)],
        )
        .await;
    assert_prg(&mut b, &res, "/settings/groups", "Group ops saved.").await;

    let res = b
        .post(&format!("/settings/roles/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_prg(&mut b, &res, "/settings/roles", "Role deleted.").await;

    let res = b
        .post(
            &format!("{account}/delete"),
            &[("csrf", &csrf), ("confirm_name", "billing-v2")],
        )
        .await;
    assert_prg(
        &mut b,
        &res,
        "/settings/service-accounts",
        "billing-v2 deleted.",
    )
    .await;
}

#[tokio::test]
async fn toggling_without_javascript_keeps_the_search_and_the_page() {
    let app = TestApp::spawn().await;
    for i in 0..55 {
        app.account(&format!("billing-{i:02}")).create().await;
    }
    app.account("other").create().await;
    let mut b = signed_in_admin(&app).await;
    let first = b.get("/settings/service-accounts?q=billing").await.text();
    let start = first
        .find("href=\"/settings/service-accounts?q=billing&#38;after=")
        .unwrap()
        + 6;
    let end = first[start..].find('"').unwrap() + start;
    let next_url = first[start..end].replace("&#38;", "&");
    let page2 = b.get(&next_url).await.text();
    assert!(page2.contains("billing-54"), "{page2}");
    let after = next_url.split("after=").nth(1).unwrap().to_owned();
    let after = form_urlencoded::parse(format!("a={after}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    // The toggle form of a row on page 2 carries the search and the page.
    assert!(page2.contains("name=\"q\" value=\"billing\""), "{page2}");
    assert!(
        page2.contains(&format!("name=\"after\" value=\"{after}\"")),
        "{page2}"
    );
    let id = app
        .state
        .admin
        .list_accounts(
            &Actor::system(),
            &keygate::store::accounts::ListFilter {
                q: "billing-54".into(),
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .remove(0)
        .account
        .id;
    let csrf = csrf_of(&page2);
    let res = b
        .post(
            &format!("/settings/service-accounts/{id}/enabled"),
            &[
                ("csrf", &csrf),
                ("enabled", "false"),
                ("q", "billing"),
                ("after", &after),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header(header::LOCATION), Some(next_url.as_str()));
    let back = b.follow(&res).await.text();
    assert!(back.contains("billing-54 disabled."), "{back}");
    assert!(back.contains("value=\"billing\""), "the search is kept");
    assert!(!back.contains("billing-00"), "still page 2");
    assert!(!back.contains(">other<"), "still filtered");
    assert!(!enabled(&app, &id).await);
}

#[tokio::test]
async fn a_permission_is_one_word_and_a_line_with_spaces_is_refused_inline() {
    // The role form offers the API's permissions as checkboxes ("<api id> <permission>");
    // a forged value holding spaces or tabs is refused inline, not split into two.
    let app = TestApp::spawn().await;
    let api = app.api_defining(&["deploy:run", "deploy:read"]).await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    for bad in [
        &["Deploy Everything"][..],
        &["deploy:run", "Deploy Everything"][..],
        &["a:b\tc:d"][..],
    ] {
        let perms: Vec<String> = bad.iter().map(|p| format!("{api} {p}")).collect();
        let mut form = vec![("csrf", csrf.as_str()), ("name", "Deploy"), ("api", &api)];
        form.extend(perms.iter().map(|p| ("perm", p.as_str())));
        let res = b.post("/settings/roles/new", &form).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        let html = res.text();
        assert!(html.contains("is not a valid permission"), "{html}");
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(html.contains("value=\"Deploy\""), "the input is kept");
        assert!(
            app.state
                .admin
                .role_ids_by_names(&["Deploy".to_owned()])
                .await
                .map(|ids| ids.is_empty())
                .unwrap_or(true),
            "no role made from {bad:?}"
        );
    }
    let run = format!("{api} deploy:run");
    let read = format!("{api} deploy:read");
    let res = b
        .post(
            "/settings/roles/new",
            &[
                ("csrf", &csrf),
                ("name", "Deploy"),
                ("api", &api),
                ("perm", &run),
                ("perm", &read),
                ("perm", &run),
                // Ticked under another API than the chosen one: not kept.
                ("perm", "builtin-keygate audit:read"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let id = app
        .state
        .admin
        .role_ids_by_names(&["Deploy".to_owned()])
        .await
        .unwrap()
        .remove(0);
    let role = app
        .state
        .admin
        .get_role(&Actor::system(), &id)
        .await
        .unwrap();
    assert_eq!(role.api_id, api);
    assert_eq!(role.permissions, vec!["deploy:read", "deploy:run"]);
}

#[tokio::test]
async fn the_icon_is_served_and_every_page_links_it() {
    let app = TestApp::spawn().await;
    let res = Browser::new(&app).get("/favicon.ico").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.starts_with(&[0, 0, 1, 0]), "an ICO file");
    let svg = Browser::new(&app).get("/static/favicon.svg").await;
    assert_eq!(svg.status, StatusCode::OK);
    assert!(svg.text().starts_with("<svg"));
    let login = Browser::new(&app).get("/login").await.text();
    assert!(
        login.contains("<link rel=\"icon\" href=\"/static/favicon.svg\""),
        "{login}"
    );
}

#[tokio::test]
async fn the_first_run_command_box_can_be_reached_by_keyboard() {
    let app = TestApp::spawn().await;
    let login = Browser::new(&app).get("/login").await.text();
    let pre = &login[login.find("<pre").unwrap()..];
    let pre = &pre[..pre.find('>').unwrap()];
    assert!(pre.contains("tabindex=\"0\""), "{pre}");
    assert!(pre.contains("aria-label=\""), "{pre}");
}

#[tokio::test]
async fn the_toggle_says_what_it_did_with_an_undo_and_the_account_page_has_the_same_switch() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let toggle = format!("/settings/service-accounts/{}/enabled", c.id);
    let res = b
        .post_with_headers(&toggle, &[("csrf", &csrf), ("enabled", "false")], HTMX_ROW)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let row = res.text();
    assert!(row.starts_with("<tr"), "{row}");
    assert!(
        row.contains("<div class=\"row-notice\" role=\"status\">billing disabled ·"),
        "{row}"
    );
    // Undo posts the other value to the same switch.
    let undo = &row[row.find("row-notice").unwrap()..];
    assert!(undo.contains(&format!("hx-post=\"{toggle}\"")), "{undo}");
    assert!(undo.contains("name=\"enabled\" value=\"true\""), "{undo}");
    assert!(undo.contains(">Undo</button>"), "{undo}");
    assert!(!enabled(&app, &c.id).await);
    // The list itself shows no stale notice.
    let list = b.get("/settings/service-accounts").await.text();
    assert!(!list.contains("row-notice"), "{list}");

    // On the account page: Enable, and back to the account page.
    let account = format!("/settings/service-accounts/{}", c.id);
    let page = b.get(&account).await.text();
    let form = &page[page.find("status-action").unwrap()..];
    assert!(form.contains("name=\"from\" value=\"account\""), "{form}");
    assert!(form.contains("name=\"enabled\" value=\"true\""), "{form}");
    assert!(form.contains(">Enable</button>"), "{form}");
    let res = b
        .post(
            &toggle,
            &[("csrf", &csrf), ("from", "account"), ("enabled", "true")],
        )
        .await;
    assert_eq!(
        res.header(header::LOCATION),
        Some(format!("{account}#status").as_str())
    );
    let page = b.follow(&res).await.text();
    assert!(page.contains("billing enabled."), "{page}");
    assert!(page.contains(">Disable</button>"), "{page}");
    assert!(enabled(&app, &c.id).await);
}

#[tokio::test]
async fn error_pages_keep_the_top_bar_and_the_sidebar_and_read_only_users_see_a_mark() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    crate::console::console_user(&app, "auditor", &["Auditor"]).await;
    let mut b = signed_in_admin(&app).await;

    let res = b.get("/settings/service-accounts/no-such-account").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let html = res.text();
    assert!(html.contains("<h1>Not found</h1>"), "{html}");
    assert!(
        html.contains("<nav class=\"sidebar\" aria-label=\"Settings\">"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"username\">admin</span>"),
        "{html}"
    );
    assert!(html.contains("action=\"/logout\""), "{html}");
    assert!(
        !html.contains("View only"),
        "an administrator changes things"
    );

    let res = b
        .post(
            &format!("/settings/service-accounts/{}/enabled", c.id),
            &[("csrf", "stale"), ("enabled", "false")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let html = res.text();
    assert!(html.contains("<h1>Form expired</h1>"), "{html}");
    assert!(html.contains("aria-label=\"Settings\""), "{html}");

    let mut a = Browser::new(&app);
    a.sign_in("auditor", crate::console::PASSWORD).await;
    let list = a.get("/settings/service-accounts").await.text();
    assert!(list.contains("class=\"view-only\""), "{list}");
    let res = a.get("/settings/service-accounts/new").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let html = res.text();
    assert!(html.contains("<h1>Not allowed</h1>"), "{html}");
    assert!(html.contains("aria-label=\"Settings\""), "{html}");
    assert!(html.contains(">View only</span>"), "{html}");

    // Signed out, an unknown address has no sidebar to show.
    let res = Browser::new(&app).get("/no-such-page").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!res.text().contains("aria-label=\"Settings\""));
}

#[tokio::test]
async fn times_read_as_so_long_ago_with_the_exact_instant_kept() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    app.token(&c).await;
    let created = app
        .state
        .admin
        .get_account(&Actor::system(), &c.id)
        .await
        .unwrap()
        .account
        .created_at;
    let iso = keygate::domain::format_ms(created);
    let mut b = signed_in_admin(&app).await;
    let time = format!("<time datetime=\"{iso}\" title=\"");
    let list = b.get("/settings/service-accounts").await.text();
    let at = list
        .find(&time)
        .unwrap_or_else(|| panic!("{time} in {list}"));
    let tag = &list[at..at + list[at..].find("</time>").unwrap()];
    assert!(tag.ends_with(">just now"), "{tag}");
    assert!(tag.contains(" UTC\""), "{tag}");

    let page = b
        .get(&format!("/settings/service-accounts/{}", c.id))
        .await
        .text();
    assert!(page.contains(&time), "{page}");
    // The token's expiry, an hour ahead, in the sessions table.
    assert!(page.contains(">in 1 hour</time>"), "{page}");
    assert!(!page.contains(&format!(">{iso}</time>")), "no raw instants");
}

#[tokio::test]
async fn regenerating_takes_a_custom_grace_period_and_refuses_a_bad_one_inline() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let csrf = b.csrf().await;
    let url = format!("/settings/service-accounts/{}/regenerate", c.id);
    let form = b.get(&url).await.text();
    assert!(form.contains("<option value=\"custom\""), "{form}");
    assert!(form.contains("name=\"grace_amount\""), "{form}");
    assert!(
        form.contains("class=\"danger\">Regenerate Client Keys</button>"),
        "the destructive button looks it: {form}"
    );
    let client_id = || async {
        app.state
            .admin
            .get_account(&Actor::system(), &c.id)
            .await
            .unwrap()
            .account
    };

    for (amount, unit, message) in [
        ("soon", "minutes", "whole number above 0"),
        ("0", "minutes", "whole number above 0"),
        ("25", "hours", "grace period must be between"),
    ] {
        let res = b
            .post(
                &url,
                &[
                    ("csrf", &csrf),
                    ("grace_period_seconds", "custom"),
                    ("grace_amount", amount),
                    ("grace_unit", unit),
                ],
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{amount} {unit}"
        );
        let html = res.text();
        assert!(html.contains(message), "{html}");
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(
            html.contains(&format!("value=\"{amount}\"")),
            "kept: {html}"
        );
        assert!(html.contains("<option value=\"custom\" selected"), "{html}");
        assert_eq!(client_id().await.client_id, c.client_id, "nothing changed");
    }

    let before = keygate::domain::now_ms();
    let res = b
        .post(
            &url,
            &[
                ("csrf", &csrf),
                ("grace_period_seconds", "custom"),
                ("grace_amount", "90"),
                ("grace_unit", "minutes"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res.text().contains("New client keys for billing"));
    let account = client_id().await;
    assert_ne!(account.client_id, c.client_id);
    assert_eq!(account.old_client_id.as_deref(), Some(c.client_id.as_str()));
    let ends = account.old_expires_at.unwrap();
    assert!(
        (before + 90 * 60_000..=keygate::domain::now_ms() + 90 * 60_000).contains(&ends),
        "the old keys end 90 minutes from now"
    );
    assert_eq!(
        app.token_response(&c).await.status,
        StatusCode::OK,
        "still works"
    );
}

#[tokio::test]
async fn the_list_finds_an_account_by_client_id_or_id_and_filters_by_status_in_the_url() {
    let app = TestApp::spawn().await;
    let billing = app.account("billing").create().await;
    let ledger = app.account("ledger").create().await;
    app.disable(&ledger).await;
    let mut b = signed_in_admin(&app).await;
    let row = |id: &str| format!("<tr data-account-id=\"{id}\"");

    for wanted in [&billing.client_id, &billing.id] {
        let html = b
            .get(&format!("/settings/service-accounts?q={wanted}"))
            .await
            .text();
        assert!(html.contains(&row(&billing.id)), "{wanted}: {html}");
        assert!(!html.contains(&row(&ledger.id)), "{wanted}");
    }
    let html = b
        .get("/settings/service-accounts?status=disabled")
        .await
        .text();
    assert!(html.contains(&row(&ledger.id)));
    assert!(!html.contains(&row(&billing.id)));
    assert!(
        html.contains("<option value=\"disabled\" selected"),
        "{html}"
    );
    // The toggle keeps the filter.
    assert!(
        html.contains("name=\"status\" value=\"disabled\""),
        "{html}"
    );
    let html = b
        .get("/settings/service-accounts?status=enabled")
        .await
        .text();
    assert!(html.contains(&row(&billing.id)));
    assert!(!html.contains(&row(&ledger.id)));
    // An exact client ID of an account the filter hides finds nothing.
    let html = b
        .get(&format!(
            "/settings/service-accounts?q={}&status=disabled",
            billing.client_id
        ))
        .await
        .text();
    assert!(!html.contains(&row(&billing.id)), "{html}");
    assert!(
        html.contains("No disabled service account matches"),
        "{html}"
    );
    let html = b
        .get("/settings/service-accounts?q=zzz&status=enabled")
        .await
        .text();
    assert!(
        html.contains("No enabled service account matches"),
        "{html}"
    );

    let csrf = csrf_of(&html);
    let res = b
        .post(
            &format!("/settings/service-accounts/{}/enabled", ledger.id),
            &[("csrf", &csrf), ("enabled", "true"), ("status", "disabled")],
        )
        .await;
    assert_eq!(
        res.header(header::LOCATION),
        Some("/settings/service-accounts?status=disabled")
    );
    let html = b.follow(&res).await.text();
    assert!(html.contains("ledger enabled."), "{html}");
    assert!(html.contains("No disabled service account."), "{html}");
}
