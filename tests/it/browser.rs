//! End to end in real headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! through WebDriver: sign in, walk the add-account wizard, read the credentials, fetch both
//! downloads, and get tokens with the keys from each file.
//!
//! Without a browser these tests print that they were skipped, unless
//! `KEYGATE_REQUIRE_BROWSER` is set (as CI does), when they fail instead.
//! With `KEYGATE_SCREENSHOTS=1` they save the wizard's screenshots under `docs/`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fantoccini::{Client, ClientBuilder, Locator};
use keygate::domain::audit::Actor;
use serde_json::{Value, json};

use crate::helpers::TestApp;

const PASSWORD: &str = "correct horse battery staple";

/// A chromedriver process and a browser session, ended on drop.
pub struct Chrome {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
    pub downloads: PathBuf,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A test that panicked never closed its session: end the browser it started, found
        // by its unique profile directory.
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(self.profile.as_os_str())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
        let _ = std::fs::remove_dir_all(&self.downloads);
    }
}

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

/// Starts headless Chromium, or says the test is skipped (`None`).
pub async fn chrome(test: &str) -> Option<Chrome> {
    let browser = find_binary(&["chromium", "chromium-browser"]);
    let driver = find_binary(&["chromedriver"]);
    let (Some(browser), Some(driver)) = (browser, driver) else {
        if std::env::var_os("KEYGATE_REQUIRE_BROWSER").is_some() {
            panic!("KEYGATE_REQUIRE_BROWSER is set but chromium or chromedriver is missing");
        }
        // Written straight to stderr so `cargo test` shows it even for a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "browser test {test} skipped: install Debian's chromium and chromium-driver to run it"
        );
        return None;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let unique = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let profile = std::env::temp_dir().join(format!("keygate-chrome-{unique}"));
    let downloads = std::env::temp_dir().join(format!("keygate-downloads-{unique}"));
    std::fs::create_dir_all(&downloads).unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": browser,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            },
        }),
    );
    // Keep the browser's console messages, so tests can read them (`Chrome::console_log`).
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    let url = format!("http://127.0.0.1:{port}");
    let mut last_err = None;
    for _ in 0..50 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Chrome {
                    client,
                    driver: child,
                    profile,
                    downloads,
                });
            }
            Err(e) => {
                last_err = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("cannot start a Chromium session: {last_err:?}");
}

