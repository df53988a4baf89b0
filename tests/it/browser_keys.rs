//! The console's key paths (`private_key_jwt`, issue 11) in real headless Chromium: the
//! wizard with a generated key (its key file downloaded and used at once to sign an
//! assertion and get a token) and with a pasted PEM key, and adding and deleting a key on
//! the account page, with its confirmation.

use fantoccini::Locator;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::browser::{Chrome, chrome, served_app_with_admin};
use crate::helpers::{TestApp, unix_secs};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/it/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Signs a fresh ES256 assertion and asks the real server for a token with it, as a client
/// holding only the key file would. Answers the status and body.
async fn grant_with_key(
    app: &TestApp,
    client_id: &str,
    kid: Option<&str>,
    private_pem: &str,
    token_uri: &str,
) -> (u16, Value) {
    let key = EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    let now = unix_secs();
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": app.issuer,
        "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
    });
    let assertion = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let res = reqwest::Client::new()
        .post(token_uri)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Opens the wizard and fills step 1 with a private_key_jwt account named `name`.
async fn wizard_step_one_with_keys(chrome: &Chrome, base: &str, name: &str) {
    chrome
        .client
        .goto(&format!("{base}/settings/service-accounts/new"))
        .await
        .unwrap();
    chrome.wait_for_heading("Service Account Details").await;
    chrome.find("#name").await.send_keys(name).await.unwrap();
    chrome.find("#auth-key").await.click().await.unwrap();
}

/// Steps 2 and 3 of the wizard: one role, then Create.
async fn wizard_roles_and_create(chrome: &Chrome) {
    chrome
        .find("button[value=roles]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Roles").await;
    chrome
        .find("input[type=checkbox][value='builtin-token-introspector']")
        .await
        .click()
        .await
        .unwrap();
    chrome
        .find("button[value=create]")
        .await
        .click()
        .await
        .unwrap();
    chrome.wait_for_heading("Credentials for").await;
}

#[tokio::test]
async fn the_wizard_generates_a_key_whose_downloaded_file_gets_a_token_at_once() {
    let Some(chrome) = chrome("wizard-generated-key").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    chrome.sign_in(&base, "admin").await;
    wizard_step_one_with_keys(&chrome, &base, "signer").await;
    chrome.find("#key-generate").await.click().await.unwrap();
    wizard_roles_and_create(&chrome).await;

    let client_id = chrome.value_of("#cred-client-id").await;
    let kid = chrome.value_of("#cred-key-id").await;
    assert!(
        !chrome.body().await.contains("cred-client-secret"),
        "a key account has no secret"
    );
    let link = chrome.find("#download-key-file").await;
    let file_name = link.attr("download").await.unwrap().unwrap();
    link.click().await.unwrap();
    let file: Value = serde_json::from_str(&chrome.downloaded(&file_name).await).unwrap();
    assert_eq!(file["type"], "keygate_service_account_key");
    assert_eq!(file["client_id"], client_id.as_str());
    assert_eq!(file["key_id"], kid.as_str());

    // The downloaded file alone is enough to get a token.
    let (status, body) = grant_with_key(
        &app,
        file["client_id"].as_str().unwrap(),
        file["key_id"].as_str(),
        file["private_key"].as_str().unwrap(),
        file["token_uri"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "tokens:introspect");

    // The private key is not shown again.
    chrome.client.refresh().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!chrome.body().await.contains("PRIVATE KEY"));
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_wizard_takes_a_pasted_pem_key_and_the_client_signs_with_its_private_half() {
    let Some(chrome) = chrome("wizard-pasted-key").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    chrome.sign_in(&base, "admin").await;
    wizard_step_one_with_keys(&chrome, &base, "pasted").await;
    chrome.find("#key-paste").await.click().await.unwrap();
    chrome
        .find("#public-key")
        .await
        .send_keys(&key_file("p256.pub.pem"))
        .await
        .unwrap();
    wizard_roles_and_create(&chrome).await;

    let client_id = chrome.value_of("#cred-client-id").await;
    let kid = chrome.value_of("#cred-key-id").await;
    let token_uri = chrome.value_of("#cred-token-uri").await;
    assert!(
        chrome
            .client
            .find_all(Locator::Css("#download-key-file"))
            .await
            .unwrap()
            .is_empty(),
        "a pasted key has no key file to download"
    );
    let (status, body) = grant_with_key(
        &app,
        &client_id,
        Some(&kid),
        &key_file("p256.pem"),
        &token_uri,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    chrome.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_account_page_adds_a_key_and_deletes_one_after_confirmation() {
    let Some(chrome) = chrome("account-keys").await else {
        return;
    };
    let app = served_app_with_admin().await;
    let base = app.base_url();
    chrome.sign_in(&base, "admin").await;
    wizard_step_one_with_keys(&chrome, &base, "rotating").await;
    chrome.find("#key-paste").await.click().await.unwrap();
    chrome
        .find("#public-key")
        .await
        .send_keys(&key_file("p256.pub.pem"))
        .await
        .unwrap();
    wizard_roles_and_create(&chrome).await;
    let client_id = chrome.value_of("#cred-client-id").await;
    let first_kid = chrome.value_of("#cred-key-id").await;
    let token_uri = chrome.value_of("#cred-token-uri").await;

    // The account page: generate a second key there; its key file is offered once.
    let id = keygate::store::accounts::id_by_client_id(app.state.store.pool(), &client_id)
        .await
        .unwrap()
        .unwrap();
    let page = format!("{base}/settings/service-accounts/{id}");
    chrome.client.goto(&page).await.unwrap();
    chrome.wait_for_heading("rotating").await;
    assert!(chrome.text_of("#keys").await.contains(&first_kid));
    chrome
        .find("#keys button[name=generate]")
        .await
        .click()
        .await
        .unwrap();
    let link = chrome.find("#download-key-file").await;
    let file_name = link.attr("download").await.unwrap().unwrap();
    link.click().await.unwrap();
    let file: Value = serde_json::from_str(&chrome.downloaded(&file_name).await).unwrap();
    let second_kid = file["key_id"].as_str().unwrap().to_owned();
    let private = file["private_key"].as_str().unwrap().to_owned();
    // Both keys work: rotation without downtime.
    for (kid, pem) in [
        (first_kid.as_str(), key_file("p256.pem")),
        (second_kid.as_str(), private.clone()),
    ] {
        let (status, body) = grant_with_key(&app, &client_id, Some(kid), &pem, &token_uri).await;
        assert_eq!(status, 200, "{kid}: {body}");
    }

    // Delete the first key: a confirmation page first, then it stops working.
    chrome.client.goto(&page).await.unwrap();
    chrome.wait_for_heading("rotating").await;
    let keys = chrome.text_of("#keys").await;
    assert!(keys.contains(&first_kid) && keys.contains(&second_kid));
    chrome
        .find(&format!("#keys a.danger[href$='/keys/{first_kid}/delete']"))
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
    chrome.wait_for_heading("rotating").await;
    let keys = chrome.text_of("#keys").await;
    assert!(!keys.contains(&first_kid), "{keys}");
    assert!(keys.contains(&second_kid), "{keys}");
    let (status, _) = grant_with_key(
        &app,
        &client_id,
        Some(&first_kid),
        &key_file("p256.pem"),
        &token_uri,
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) =
        grant_with_key(&app, &client_id, Some(&second_kid), &private, &token_uri).await;
    assert_eq!(status, 200, "{body}");
    chrome.client.clone().close().await.unwrap();
}
