//! The console for daily use, in real headless Chromium (see `browser.rs`): a walk through
//! every page logs no console error (no CSP violation, no missing icon), a signed-out or
//! refused htmx request never lands a page inside a row, posts end on pages that reload,
//! and the colours and the first-run command box pass for contrast and keyboard.

use std::time::Duration;

use fantoccini::Locator;
use keygate::admin::roles::{GroupInput, RoleInput};
use keygate::domain::audit::Actor;
use serde_json::json;

use crate::browser::{Chrome, chrome, served_app_with_admin};
use crate::helpers::TestApp;

/// Adds a custom role, a group holding it and a read-only user; returns every page of the
/// console as (path, its heading).
pub async fn every_page(app: &TestApp, account_id: &str) -> Vec<(String, String)> {
    let admin = &app.state.admin;
    let api = app.api_defining(&["deploy:run"]).await;
    let role = admin
        .create_role(
            &Actor::system(),
            RoleInput {
                name: "Deployer".into(),
                description: "Runs deployments".into(),
                permissions: vec!["deploy:run".into()],
                api: Some(api.clone()),
            },
        )
        .await
        .unwrap()
        .id;
    let group = admin
        .save_group(
            &Actor::system(),
            None,
            GroupInput {
                name: "ops".into(),
                description: "Operations".into(),
                role_ids: vec![role.clone()],
                member_ids: vec![account_id.to_owned()],
                bindings: None,
            },
        )
        .await
        .unwrap()
        .id;
    let node = admin
        .create_node(
            &Actor::system(),
            keygate::admin::access::NodeInput {
                name: Some("acme".into()),
                kind: Some("Company".into()),
                parent: None,
            },
        )
        .await
        .unwrap()
        .id;
    // The group's page lists a binding at the root and one at a node.
    admin
        .set_group_bindings(
            &Actor::system(),
            &group,
            vec![
                keygate::admin::access::BindingInput {
                    role: role.clone(),
                    node: None,
                },
                keygate::admin::access::BindingInput {
                    role: role.clone(),
                    node: Some(node.clone()),
                },
            ],
        )
        .await
        .unwrap();
    crate::console::console_user(app, "auditor", &["Auditor"]).await;
    let auditor = admin
        .list_users(&Actor::system())
        .await
        .unwrap()
        .into_iter()
        .find(|(u, _)| u.username == "auditor")
        .map(|(u, _)| u.id)
        .unwrap();
    let a = format!("/settings/service-accounts/{account_id}");
    [
        ("/settings/service-accounts".to_owned(), "Service Accounts"),
        (
            "/settings/service-accounts/new".to_owned(),
            "Service Account Details",
        ),
        (a.clone(), "billing"),
        (format!("{a}/edit"), "Edit"),
        (format!("{a}/regenerate"), "Regenerate Client Keys"),
        (format!("{a}/delete"), "Delete billing?"),
        (
            format!("{a}/sessions/revoke-all"),
            "Revoke every token of billing?",
        ),
        ("/settings/roles".to_owned(), "Roles"),
        ("/settings/roles/new".to_owned(), "Add Role"),
        (format!("/settings/roles/{role}/edit"), "Edit Deployer"),
        (format!("/settings/roles/{role}/delete"), "Delete Deployer?"),
        ("/settings/groups".to_owned(), "Groups"),
        ("/settings/groups/new".to_owned(), "Add Group"),
        (format!("/settings/groups/{group}"), "ops"),
        (format!("/settings/groups/{group}/edit"), "Edit ops"),
        (format!("/settings/groups/{group}/delete"), "Delete ops?"),
        ("/settings/apis".to_owned(), "APIs"),
        ("/settings/apis/new".to_owned(), "Add API"),
        (format!("/settings/apis/{api}/edit"), "Edit Test API"),
        (format!("/settings/apis/{api}/delete"), "Delete Test API?"),
        ("/settings/hierarchy".to_owned(), "Hierarchy"),
        ("/settings/hierarchy/new".to_owned(), "Add node"),
        (format!("/settings/hierarchy/{node}/edit"), "Edit acme"),
        (format!("/settings/hierarchy/{node}/delete"), "Delete acme?"),
        ("/settings/users".to_owned(), "Console Users"),
        (format!("/settings/users/{auditor}/roles"), "auditor"),
        (
            format!("/settings/users/{auditor}/delete"),
            "Delete auditor?",
        ),
        ("/settings/password".to_owned(), "Change your password"),
        ("/settings/audit".to_owned(), "Audit Log"),
        ("/settings/signing-keys".to_owned(), "Signing Keys"),
        ("/settings/policies".to_owned(), "Policies"),
        (
            "/settings/signing-keys/rotate".to_owned(),
            "Rotate the signing key?",
        ),
    ]
    .into_iter()
    .map(|(p, h)| (p, h.to_owned()))
    .collect()
}

