//! The service-account list in real headless Chromium (see `browser.rs`): at 1440 px its
//! rows are one line and nothing wraps; the column headers sort, the role filter and the
//! total update the table and the address; the ⋮ menu of a row opens by keyboard and Esc
//! closes it; on the account page the copy buttons work and Esc closes the Actions menu;
//! at 390 px the page is no wider than the screen. With `KEYGATE_SCREENSHOTS`
//! set, it also takes the README's screenshots of the list and an account page.

use std::time::Duration;

use fantoccini::Locator;
use keygate::admin::roles::{GroupInput, RoleInput};
use keygate::domain::audit::Actor;
use serde_json::{Value, json};

use crate::browser::{Chrome, chrome, served_app_with_admin};
use crate::helpers::TestApp;

/// 62 accounts as a team would name them, some with roles directly, some through a group,
/// a few used; returns the Deployer role's id and the first account's id.
async fn a_busy_list(app: &TestApp) -> (String, String) {
    let admin = &app.state.admin;
    let role = admin
        .create_role(
            &Actor::system(),
            RoleInput {
                name: "Deployer".into(),
                description: "Runs deployments".into(),
                permissions: vec!["deploy:run".into()],
                api: Some(app.api_defining(&["deploy:run"]).await),
            },
        )
        .await
        .unwrap()
        .id;
    let kinds = [
        "billing-exporter",
        "ledger-sync",
        "payments-gateway",
        "inventory-reporter",
        "search-indexer",
        "notifications-worker",
    ];
    let mut members = Vec::new();
    let mut first = String::new();
    for i in 0..62 {
        let name = format!("{}-{i:02}", kinds[i % kinds.len()]);
        let roles: &[&str] = match i % 3 {
            0 => &["Auditor"],
            1 => &["Auditor", "Token Introspector"],
            _ => &[],
        };
        let c = app.account(&name).roles(roles).create().await;
        if i % 4 == 0 {
            members.push(c.id.clone());
        }
        if i % 5 == 0 {
            app.token(&c).await;
        }
        if first.is_empty() {
            first = c.id.clone();
        }
    }
    admin
        .save_group(
            &Actor::system(),
            None,
            GroupInput {
                name: "deployers".into(),
                description: "Everything that deploys".into(),
                role_ids: vec![role.clone()],
                member_ids: members,
                bindings: None,
            },
        )
        .await
        .unwrap();
    (role, first)
}

async fn eval(chrome: &Chrome, js: &str) -> Value {
    chrome.client.execute(js, vec![]).await.unwrap()
}