impl Chrome {
    /// Saves a screenshot under `docs/` when `KEYGATE_SCREENSHOTS` is set.
    pub async fn screenshot(&self, name: &str) {
        if std::env::var_os("KEYGATE_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.client.screenshot().await.unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name);
        std::fs::write(path, png).unwrap();
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    pub async fn value_of(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub async fn body(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Waits until the page's `h1` reads `text` (after an htmx swap or a navigation).
    pub async fn wait_for_heading(&self, text: &str) {
        for _ in 0..100 {
            if let Ok(h) = self.client.find(Locator::Css("h1")).await
                && h.text().await.is_ok_and(|t| t.contains(text))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no heading {text:?} in {}", self.body().await);
    }

    /// Signs in through the form.
    pub async fn sign_in(&self, base: &str, username: &str) {
        self.client.goto(&format!("{base}/login")).await.unwrap();
        self.find("#username")
            .await
            .send_keys(username)
            .await
            .unwrap();
        self.find("#password")
            .await
            .send_keys(PASSWORD)
            .await
            .unwrap();
        self.find("form[action='/login'] button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        self.wait_for_heading("Service Accounts").await;
    }

    /// The browser console's messages since the last call (chromedriver's log endpoint),
    /// each as `LEVEL message`.
    pub async fn console_log(&self) -> Vec<String> {
        let entries = self.client.issue_cmd(BrowserLog).await.unwrap();
        entries
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["level"].as_str().unwrap_or_default(),
                            e["message"].as_str().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for a downloaded file to be complete.
    pub async fn downloaded(&self, name: &str) -> String {
        let path = self.downloads.join(name);
        for _ in 0..100 {
            if let Ok(s) = std::fs::read_to_string(&path)
                && !s.is_empty()
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{name} was not downloaded into {}",
            self.downloads.display()
        );
    }
}

/// chromedriver's `POST /session/{id}/se/log` for the browser console.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &reqwest::Url,
        session: Option<&str>,
    ) -> Result<reqwest::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

/// A served app with an administrator.
pub async fn served_app_with_admin() -> TestApp {
    let app = TestApp::builder().serving().start().await;
    let ids = app
        .state
        .admin
        .role_ids_by_names(&["Administrator".to_owned()])
        .await
        .unwrap();
    app.state
        .admin
        .create_user(&Actor::system(), "admin", PASSWORD.to_owned(), &ids)
        .await
        .unwrap();
    app
}

async fn token_with(app: &TestApp, client_id: &str, secret: &str, token_url: &str) -> Value {
    assert_eq!(token_url, format!("{}/oauth/token", app.base_url()));
    let res = reqwest::Client::new()
        .post(token_url)
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn decode_data_url(href: &str) -> String {
    let b64 = href.split_once("base64,").expect("a base64 data: URL").1;
    String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap()
}

#[tokio::test]
async fn an_administrator_adds_an_account_and_both_downloads_work_at_the_token_endpoint() {
    let Some(chrome) = chrome("wizard").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    chrome.sign_in(&base, "admin").await;
    assert!(chrome.body().await.contains("No service accounts yet"));

    // Step 1, with a validation round trip that keeps what was typed.
    chrome
        .find("a.button.primary[href='/settings/service-accounts/new']")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Service Account Details").await;
    assert_eq!(
        chrome
            .find("ol.steps")
            .await
            .attr("aria-label")
            .await
            .unwrap()
            .as_deref(),
        Some("Step 1 of 3")
    );
    chrome
        .find("#description")
        .await
        .send_keys("Ships invoices to the ledger")
        .await
        .unwrap();
    chrome
        .find("button[value=roles]")
        .await
        .click()
        .await
        .unwrap();
    let error = chrome.text_of("#name-error").await;
    assert_eq!(error, "Name is required.");
    assert_eq!(
        chrome.value_of("#description").await,
        "Ships invoices to the ledger"
    );
    let name = "Billing \"Exporter\", Inc.";
    chrome.find("#name").await.send_keys(name).await.unwrap();
    chrome.screenshot("wizard-step-1.png").await;
    chrome
        .find("button[value=roles]")
        .await
        .click()
        .await
        .unwrap();

    // Step 2, Back keeps step 1, then choose a role and add.
    chrome.wait_for_heading("Roles").await;
    assert_eq!(
        chrome
            .find("ol.steps")
            .await
            .attr("aria-label")
            .await
            .unwrap()
            .as_deref(),
        Some("Step 2 of 3")
    );
    chrome
        .find("button[value=details]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Service Account Details").await;
    assert_eq!(chrome.value_of("#name").await, name);
    assert_eq!(
        chrome.value_of("#description").await,
        "Ships invoices to the ledger"
    );
    chrome
        .find("button[value=roles]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Roles").await;
    let introspector = chrome
        .find("input[type=checkbox][value='builtin-token-introspector']")
        .await;
    introspector.click().await.unwrap();
    chrome.screenshot("wizard-step-2.png").await;
    chrome
        .find("button[value=create]")
        .await
        .click()
        .await
        .unwrap();

    // Step 3: the credentials, once.
    chrome.wait_for_heading("Credentials for").await;
    assert_eq!(
        chrome
            .find("ol.steps")
            .await
            .attr("aria-label")
            .await
            .unwrap()
            .as_deref(),
        Some("Step 3 of 3")
    );
    let client_id = chrome.value_of("#cred-client-id").await;
    let secret = chrome.value_of("#cred-client-secret").await;
    let token_url = chrome.value_of("#cred-token-uri").await;
    assert!(client_id.starts_with("kgc_") && secret.starts_with("kgs_"));
    chrome.screenshot("wizard-step-3.png").await;

    let json_link = chrome.find("#download-json").await;
    let csv_link = chrome.find("#download-csv").await;
    let json_file = json_link.attr("download").await.unwrap().unwrap();
    let csv_file = csv_link.attr("download").await.unwrap().unwrap();
    assert_eq!(json_file, "Billing--Exporter---Inc-credentials.json");
    assert_eq!(csv_file, "Billing--Exporter---Inc-credentials.csv");
    let json_href = json_link.attr("href").await.unwrap().unwrap();
    let csv_href = csv_link.attr("href").await.unwrap().unwrap();
    json_link.click().await.unwrap();
    csv_link.click().await.unwrap();
    let json_text = chrome.downloaded(&json_file).await;
    let csv_text = chrome.downloaded(&csv_file).await;
    assert_eq!(json_text, decode_data_url(&json_href));
    assert_eq!(csv_text, decode_data_url(&csv_href));

    // Keys from the JSON file get a token…
    let from_json: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(from_json["name"], name);
    assert_eq!(from_json["client_id"], client_id.as_str());
    assert_eq!(from_json["client_secret"], secret.as_str());
    let t = token_with(
        &app,
        from_json["client_id"].as_str().unwrap(),
        from_json["client_secret"].as_str().unwrap(),
        from_json["access_token_uri"].as_str().unwrap(),
    )
    .await;
    assert_eq!(t["scope"], "tokens:introspect");

    // …and so do the keys from the CSV file, read with a CSV parser.
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[0], name);
    let t = token_with(&app, &row[1], &row[2], &row[3]).await;
    assert_eq!(t["client_id"], client_id.as_str());
    assert_eq!(token_url, row[3].to_owned());

    // Done goes back to the list, which shows the account and not the secret.
    chrome
        .find("a.button.primary[href='/settings/service-accounts']")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Service Accounts").await;
    let list = chrome.body().await;
    assert!(list.contains(&client_id));
    assert!(!list.contains(&secret));

    // The browser's Back button and a reload never show the secret again.
    chrome.client.back().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!chrome.body().await.contains(&secret));
    chrome.client.refresh().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!chrome.body().await.contains(&secret));

    chrome.client.clone().close().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// The account lifecycle in the browser: toggle, regenerate, delete, read-only.

/// Waits until `css` matches nothing (or panics after 10 s).
async fn wait_until_gone(chrome: &Chrome, css: &str) {
    for _ in 0..100 {
        if chrome
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} is still there in {}", chrome.body().await);
}

/// Waits until the text of `css` is `text` (an htmx swap replaces the element).
async fn wait_for_text(chrome: &Chrome, css: &str, text: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = chrome.client.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if t.trim() == text {
                return;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} reads {last:?}, not {text:?}");
}

async fn token_status(app: &TestApp, client_id: &str, secret: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/oauth/token", app.base_url()))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_enabled_toggle_updates_its_row_in_place_and_the_token_endpoint_follows() {
    let Some(chrome) = chrome("toggle").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let other = app.account("aardvark").create().await;
    let c = app.account("billing").create().await;
    chrome.sign_in(&base, "admin").await;
    let button = format!("tr[data-account-id='{}'] button.switch", c.id);
    assert_eq!(chrome.text_of(&button).await, "Enabled");
    // Mark the page, so a full reload (instead of an in-place swap) would be noticed.
    chrome
        .client
        .execute("window.__keygateMark = 1; return null;", vec![])
        .await
        .unwrap();

    chrome.find(&button).await.click().await.unwrap();
    wait_for_text(&chrome, &button, "Disabled").await;
    assert_eq!(
        chrome
            .find(&button)
            .await
            .attr("aria-checked")
            .await
            .unwrap()
            .as_deref(),
        Some("false")
    );
    assert_eq!(
        token_status(&app, &c.client_id, &c.client_secret).await,
        401
    );
    assert_eq!(
        token_status(&app, &other.client_id, &other.client_secret).await,
        200,
        "the other row's account is untouched"
    );
    let other_button = format!("tr[data-account-id='{}'] button.switch", other.id);
    assert_eq!(chrome.text_of(&other_button).await, "Enabled");

    // The swapped row's form works again.
    chrome.find(&button).await.click().await.unwrap();
    wait_for_text(&chrome, &button, "Enabled").await;
    assert_eq!(
        token_status(&app, &c.client_id, &c.client_secret).await,
        200
    );
    let mark = chrome
        .client
        .execute("return window.__keygateMark || 0;", vec![])
        .await
        .unwrap();
    assert_eq!(mark, json!(1), "the page was not reloaded");
    assert_eq!(
        chrome.client.current_url().await.unwrap().path(),
        "/settings/service-accounts"
    );
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn regenerating_from_the_menu_downloads_new_keys_that_work() {
    let Some(chrome) = chrome("regenerate").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app
        .account("billing")
        .roles(&["Token Introspector"])
        .create()
        .await;
    chrome.sign_in(&base, "admin").await;
    chrome
        .find(&format!("tr[data-account-id='{}'] td.name a", c.id))
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("billing").await;
    let link = format!(
        "details.menu a[href='/settings/service-accounts/{}/regenerate']",
        c.id
    );
    assert!(
        !chrome.find(&link).await.is_displayed().await.unwrap(),
        "the menu starts closed"
    );
    chrome
        .find("details.menu summary")
        .await
        .click()
        .await
        .unwrap();
    chrome.find(&link).await.click().await.unwrap();
    chrome
        .wait_for_heading("Regenerate Client Keys for billing")
        .await;
    assert_eq!(chrome.value_of("#grace").await, "0");
    chrome
        .find("form[action$='/regenerate'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("New client keys for billing").await;
    let shown_id = chrome.value_of("#cred-client-id").await;
    assert_ne!(shown_id, c.client_id);

    let json_link = chrome.find("#download-json").await;
    let file = json_link.attr("download").await.unwrap().unwrap();
    assert_eq!(file, "billing-credentials.json");
    json_link.click().await.unwrap();
    let text = chrome.downloaded(&file).await;
    let keys: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keys["client_id"], shown_id.as_str());
    let t = token_with(
        &app,
        keys["client_id"].as_str().unwrap(),
        keys["client_secret"].as_str().unwrap(),
        keys["access_token_uri"].as_str().unwrap(),
    )
    .await;
    assert_eq!(t["scope"], "tokens:introspect");
    assert_eq!(
        token_status(&app, &c.client_id, &c.client_secret).await,
        401
    );
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn deleting_needs_the_name_typed_and_then_the_list_no_longer_shows_it() {
    let Some(chrome) = chrome("delete").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app.account("billing").create().await;
    chrome.sign_in(&base, "admin").await;
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts/{}", c.id))
        .await
        .unwrap();
    chrome.wait_for_heading("billing").await;
    chrome
        .find("details.menu summary")
        .await
        .click()
        .await
        .unwrap();
    chrome
        .find(&format!(
            "details.menu a[href='/settings/service-accounts/{}/delete']",
            c.id
        ))
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Delete billing?").await;
    let submit = "form[data-confirm-value] button[type=submit]";
    assert!(
        !chrome.find(submit).await.is_enabled().await.unwrap(),
        "disabled at first"
    );
    let input = chrome.find("#confirm-name").await;
    input.send_keys("billin").await.unwrap();
    assert!(
        !chrome.find(submit).await.is_enabled().await.unwrap(),
        "disabled on a prefix"
    );
    input.send_keys("gs").await.unwrap();
    assert!(
        !chrome.find(submit).await.is_enabled().await.unwrap(),
        "disabled past the name"
    );
    input.clear().await.unwrap();
    input.send_keys("billing").await.unwrap();
    assert!(
        chrome.find(submit).await.is_enabled().await.unwrap(),
        "enabled on the name"
    );
    assert_eq!(
        token_status(&app, &c.client_id, &c.client_secret).await,
        200
    );
    chrome.find(submit).await.click().await.unwrap();

    chrome.wait_for_heading("Service Accounts").await;
    wait_until_gone(&chrome, &format!("tr[data-account-id='{}']", c.id)).await;
    assert!(!chrome.body().await.contains(&c.client_id));
    assert_eq!(
        token_status(&app, &c.client_id, &c.client_secret).await,
        401
    );
    assert_eq!(app.account_count().await, 0);
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_read_only_user_sees_no_button_that_changes_an_account() {
    let Some(chrome) = chrome("read-only").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    let c = app.account("billing").create().await;
    crate::console::console_user(&app, "auditor", &["Auditor"]).await;
    chrome.sign_in(&base, "auditor").await;
    let row = format!("tr[data-account-id='{}']", c.id);
    assert_eq!(chrome.text_of(&format!("{row} .status")).await, "Enabled");

    let labels = |chrome: &Chrome| {
        let client = chrome.client.clone();
        async move {
            let mut out = Vec::new();
            for b in client
                .find_all(Locator::Css("main button, main a.button"))
                .await
                .unwrap()
            {
                out.push(b.text().await.unwrap());
            }
            out
        }
    };
    let on_list = labels(&chrome).await;
    assert_eq!(on_list, ["Search"], "{on_list:?}");
    assert!(
        chrome
            .client
            .find_all(Locator::Css(&format!("{row} form")))
            .await
            .unwrap()
            .is_empty()
    );

    chrome
        .find(&format!("{row} td.name a"))
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("billing").await;
    assert!(
        chrome
            .client
            .find_all(Locator::Css("details.menu"))
            .await
            .unwrap()
            .is_empty()
    );
    // Copying changes nothing: only the copy buttons are left.
    let on_page = labels(&chrome).await;
    assert!(on_page.iter().all(|l| l == "Copy"), "{on_page:?}");
    let body = chrome.body().await;
    for action in ["edit", "regenerate", "delete", "enabled"] {
        assert!(
            !body.contains(&format!("/settings/service-accounts/{}/{action}", c.id)),
            "{action}"
        );
    }
    chrome.client.clone().close().await.unwrap();
}