/// The console messages that are errors, apart from the browser's own notice of an answer
/// the console gives on purpose with one of `deliberate` statuses (such as 422).
fn errors(log: &[String], deliberate: &[u16]) -> Vec<String> {
    log.iter()
        .filter(|l| l.starts_with("SEVERE") || l.starts_with("WARNING"))
        .filter(|l| {
            !deliberate
                .iter()
                .any(|s| l.contains(&format!("the server responded with a status of {s}")))
        })
        .cloned()
        .collect()
}

async fn current_path(chrome: &Chrome) -> String {
    let url = chrome.client.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

async fn wait_for_path(chrome: &Chrome, path: &str) {
    for _ in 0..100 {
        if current_path(chrome).await == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("at {}, not {path}", current_path(chrome).await);
}

async fn wait_for_text_in(chrome: &Chrome, css: &str, text: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = chrome.client.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if t.contains(text) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} reads {last:?}, without {text:?}");
}

#[tokio::test]
async fn a_walk_through_every_page_logs_no_console_error() {
    let Some(chrome) = chrome("walk-console-log").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app.account("billing").create().await;
    for i in 0..52 {
        app.account(&format!("worker-{i:02}")).create().await;
    }
    let pages = every_page(&app, &c.id).await;
    chrome.sign_in(&base, "admin").await;
    // CSP violations of this document (it lives on through boosted swaps).
    chrome
        .client
        .execute(
            "window.__csp = []; document.addEventListener('securitypolicyviolation', \
             e => window.__csp.push(e.violatedDirective + ' ' + e.sample)); return null;",
            vec![],
        )
        .await
        .unwrap();

    // Boosted swaps: the list's Next page, the wizard's validation answer (a 422).
    chrome.find("a[rel=next]").await.click().await.unwrap();
    wait_for_text_in(&chrome, "#accounts-table", "worker-51").await;
    chrome
        .find("a.button.primary[href='/settings/service-accounts/new']")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Service Account Details").await;
    chrome
        .find("button[value=roles]")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text_in(&chrome, "#name-error", "Name is required.").await;
    // A boosted link back to the list.
    chrome
        .find("nav.sidebar a[href='/settings/roles']")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Roles").await;
    let seen = chrome
        .client
        .execute(
            "return [window.__csp, Array.from(document.querySelectorAll('[style]')).map(e => e.outerHTML.slice(0, 80))];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(seen[0], json!([]), "CSP violations during boosted swaps");
    assert_eq!(
        seen[1],
        json!([]),
        "inline style attributes after boosted swaps"
    );

    for (path, heading) in &pages {
        chrome.client.goto(&format!("{base}{path}")).await.unwrap();
        chrome.wait_for_heading(heading).await;
    }
    let log = chrome.console_log().await;
    let bad = errors(&log, &[422]);
    assert!(bad.is_empty(), "console errors: {bad:#?}");
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_signed_out_toggle_goes_to_the_sign_in_page_and_back_to_the_list() {
    let Some(chrome) = chrome("signed-out-toggle").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app.account("billing").create().await;
    chrome.sign_in(&base, "admin").await;
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts?q=bill"))
        .await
        .unwrap();
    chrome.wait_for_heading("Service Accounts").await;
    // The session cookie goes (as when the session expires).
    chrome.client.delete_cookie("kg_session").await.unwrap();
    let button = format!("tr[data-account-id='{}'] button.switch", c.id);
    chrome.find(&button).await.click().await.unwrap();
    wait_for_path(
        &chrome,
        "/login?next=%2Fsettings%2Fservice-accounts%3Fq%3Dbill",
    )
    .await;
    chrome.wait_for_heading("Sign in to keygate").await;
    assert!(
        chrome
            .client
            .find_all(Locator::Css("tr h1, td form[action='/login']"))
            .await
            .unwrap()
            .is_empty()
    );
    chrome
        .find("#username")
        .await
        .send_keys("admin")
        .await
        .unwrap();
    chrome
        .find("#password")
        .await
        .send_keys("correct horse battery staple")
        .await
        .unwrap();
    chrome
        .find("form[action='/login'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Service Accounts").await;
    assert_eq!(
        current_path(&chrome).await,
        "/settings/service-accounts?q=bill"
    );
    assert_eq!(chrome.text_of(&button).await, "Enabled", "nothing changed");
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_stale_form_shows_a_message_and_keeps_the_row() {
    let Some(chrome) = chrome("stale-toggle").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app.account("billing").create().await;
    chrome.sign_in(&base, "admin").await;
    let row = format!("tr[data-account-id='{}']", c.id);
    chrome
        .client
        .execute(
            "document.querySelector(arguments[0] + ' input[name=csrf]').value = 'stale'; \
             return null;",
            vec![json!(row)],
        )
        .await
        .unwrap();
    chrome
        .find(&format!("{row} button.switch"))
        .await
        .click()
        .await
        .unwrap();
    let notice = wait_for_text_in(&chrome, "#notices [role=alert]", "Form expired").await;
    assert!(notice.contains("Nothing was changed"), "{notice}");
    assert_eq!(
        chrome.text_of(&format!("{row} button.switch")).await,
        "Enabled"
    );
    assert_eq!(
        chrome
            .client
            .find_all(Locator::Css("h1"))
            .await
            .unwrap()
            .len(),
        1,
        "no second page inside the first"
    );
    assert_eq!(current_path(&chrome).await, "/settings/service-accounts");
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn revoke_revoke_all_and_edit_end_on_the_account_page_which_reloads() {
    let Some(chrome) = chrome("reloadable-posts").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app.account("billing").roles(&["Auditor"]).create().await;
    app.token(&c).await;
    app.token(&c).await;
    chrome.sign_in(&base, "admin").await;
    let page = format!("/settings/service-accounts/{}", c.id);
    chrome.client.goto(&format!("{base}{page}")).await.unwrap();
    chrome.wait_for_heading("billing").await;

    chrome
        .find("form[action$='/sessions/revoke'] button")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text_in(&chrome, "main .notice", "Token revoked.").await;
    assert_eq!(current_path(&chrome).await, page);
    chrome.client.refresh().await.unwrap();
    chrome.wait_for_heading("billing").await;

    chrome
        .find("a[href$='/sessions/revoke-all']")
        .await
        .click()
        .await
        .unwrap();
    chrome
        .wait_for_heading("Revoke every token of billing?")
        .await;
    chrome
        .find("form[action$='/sessions/revoke-all'] button")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text_in(
        &chrome,
        "main .notice",
        "Every token of this account was revoked.",
    )
    .await;
    assert_eq!(current_path(&chrome).await, page);
    chrome.client.refresh().await.unwrap();
    chrome.wait_for_heading("billing").await;

    chrome
        .client
        .goto(&format!("{base}{page}/edit"))
        .await
        .unwrap();
    chrome.wait_for_heading("Edit").await;
    chrome
        .find("#description")
        .await
        .send_keys("ships invoices")
        .await
        .unwrap();
    chrome
        .find("form[action$='/edit'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text_in(&chrome, "main .notice", "Changes saved.").await;
    assert_eq!(current_path(&chrome).await, page);
    chrome.client.refresh().await.unwrap();
    chrome.wait_for_heading("billing").await;
    assert!(chrome.body().await.contains("ships invoices"));
    assert!(
        !chrome.body().await.contains("Changes saved."),
        "shown once"
    );
    chrome.client.clone().close().await.unwrap();
}

/// The WCAG contrast ratio of two `rgb(…)` / `rgba(…)` colours as getComputedStyle gives them.
fn contrast(fg: &str, bg: &str) -> f64 {
    fn luminance(css: &str) -> f64 {
        let inner = css.split_once('(').unwrap().1.trim_end_matches(')');
        let c: Vec<f64> = inner
            .split(',')
            .take(3)
            .map(|v| v.trim().parse::<f64>().unwrap() / 255.0)
            .collect();
        let f = |v: f64| {
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2])
    }
    let (a, b) = (luminance(fg), luminance(bg));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

async fn colours(chrome: &Chrome, css: &str) -> (String, String) {
    let v = chrome
        .client
        .execute(
            "const s = getComputedStyle(document.querySelector(arguments[0])); \
             return [s.color, s.backgroundColor];",
            vec![json!(css)],
        )
        .await
        .unwrap();
    (
        v[0].as_str().unwrap().to_owned(),
        v[1].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn status_pills_have_enough_contrast_and_the_command_box_takes_focus() {
    let Some(chrome) = chrome("contrast").await else {
        return;
    };
    // No user yet: the sign-in page shows the first-run command in a scrollable box.
    let app = TestApp::builder().serving().start().await;
    let base = app.base_url();
    chrome.client.goto(&format!("{base}/login")).await.unwrap();
    chrome.wait_for_heading("Sign in to keygate").await;
    chrome
        .client
        .execute("document.activeElement.blur(); return null;", vec![])
        .await
        .unwrap();
    let mut reached = false;
    for _ in 0..10 {
        chrome
            .client
            .active_element()
            .await
            .unwrap()
            .send_keys("\u{e004}")
            .await
            .unwrap();
        let tag = chrome
            .client
            .execute("return document.activeElement.tagName;", vec![])
            .await
            .unwrap();
        if tag == json!("PRE") {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reaches the command box");
    drop(app);

    let app = served_app_with_admin().await;
    let base = app.base_url();
    let on = app.account("billing").create().await;
    let off = app.account("ledger").create().await;
    app.disable(&off).await;
    chrome.sign_in(&base, "admin").await;
    for id in [&on.id, &off.id] {
        let (fg, bg) = colours(&chrome, &format!("tr[data-account-id='{id}'] .switch")).await;
        let ratio = contrast(&fg, &bg);
        assert!(ratio >= 4.5, "{fg} on {bg} is {ratio:.2}:1");
    }
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts/{}", on.id))
        .await
        .unwrap();
    chrome.wait_for_heading("billing").await;
    let (fg, bg) = colours(&chrome, ".status.on").await;
    let ratio = contrast(&fg, &bg);
    assert!(ratio >= 4.5, "{fg} on {bg} is {ratio:.2}:1");
    chrome.client.clone().close().await.unwrap();
}

/// The elements that reach past the right edge of the screen, for a failure's message.
async fn too_wide(chrome: &Chrome) -> String {
    chrome
        .client
        .execute(
            "const w = document.documentElement.clientWidth; \
             return Array.from(document.querySelectorAll('body *')) \
               .filter(e => e.getBoundingClientRect().right > w + 0.5) \
               .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)) \
               .slice(0, 8).join(', ');",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `(scrollWidth, clientWidth)` of the page.
async fn widths(chrome: &Chrome) -> (u64, u64) {
    let v = chrome
        .client
        .execute(
            "const d = document.documentElement; return [d.scrollWidth, d.clientWidth];",
            vec![],
        )
        .await
        .unwrap();
    (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
}

#[tokio::test]
async fn at_390_px_no_page_is_wider_than_the_screen_and_the_menu_folds() {
    let Some(chrome) = chrome("phone-walk").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app
        .account("billing")
        .roles(&["Auditor", "Token Introspector"])
        .create()
        .await;
    app.token(&c).await;
    let pages = every_page(&app, &c.id).await;
    // An account that fills every column of the list.
    let admin = &app.state.admin;
    let roles = admin
        .role_ids_by_names(&[
            "Auditor".to_owned(),
            "Service Account Manager".to_owned(),
            "Token Introspector".to_owned(),
        ])
        .await
        .unwrap();
    let long = admin
        .create_account(
            &Actor::system(),
            keygate::admin::accounts::CreateAccount {
                name: "the-very-long-named-integration-bridge-of-the-legacy-mainframe".into(),
                description: "Moves nightly ledger batches from the mainframe to the warehouse"
                    .into(),
                role_ids: roles,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;

    // At 1440 px the list fits the screen: no column is pushed past its right edge.
    chrome.client.set_window_size(1440, 900).await.unwrap();
    chrome.sign_in(&base, "admin").await;
    let (scroll, client) = widths(&chrome).await;
    assert!(
        scroll <= client,
        "the list is {scroll} px wide at {client} px: {}",
        too_wide(&chrome).await
    );
    // Nor does the notice that a toggle leaves in the row ("<name> disabled · Undo").
    chrome
        .find(&format!("#switch-{long}"))
        .await
        .click()
        .await
        .unwrap();
    wait_for_text_in(
        &chrome,
        &format!("tr[data-account-id='{long}'] [role=status]"),
        "disabled",
    )
    .await;
    let (scroll, client) = widths(&chrome).await;
    assert!(
        scroll <= client,
        "with a row notice the list is {scroll} px wide at {client} px: {}",
        too_wide(&chrome).await
    );
    chrome.client.delete_cookie("kg_session").await.unwrap();

    chrome.client.set_window_size(390, 844).await.unwrap();
    chrome.client.goto(&format!("{base}/login")).await.unwrap();
    chrome.wait_for_heading("Sign in").await;
    let (scroll, client) = widths(&chrome).await;
    assert!(client <= 390, "the viewport is {client} px");
    assert!(
        scroll <= client,
        "/login is {scroll} px wide at {client} px"
    );
    chrome.sign_in(&base, "admin").await;

    // The settings menu is folded into a button.
    let link = "nav.sidebar a[href='/settings/roles']";
    assert!(!chrome.find(link).await.is_displayed().await.unwrap());
    chrome
        .find("details.sidebar-menu summary")
        .await
        .click()
        .await
        .unwrap();
    chrome.find(link).await.click().await.unwrap();
    chrome.wait_for_heading("Roles").await;

    // The list's filters wrap, but each label stays on the line of its control.
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts"))
        .await
        .unwrap();
    chrome.wait_for_heading("Service Accounts").await;
    let apart = chrome
        .client
        .execute(
            "return Array.from(document.querySelectorAll('form.search label')).filter(l => { \
               const a = l.getBoundingClientRect(), \
                     b = document.getElementById(l.htmlFor).getBoundingClientRect(); \
               return a.bottom <= b.top || b.bottom <= a.top; \
             }).map(l => l.textContent).join(', ');",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        apart.as_str(),
        Some(""),
        "labels on another line than their control"
    );

    let mut checked = vec!["/settings/service-accounts/no-such-page".to_owned()];
    checked.extend(pages.iter().map(|(p, _)| p.clone()));
    for path in &checked {
        chrome.client.goto(&format!("{base}{path}")).await.unwrap();
        chrome.find("main h1").await;
        let (scroll, client) = widths(&chrome).await;
        assert!(
            scroll <= client,
            "{path} is {scroll} px wide at {client} px: {}",
            too_wide(&chrome).await
        );
    }

    // The wizard to its last step, the credentials.
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts/new"))
        .await
        .unwrap();
    chrome.wait_for_heading("Service Account Details").await;
    chrome
        .find("#name")
        .await
        .send_keys("a-service-account-with-a-rather-long-name")
        .await
        .unwrap();
    chrome
        .find("button[value=roles]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Roles").await;
    let (scroll, client) = widths(&chrome).await;
    assert!(scroll <= client, "step 2 is {scroll} px wide");
    chrome
        .find("button[value=create]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Credentials for").await;
    let (scroll, client) = widths(&chrome).await;
    assert!(scroll <= client, "step 3 is {scroll} px wide");
    chrome.client.clone().close().await.unwrap();
}

async fn active(chrome: &Chrome) -> String {
    chrome
        .client
        .execute(
            "const e = document.activeElement; return e.tagName + ' ' + e.textContent.trim().slice(0, 40);",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_skip_link_leads_to_the_content_and_focus_follows_each_new_page() {
    let Some(chrome) = chrome("focus").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    chrome.sign_in(&base, "admin").await;
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts"))
        .await
        .unwrap();
    chrome.wait_for_heading("Service Accounts").await;

    // The first Tab reaches the skip link, and it leads into the page's content.
    chrome
        .find("body")
        .await
        .send_keys("\u{e004}")
        .await
        .unwrap();
    assert_eq!(active(&chrome).await, "A Skip to content");
    chrome
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{e007}")
        .await
        .unwrap();
    let focused = chrome
        .client
        .execute(
            "return document.querySelector('main').contains(document.activeElement);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        focused,
        json!(true),
        "focus is in main: {}",
        active(&chrome).await
    );

    // A boosted navigation puts focus on the new page's heading…
    chrome
        .find("nav.sidebar a[href='/settings/roles']")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Roles").await;
    wait_for_active(&chrome, "H1 Roles").await;

    // …and so does each wizard step.
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts/new"))
        .await
        .unwrap();
    chrome.wait_for_heading("Service Account Details").await;
    chrome
        .find("#name")
        .await
        .send_keys("billing")
        .await
        .unwrap();
    chrome
        .find("button[value=roles]")
        .await
        .click()
        .await
        .unwrap();
    wait_for_active(&chrome, "H1 Roles").await;
    chrome
        .find("button[value=create]")
        .await
        .click()
        .await
        .unwrap();
    wait_for_active(&chrome, "H1 Credentials for billing").await;
    chrome.client.clone().close().await.unwrap();
}

async fn wait_for_active(chrome: &Chrome, want: &str) {
    let mut last = String::new();
    for _ in 0..50 {
        last = active(chrome).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("focus is on {last:?}, not {want:?}");
}

/// axe-core's script, installed by `.ci/run` with npm under `tests/axe` (never served).
fn axe_source() -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/axe/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(_) if std::env::var_os("KEYGATE_REQUIRE_BROWSER").is_some() => panic!(
            "{} is missing: run npm ci --prefix tests/axe (as .ci/run does)",
            path.display()
        ),
        Err(_) => {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "accessibility check skipped: run npm ci --prefix tests/axe to install axe-core"
            );
            None
        }
    }
}

/// The serious and critical axe-core violations of the page shown now.
async fn axe_violations(chrome: &Chrome, axe: &str) -> Vec<String> {
    chrome
        .client
        .execute(&format!("{axe}\n; return typeof axe;"), vec![])
        .await
        .unwrap();
    let found = chrome
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations \
               .filter(v => v.impact === 'serious' || v.impact === 'critical') \
               .map(v => v.impact + ' ' + v.id + ': ' + v.nodes.slice(0, 3) \
                 .map(n => n.target.join(' ') + ' ' + (n.failureSummary || '').slice(0, 160)).join(' | ')))) \
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn axe_finds_no_serious_or_critical_violation_on_any_page() {
    let Some(axe) = axe_source() else {
        return;
    };
    let Some(chrome) = chrome("axe").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app
        .account("billing")
        .roles(&["Auditor", "Token Introspector"])
        .create()
        .await;
    app.token(&c).await;
    let off = app.account("ledger").create().await;
    app.disable(&off).await;
    let pages = every_page(&app, &c.id).await;
    let mut problems = Vec::new();

    chrome.client.goto(&format!("{base}/login")).await.unwrap();
    chrome.wait_for_heading("Sign in").await;
    for v in axe_violations(&chrome, &axe).await {
        problems.push(format!("/login: {v}"));
    }
    chrome.sign_in(&base, "admin").await;
    let mut checked = vec![(
        "/settings/service-accounts/no-such-page".to_owned(),
        "Not found".to_owned(),
    )];
    checked.extend(pages);
    for (path, heading) in &checked {
        chrome.client.goto(&format!("{base}{path}")).await.unwrap();
        chrome.wait_for_heading(heading).await;
        for v in axe_violations(&chrome, &axe).await {
            problems.push(format!("{path}: {v}"));
        }
    }
    // The wizard's later steps and a validation answer.
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts/new"))
        .await
        .unwrap();
    chrome.wait_for_heading("Service Account Details").await;
    chrome
        .find("button[value=roles]")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text_in(&chrome, "#name-error", "Name is required.").await;
    for v in axe_violations(&chrome, &axe).await {
        problems.push(format!("wizard step 1 with an error: {v}"));
    }
    chrome
        .find("#name")
        .await
        .send_keys("exporter")
        .await
        .unwrap();
    chrome
        .find("button[value=roles]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Roles").await;
    for v in axe_violations(&chrome, &axe).await {
        problems.push(format!("wizard step 2: {v}"));
    }
    chrome
        .find("button[value=create]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Credentials for").await;
    for v in axe_violations(&chrome, &axe).await {
        problems.push(format!("wizard step 3: {v}"));
    }
    // A phone-sized screen, with the menu folded: every page again, where wide tables
    // scroll inside their box (and must then take keyboard focus).
    chrome.client.set_window_size(390, 844).await.unwrap();
    for (path, heading) in &checked {
        chrome.client.goto(&format!("{base}{path}")).await.unwrap();
        chrome.wait_for_heading(heading).await;
        for v in axe_violations(&chrome, &axe).await {
            problems.push(format!("{path} at 390 px: {v}"));
        }
    }
    // A trusted issuer and a federated credential, so their tables are there too.
    let issuer = app
        .state
        .admin
        .create_trusted_issuer(
            &Actor::system(),
            &keygate::admin::federation::IssuerInput {
                name: "GitHub Actions".into(),
                issuer: "https://token.actions.githubusercontent.com".into(),
                jwks_uri: None,
                audience: None,
            },
        )
        .await
        .unwrap();
    app.state
        .admin
        .add_federated_credential(
            &Actor::system(),
            &c.id,
            &issuer.id,
            None,
            Some(&json!([{"claim": "repository", "equals": "acme/app"}])),
        )
        .await
        .unwrap();
    // What a read-only user sees (no links or buttons in most tables).
    chrome.client.delete_cookie("kg_session").await.unwrap();
    chrome.client.set_window_size(1280, 900).await.unwrap();
    chrome.sign_in(&base, "auditor").await;
    for width in [1280, 390] {
        let height = if width == 390 { 844 } else { 900 };
        chrome.client.set_window_size(width, height).await.unwrap();
        for path in [
            "/settings/service-accounts".to_owned(),
            format!("/settings/service-accounts/{}", c.id),
            "/settings/roles".to_owned(),
            "/settings/apis".to_owned(),
            "/settings/hierarchy".to_owned(),
            "/settings/federation".to_owned(),
            format!("/settings/service-accounts/{}/federated-credentials", c.id),
            "/settings/signing-keys".to_owned(),
        ] {
            chrome.client.goto(&format!("{base}{path}")).await.unwrap();
            chrome.find("main h1").await;
            for v in axe_violations(&chrome, &axe).await {
                problems.push(format!("{path} read-only at {width} px: {v}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_switch_keeps_focus_and_its_notice_undoes_the_change() {
    let Some(chrome) = chrome("toggle-undo").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app.account("billing").create().await;
    chrome.sign_in(&base, "admin").await;
    let row = format!("tr[data-account-id='{}']", c.id);
    let switch = format!("#switch-{}", c.id);
    chrome.find(&switch).await.click().await.unwrap();
    let notice =
        wait_for_text_in(&chrome, &format!("{row} [role=status]"), "billing disabled").await;
    assert_eq!(notice.trim(), "billing disabled · Undo");
    assert_eq!(chrome.text_of(&switch).await, "Disabled");
    let focused = chrome
        .client
        .execute("return document.activeElement.id;", vec![])
        .await
        .unwrap();
    assert_eq!(
        focused,
        json!(format!("switch-{}", c.id)),
        "focus stays on the switch"
    );
    assert!(
        !app.state
            .admin
            .get_account(&Actor::system(), &c.id)
            .await
            .unwrap()
            .account
            .enabled
    );

    chrome
        .find(&format!("{row} .row-notice button"))
        .await
        .click()
        .await
        .unwrap();
    wait_for_text_in(&chrome, &format!("{row} [role=status]"), "billing enabled").await;
    assert_eq!(chrome.text_of(&switch).await, "Enabled");
    assert!(
        app.state
            .admin
            .get_account(&Actor::system(), &c.id)
            .await
            .unwrap()
            .account
            .enabled
    );
    assert_eq!(current_path(&chrome).await, "/settings/service-accounts");
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_status_filter_and_search_by_client_id_update_the_table_and_the_address() {
    let Some(chrome) = chrome("list-filter").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let billing = app.account("billing").create().await;
    let ledger = app.account("ledger").create().await;
    app.disable(&ledger).await;
    chrome.sign_in(&base, "admin").await;
    let billing_row = format!("tr[data-account-id='{}']", billing.id);
    let ledger_row = format!("tr[data-account-id='{}']", ledger.id);

    chrome
        .find("#status")
        .await
        .select_by_value("disabled")
        .await
        .unwrap();
    wait_for_path(
        &chrome,
        "/settings/service-accounts?q=&status=disabled&role=&size=50",
    )
    .await;
    chrome.find(&ledger_row).await;
    assert!(
        chrome
            .client
            .find_all(Locator::Css(&billing_row))
            .await
            .unwrap()
            .is_empty()
    );

    chrome
        .find("#status")
        .await
        .select_by_value("")
        .await
        .unwrap();
    chrome.find(&billing_row).await;
    chrome
        .find("#q")
        .await
        .send_keys(&billing.client_id)
        .await
        .unwrap();
    for _ in 0..50 {
        if chrome
            .client
            .find_all(Locator::Css(&ledger_row))
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        chrome
            .client
            .find_all(Locator::Css(&ledger_row))
            .await
            .unwrap()
            .is_empty(),
        "the search by client ID left only its account"
    );
    chrome.find(&billing_row).await;
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn at_390_px_a_personal_token_is_made_copied_and_deleted_and_axe_finds_nothing() {
    let Some(chrome) = chrome("personal-tokens").await else {
        return;
    };
    let axe = axe_source();
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app
        .account("billing-exporter-with-a-long-name")
        .roles(&["Auditor"])
        .create()
        .await;
    // An account keygate disabled, with its reason on the list.
    let leaked = app.account("ledger").create().await;
    app.post("/oauth/leaked")
        .header("content-type", "application/json")
        .body(json!({"credentials": [leaked.client_secret]}).to_string())
        .send()
        .await;
    chrome.client.set_window_size(390, 844).await.unwrap();
    chrome.sign_in(&base, "admin").await;
    let mut problems = Vec::new();
    let mut check = async |what: &str| {
        let (scroll, client) = widths(&chrome).await;
        assert!(
            scroll <= client,
            "{what} is {scroll} px wide at {client} px"
        );
        if let Some(axe) = &axe {
            for v in axe_violations(&chrome, axe).await {
                problems.push(format!("{what}: {v}"));
            }
        }
    };
    assert!(
        chrome
            .text_of(&format!(
                "tr[data-account-id='{}'] td:nth-child(5)",
                leaked.id
            ))
            .await
            .contains("secret reported leaked")
    );
    check("the list with a disabled reason").await;

    let page = format!("{base}/settings/service-accounts/{}", c.id);
    chrome.client.goto(&page).await.unwrap();
    chrome.wait_for_heading("billing-exporter").await;
    check("the account page with the token form").await;
    chrome
        .find("#pt-name")
        .await
        .send_keys("nightly export")
        .await
        .unwrap();
    chrome
        .find("#personal-tokens input[name=permission][value$=' service-accounts:read']")
        .await
        .click()
        .await
        .unwrap();
    chrome
        .find("#personal-tokens button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    chrome
        .wait_for_heading("Personal token nightly export")
        .await;
    check("the new token").await;
    let token = chrome.value_of("#personal-token").await;
    assert_eq!(app.whoami(&token).await.status, 200);
    chrome
        .find("button[data-copy=personal-token]")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text_in(&chrome, "button[data-copy=personal-token]", "Copied").await;

    chrome.find("a.primary").await.click().await.unwrap();
    chrome.wait_for_heading("billing-exporter").await;
    let listed = chrome.text_of("#personal-tokens table").await;
    assert!(listed.contains("nightly export"), "{listed}");
    assert!(!chrome.body().await.contains(&token));
    check("the account page with a token").await;
    chrome
        .find("#personal-tokens a.danger")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Delete").await;
    chrome
        .find("form button.danger[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("billing-exporter").await;
    wait_for_text_in(&chrome, "#personal-tokens", "Personal token deleted.").await;
    assert_eq!(app.whoami(&token).await.status, 401);
    assert!(problems.is_empty(), "{problems:#?}");
}