async fn wait_for(chrome: &Chrome, js: &str) {
    for _ in 0..100 {
        if eval(chrome, js).await == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never true: {js}");
}

#[tokio::test]
async fn at_1440_px_the_list_is_one_line_a_row_sorts_filters_and_its_menu_works_by_keyboard() {
    let Some(chrome) = chrome("list-1440").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let (role, first) = a_busy_list(&app).await;
    chrome.client.set_window_size(1440, 900).await.unwrap();
    chrome.sign_in(&base, "admin").await;
    assert_eq!(chrome.text_of(".pager .total").await, "1\u{2013}50 of 62");

    let layout = eval(
        &chrome,
        "const rows = Array.from(document.querySelectorAll('table.accounts tbody tr')); \
         const h = rows.map(r => r.getBoundingClientRect().height); \
         const d = document.documentElement; \
         const t = document.querySelector('table.accounts').getBoundingClientRect(); \
         return [rows.length, Math.max(...h), d.scrollWidth, d.clientWidth, Math.round(t.right)];",
    )
    .await;
    assert_eq!(layout[0], json!(50));
    let tallest = layout[1].as_f64().unwrap();
    assert!(tallest <= 48.0, "a row is {tallest} px high: it wraps");
    assert!(
        layout[2].as_u64() <= layout[3].as_u64(),
        "the page scrolls sideways: {layout}"
    );
    chrome.screenshot("console-list.png").await;

    // Sorting by a header, then back; the address follows.
    chrome
        .find("a.sort[href*='sort=created']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &chrome,
        "return location.search.includes('sort=created') && \
         document.querySelector('th[aria-sort=descending] a.sort[href*=created]') !== null;",
    )
    .await;

    // The role filter: holders through the group, marked as such.
    chrome
        .find("#role")
        .await
        .select_by_value(&role)
        .await
        .unwrap();
    wait_for(
        &chrome,
        &format!(
            "return location.search.includes('role={role}') && \
             document.querySelectorAll('table.accounts tbody tr').length === 16;"
        ),
    )
    .await;
    assert_eq!(chrome.text_of(".pager .total").await, "1\u{2013}16 of 16");
    assert!(
        chrome
            .text_of("td.roles")
            .await
            .contains("Deployer via group deployers")
    );

    // The row menu by keyboard: Enter opens it, Tab reaches View, Esc closes it and
    // gives focus back to its button.
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts"))
        .await
        .unwrap();
    chrome.wait_for_heading("Service Accounts").await;
    let summary = format!("tr[data-account-id='{first}'] details.menu summary");
    chrome
        .find(&summary)
        .await
        .send_keys("\u{e007}")
        .await
        .unwrap();
    wait_for(
        &chrome,
        &format!(
            "return document.querySelector(\"tr[data-account-id='{first}'] details.menu\").open;"
        ),
    )
    .await;
    chrome
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{e004}")
        .await
        .unwrap();
    assert_eq!(
        eval(&chrome, "return document.activeElement.textContent.trim();").await,
        json!("View")
    );
    chrome
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{e00c}")
        .await
        .unwrap();
    wait_for(
        &chrome,
        &format!(
            "const d = document.querySelector(\"tr[data-account-id='{first}'] details.menu\"); \
             return !d.open && document.activeElement === d.querySelector('summary');"
        ),
    )
    .await;
    // Disable from the menu updates the row in place.
    chrome.find(&summary).await.click().await.unwrap();
    chrome
        .find(&format!("tr[data-account-id='{first}'] .menu-item"))
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &chrome,
        &format!(
            "const s = document.querySelector('#switch-{first}'); \
             return s !== null && s.getAttribute('aria-checked') === 'false';"
        ),
    )
    .await;

    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts/{first}"))
        .await
        .unwrap();
    chrome.wait_for_heading("billing-exporter-00").await;
    chrome.screenshot("console-account.png").await;
    // The copy buttons (shown only with scripts) and the Actions menu, closed by Esc.
    chrome
        .find("button[data-copy='client-id']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &chrome,
        "return document.querySelector(\"button[data-copy='client-id']\").textContent === 'Copied';",
    )
    .await;
    chrome
        .find(".page-head details.menu summary")
        .await
        .click()
        .await
        .unwrap();
    assert_eq!(
        chrome.text_of(".page-head details.menu summary").await,
        "Actions \u{22ee}"
    );
    wait_for(
        &chrome,
        "return document.querySelector('.page-head details.menu').open;",
    )
    .await;
    chrome
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{e00c}")
        .await
        .unwrap();
    wait_for(
        &chrome,
        "return !document.querySelector('.page-head details.menu').open;",
    )
    .await;

    // At 390 px the list scrolls inside its box, never the page.
    chrome.client.set_window_size(390, 844).await.unwrap();
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts"))
        .await
        .unwrap();
    chrome.wait_for_heading("Service Accounts").await;
    let w = eval(
        &chrome,
        "const d = document.documentElement; return [d.scrollWidth, d.clientWidth];",
    )
    .await;
    assert!(w[0].as_u64() <= w[1].as_u64(), "390 px: {w}");
    assert!(
        chrome
            .client
            .find_all(Locator::Css("table.accounts"))
            .await
            .unwrap()
            .len()
            == 1
    );
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_wizard_names_its_steps_keeps_choices_shows_the_whole_secret_and_back_says_it_exists() {
    let Some(chrome) = chrome("wizard-steps").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let group = app
        .state
        .admin
        .save_group(
            &Actor::system(),
            None,
            GroupInput {
                name: "readers".into(),
                description: "Read everything".into(),
                role_ids: vec!["builtin-auditor".into()],
                member_ids: vec![],
                bindings: None,
            },
        )
        .await
        .unwrap()
        .id;
    chrome.client.set_window_size(1440, 900).await.unwrap();
    chrome.sign_in(&base, "admin").await;
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts/new"))
        .await
        .unwrap();
    chrome.wait_for_heading("Service Account Details").await;
    assert_eq!(
        chrome.text_of("ol.steps").await.replace('\n', " · "),
        "1 DETAILS · 2 ROLES · 3 CREDENTIALS"
    );
    chrome
        .find("#name")
        .await
        .send_keys("billing-exporter")
        .await
        .unwrap();
    chrome
        .find("button[value=roles]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Roles").await;
    assert_eq!(
        chrome.text_of("ol.steps li[aria-current=step]").await,
        "2 ROLES"
    );
    // Tick a role and a group, go Back, come forward: both are still ticked.
    let role = "input[type=checkbox][value='builtin-token-introspector']";
    let grp = format!("input[type=checkbox][name=group][value='{group}']");
    chrome.find(role).await.click().await.unwrap();
    chrome.find(&grp).await.click().await.unwrap();
    chrome
        .find("button[value=details]")
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
    chrome.wait_for_heading("Roles").await;
    for css in [role, grp.as_str()] {
        assert_eq!(
            chrome
                .find(css)
                .await
                .prop("checked")
                .await
                .unwrap()
                .as_deref(),
            Some("true"),
            "{css}"
        );
    }
    chrome
        .find("button[value=create]")
        .await
        .click()
        .await
        .unwrap();
    chrome
        .wait_for_heading("Credentials for billing-exporter")
        .await;
    // The whole secret shows in its field.
    let fits = eval(
        &chrome,
        "const i = document.getElementById('cred-client-secret'); \
         return i.scrollWidth <= i.clientWidth;",
    )
    .await;
    assert_eq!(fits, json!(true), "the secret is cut off");
    let secret = chrome.value_of("#cred-client-secret").await;
    let client_id = chrome.value_of("#cred-client-id").await;
    let curl = chrome.text_of("#sample-curl").await;
    assert!(
        curl.contains(&format!("curl -u '{client_id}:{secret}'")),
        "{curl}"
    );
    assert!(curl.contains("grant_type=client_credentials"), "{curl}");
    let view = chrome
        .find("a.button[href^='/settings/service-accounts/']")
        .await;
    assert_eq!(view.text().await.unwrap(), "View account");
    let account = app
        .state
        .admin
        .find_account(&Actor::system(), "billing-exporter")
        .await
        .unwrap();
    assert_eq!(
        view.attr("href").await.unwrap().unwrap(),
        format!("/settings/service-accounts/{}", account.account.id)
    );
    let groups = app
        .state
        .admin
        .account_groups(&Actor::system(), &account.account.id)
        .await
        .unwrap();
    assert_eq!(groups.len(), 1);

    // Browser Back from the credentials: the step says the account exists.
    chrome.client.back().await.unwrap();
    wait_for(
        &chrome,
        "const n = document.querySelector('.created-notice'); \
         return n !== null && n.textContent.includes('billing-exporter was added already');",
    )
    .await;
    assert_eq!(
        eval(
            &chrome,
            "return document.querySelector('.created-notice a').getAttribute('href');"
        )
        .await,
        json!(format!("/settings/service-accounts/{}", account.account.id))
    );
    assert!(!chrome.body().await.contains(&secret));
    chrome.client.clone().close().await.unwrap();
}
