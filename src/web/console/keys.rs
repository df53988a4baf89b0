//! The Keys section of a `private_key_jwt` account's page: list, add (pasted or generated),
//! delete with confirmation.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::account::account_page;
use super::{Chrome, Console, ConsoleError, FormFields, form_error};
use crate::admin::keys::{KeySource, PRIVATE_KEY_JWT};
use crate::app::AppState;
use crate::domain::audit::Actor;
use crate::domain::format_ms;
use crate::domain::permission::SERVICE_ACCOUNTS_WRITE;

/// A key as the account page shows it.
pub struct KeyView {
    pub(crate) kid: String,
    pub(crate) algs: String,
    pub(crate) created: String,
    pub(crate) expires: Option<String>,
    pub(crate) last_used: Option<String>,
    /// "expires in 5 days" / "expired", when it expires (its own date or the policy's).
    pub(crate) expiry: Option<String>,
}

/// The keys of account `id` for its page (none for a secret account).
pub(crate) async fn key_views(
    app: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<Vec<KeyView>, ConsoleError> {
    let policies = app.admin.policies_in_force();
    let now = crate::domain::now_ms();
    Ok(app
        .admin
        .list_keys(actor, id)
        .await?
        .into_iter()
        .map(|k| {
            // The earlier of its own expiry and the credential-lifetime policy's.
            let ends = match (k.expires_at, policies.credential_expires_at(k.created_at)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            KeyView {
                kid: k.kid,
                algs: k.algs,
                created: format_ms(k.created_at),
                expires: ends.map(format_ms),
                last_used: k.last_used_at.map(format_ms),
                expiry: ends.map(|t| crate::domain::policy::expiry_text(t, now)),
            }
        })
        .collect())
}

/// What was pasted into "Paste a public key": a PEM public key, a JWK, or a JWK Set.
pub fn pasted_key(text: &str) -> KeySource {
    let text = text.trim();
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) if v.get("keys").is_some() => KeySource::Jwks(v),
        Ok(v) => KeySource::Jwks(serde_json::json!({ "keys": [v] })),
        Err(_) => KeySource::PublicKey(text.to_owned()),
    }
}

/// The one-time page of a generated key: its key file, to download now.
#[derive(Template, WebTemplate)]
#[template(path = "console/key_file.html")]
pub struct KeyFilePage {
    chrome: Option<Chrome>,
    section: &'static str,
    heading: String,
    account_id: String,
    client_id: String,
    key_id: String,
    token_uri: String,
    key_file_href: String,
    key_file_name: String,
}

impl KeyFilePage {
    /// The page for a freshly generated key file (a `data:` link: the private key is never
    /// kept on the server).
    pub fn new(
        console: &Console,
        account_id: &str,
        name: &str,
        file: &crate::admin::keys::KeyFile,
    ) -> Self {
        Self {
            chrome: console.chrome(),
            section: "service-accounts",
            heading: format!("Key file for {name}"),
            account_id: account_id.to_owned(),
            client_id: file.client_id.clone(),
            key_id: file.key_id.clone(),
            token_uri: file.token_uri.clone(),
            key_file_href: format!(
                "data:application/json;base64,{}",
                STANDARD.encode(file.to_json().to_string())
            ),
            key_file_name: format!("{}-key.json", super::accounts::file_stem(name)),
        }
    }
}

/// `POST /settings/service-accounts/{id}/keys`: adds a pasted key (then back to the
/// account) or a generated one (then its key file, once).
pub async fn add_key(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let actor = console.session.actor(&console.source);
    let back = format!("/settings/service-accounts/{id}");
    let sent = console
        .claim_form(&app, &form, &format!("{back}/keys"), &back)
        .await?;
    let source = if form.get("generate").is_some() {
        KeySource::Generate
    } else {
        pasted_key(form.get("key").unwrap_or_default())
    };
    let expires = match form.get("expires").map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(day) => crate::domain::parse_rfc3339(&format!("{day}T00:00:00Z"))
            .map(Some)
            .ok_or_else(|| "The expiry date must look like 2027-01-31.".to_owned()),
    };
    let result = match expires {
        Ok(expires) => app
            .admin
            .add_keys(&actor, &id, source, expires)
            .await
            .map_err(form_error),
        Err(m) => Err(Ok(m)),
    };
    if result.is_err() {
        sent.refused(&app).await;
    }
    match result {
        Ok(added) => match added.key_file {
            Some(file) => {
                let account = app.admin.get_account(&actor, &id).await?;
                Ok(KeyFilePage::new(&console, &id, &account.account.name, &file).into_response())
            }
            None => Ok(Redirect::to(&format!("/settings/service-accounts/{id}")).into_response()),
        },
        Err(message) => {
            let page = account_page(&app, &console, &id, None)
                .await?
                .with_key_error(message?);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// The key delete confirmation.
#[derive(Template, WebTemplate)]
#[template(path = "console/confirm_delete.html")]
pub struct ConfirmDeleteKeyPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    name: String,
    consequence: String,
    action: String,
    back: String,
}

/// `GET /settings/service-accounts/{id}/keys/{kid}/delete`.
pub async fn confirm_delete_key(
    State(app): State<AppState>,
    console: Console,
    Path((id, kid)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let actor = console.session.actor(&console.source);
    let account = app.admin.get_account(&actor, &id).await?;
    if account.account.auth_method != PRIVATE_KEY_JWT
        || !app
            .admin
            .list_keys(&actor, &id)
            .await?
            .iter()
            .any(|k| k.kid == kid)
    {
        return Err(ConsoleError::NotFound("That key does not exist.".into()));
    }
    Ok(ConfirmDeleteKeyPage {
        chrome: console.chrome(),
        section: "service-accounts",
        csrf: console.session.csrf_token.clone(),
        name: format!("key {kid}"),
        consequence: format!(
            "Assertions signed with this key stop working at once, on every instance; {} keeps \
             its other keys.",
            account.account.name
        ),
        action: format!("/settings/service-accounts/{id}/keys/{kid}/delete"),
        back: format!("/settings/service-accounts/{id}"),
    }
    .into_response())
}

/// `POST /settings/service-accounts/{id}/keys/{kid}/delete`.
pub async fn delete_key(
    State(app): State<AppState>,
    console: Console,
    Path((id, kid)): Path<(String, String)>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    match app.admin.delete_key(&actor, &id, &kid).await {
        Ok(()) => Ok(Redirect::to(&format!("/settings/service-accounts/{id}")).into_response()),
        Err(e) => {
            let message = form_error(e)?;
            let page = account_page(&app, &console, &id, None)
                .await?
                .with_key_error(message);
            Ok((StatusCode::CONFLICT, page).into_response())
        }
    }
}
