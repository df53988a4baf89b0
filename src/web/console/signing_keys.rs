//! Settings → Signing Keys: the published token-signing keys, and their rotation.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{Chrome, Console, ConsoleError, Flash, FormFields, redirect_with_notice};
use crate::app::AppState;
use crate::domain::format_ms;
use crate::domain::permission::ROLES_WRITE;

/// A key as shown.
pub struct KeyView {
    kid: String,
    created: String,
    retires: Option<String>,
}

/// The signing-keys page.
#[derive(Template, WebTemplate)]
#[template(path = "console/signing_keys.html")]
pub struct SigningKeysPage {
    chrome: Option<Chrome>,
    section: &'static str,
    keys: Vec<KeyView>,
    can_rotate: bool,
    notice: Option<String>,
}

/// `GET /settings/signing-keys`.
pub async fn list_signing_keys(
    State(app): State<AppState>,
    console: Console,
    Flash(notice): Flash,
) -> Result<Response, ConsoleError> {
    let keys = app
        .admin
        .signing_keys(&console.session.actor(&console.source))?
        .into_iter()
        .map(|k| KeyView {
            kid: k.kid,
            created: format_ms(k.created_at),
            retires: k.retires_at.map(format_ms),
        })
        .collect();
    Ok(SigningKeysPage {
        chrome: console.chrome(),
        section: "signing-keys",
        keys,
        can_rotate: console.session.can(ROLES_WRITE),
        notice,
    }
    .into_response())
}

/// The confirmation before a rotation.
#[derive(Template, WebTemplate)]
#[template(path = "console/signing_key_rotate.html")]
pub struct RotatePage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
}

/// `GET /settings/signing-keys/rotate`.
pub async fn confirm_rotate(console: Console) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    Ok(RotatePage {
        chrome: console.chrome(),
        section: "signing-keys",
        csrf: console.session.csrf_token.clone(),
    }
    .into_response())
}

/// `POST /settings/signing-keys/rotate`.
pub async fn rotate_signing_key(
    State(app): State<AppState>,
    console: Console,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let r = app
        .admin
        .rotate_signing_key(&console.session.actor(&console.source))
        .await?;
    Ok(redirect_with_notice(
        "/settings/signing-keys",
        &format!(
            "Signing key rotated: {} signs new tokens. The previous key stays published until {}.",
            r.kid,
            format_ms(r.retires_at)
        ),
    ))
}
