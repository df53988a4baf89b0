//! Workload identity federation in the console: Settings → Federation (trusted issuers)
//! and an account's Federated credentials page, with presets for GitHub Actions, GitLab CI,
//! Kubernetes and SPIFFE JWT-SVIDs. Every form works without JavaScript.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Chrome, Console, ConsoleError, FormFields, form_error};
use crate::admin::federation::IssuerInput;
use crate::app::AppState;
use crate::domain::federation::{PRESETS, Preset, Rule, TrustedIssuer};
use crate::domain::format_ms;
use crate::domain::permission::{ROLES_WRITE, SERVICE_ACCOUNTS_WRITE};

/// What the add-issuer form holds (kept when it is refused).
#[derive(Debug, Default)]
pub struct IssuerForm {
    name: String,
    issuer: String,
    jwks_uri: String,
    audience: String,
}

/// Settings → Federation.
#[derive(Template, WebTemplate)]
#[template(path = "console/federation.html")]
pub struct FederationPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    can_write: bool,
    issuers: Vec<TrustedIssuer>,
    form: IssuerForm,
    error: Option<String>,
}

async fn federation_page(
    app: &AppState,
    console: &Console,
    form: IssuerForm,
    error: Option<String>,
) -> Result<FederationPage, ConsoleError> {
    let actor = console.session.actor(&console.source);
    Ok(FederationPage {
        chrome: console.chrome(),
        section: "federation",
        csrf: console.session.csrf_token.clone(),
        can_write: console.session.can(ROLES_WRITE),
        issuers: app.admin.list_trusted_issuers(&actor).await?,
        form,
        error,
    })
}

/// `GET /settings/federation`.
pub async fn list_trusted_issuers(
    State(app): State<AppState>,
    console: Console,
) -> Result<Response, ConsoleError> {
    Ok(federation_page(&app, &console, IssuerForm::default(), None)
        .await?
        .into_response())
}

/// `POST /settings/federation`: adds a trusted issuer; refused inline with what was typed.
pub async fn create_trusted_issuer(
    State(app): State<AppState>,
    console: Console,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    console.require(ROLES_WRITE)?;
    let field = |n: &str| form.get(n).unwrap_or_default().to_owned();
    let typed = IssuerForm {
        name: field("name"),
        issuer: field("issuer"),
        jwks_uri: field("jwks_uri"),
        audience: field("audience"),
    };
    let input = IssuerInput {
        name: typed.name.clone(),
        issuer: typed.issuer.clone(),
        jwks_uri: Some(typed.jwks_uri.clone()),
        audience: Some(typed.audience.clone()),
    };
    let actor = console.session.actor(&console.source);
    match app.admin.create_trusted_issuer(&actor, &input).await {
        Ok(_) => Ok(Redirect::to("/settings/federation").into_response()),
        Err(e) => {
            let message = form_error(e)?;
            let page = federation_page(&app, &console, typed, Some(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// A delete confirmation (the shared template).
#[derive(Template, WebTemplate)]
#[template(path = "console/confirm_delete.html")]
pub struct ConfirmDeletePage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    name: String,
    consequence: String,
    action: String,
    back: String,
}

/// `GET /settings/federation/{id}/delete`.
pub async fn confirm_delete_trusted_issuer(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    console.require(ROLES_WRITE)?;
    let actor = console.session.actor(&console.source);
    let issuer = app.admin.get_trusted_issuer(&actor, &id).await?;
    Ok(ConfirmDeletePage {
        chrome: console.chrome(),
        section: "federation",
        csrf: console.session.csrf_token.clone(),
        name: issuer.name.clone(),
        consequence: format!(
            "Tokens of {} stop working at once, on every instance, and every federated \
             credential that names it is deleted.",
            issuer.issuer
        ),
        action: format!("/settings/federation/{id}/delete"),
        back: "/settings/federation".into(),
    }
    .into_response())
}

/// `POST /settings/federation/{id}/delete`.
pub async fn delete_trusted_issuer(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    app.admin.delete_trusted_issuer(&actor, &id).await?;
    Ok(Redirect::to("/settings/federation").into_response())
}

/// A federated credential as the page shows it.
pub struct CredentialView {
    id: String,
    issuer: String,
    subject: Option<String>,
    conditions: Vec<String>,
    created: String,
}

/// What the add-credential form holds: a preset's values, or what was typed.
#[derive(Debug, Default)]
pub struct CredentialForm {
    preset: String,
    trusted_issuer: String,
    subject: String,
    /// `(claim, rule, value)`, with empty rows to fill.
    rows: Vec<(String, String, String)>,
}

/// Empty condition rows offered on the form.
const ROWS: usize = 3;

impl CredentialForm {
    fn from_preset(preset: Option<&Preset>, issuers: &[TrustedIssuer]) -> Self {
        let mut rows: Vec<(String, String, String)> = preset
            .map(|p| {
                p.conditions
                    .iter()
                    .map(|(c, r, v)| ((*c).into(), (*r).into(), (*v).into()))
                    .collect()
            })
            .unwrap_or_default();
        while rows.len() < ROWS {
            rows.push(Default::default());
        }
        // The preset's issuer, if it is trusted here (GitHub's and GitLab's are the same
        // everywhere; a cluster's or a SPIFFE trust domain's differ per installation).
        let trusted_issuer = preset
            .filter(|p| !p.issuer.is_empty())
            .and_then(|p| issuers.iter().find(|i| i.issuer == p.issuer))
            .map(|i| i.id.clone())
            .unwrap_or_default();
        Self {
            preset: preset.map(|p| p.id.to_owned()).unwrap_or_default(),
            trusted_issuer,
            subject: preset.map(|p| p.subject.to_owned()).unwrap_or_default(),
            rows,
        }
    }
}

/// An account's Federated credentials page.
#[derive(Template, WebTemplate)]
#[template(path = "console/federation_credentials.html")]
pub struct CredentialsPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    can_write: bool,
    account_id: String,
    account_name: String,
    client_id: String,
    credentials: Vec<CredentialView>,
    issuers: Vec<TrustedIssuer>,
    presets: &'static [Preset],
    form: CredentialForm,
    error: Option<String>,
}

async fn credentials_page(
    app: &AppState,
    console: &Console,
    id: &str,
    form: Option<CredentialForm>,
    preset: Option<&str>,
    error: Option<String>,
) -> Result<CredentialsPage, ConsoleError> {
    let actor = console.session.actor(&console.source);
    let account = app.admin.get_account(&actor, id).await?;
    let issuers = app.admin.list_trusted_issuers(&actor).await?;
    let credentials = app
        .admin
        .list_federated_credentials(&actor, id)
        .await?
        .into_iter()
        .map(|c| CredentialView {
            issuer: issuers
                .iter()
                .find(|i| i.id == c.trusted_issuer_id)
                .map_or_else(|| c.trusted_issuer_id.clone(), |i| i.name.clone()),
            subject: c.subject,
            conditions: c
                .conditions
                .iter()
                .map(|d| match &d.rule {
                    Rule::Equals(v) => format!("{} = {v}", d.claim),
                    Rule::Matches(v) => format!("{} matches {v}", d.claim),
                })
                .collect(),
            created: format_ms(c.created_at),
            id: c.id,
        })
        .collect();
    let form = form.unwrap_or_else(|| {
        CredentialForm::from_preset(
            preset.and_then(|p| PRESETS.iter().find(|x| x.id == p)),
            &issuers,
        )
    });
    Ok(CredentialsPage {
        chrome: console.chrome(),
        section: "service-accounts",
        csrf: console.session.csrf_token.clone(),
        can_write: console.session.can(SERVICE_ACCOUNTS_WRITE),
        account_id: account.account.id.clone(),
        account_name: account.account.name.clone(),
        client_id: account.account.client_id.clone(),
        credentials,
        issuers,
        presets: &PRESETS,
        form,
        error,
    })
}

/// The query of the credentials page: a preset to fill the form with.
#[derive(Debug, Deserialize)]
pub struct PresetQuery {
    preset: Option<String>,
}

/// `GET /settings/service-accounts/{id}/federated-credentials[?preset=github]`.
pub async fn list_federated_credentials(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    Query(q): Query<PresetQuery>,
) -> Result<Response, ConsoleError> {
    Ok(
        credentials_page(&app, &console, &id, None, q.preset.as_deref(), None)
            .await?
            .into_response(),
    )
}

/// `POST /settings/service-accounts/{id}/federated-credentials`: adds one; refused inline
/// with what was typed.
pub async fn add_federated_credential(
    State(app): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let (claims, rules, values) = (form.all("claim"), form.all("rule"), form.all("value"));
    let rows: Vec<(String, String, String)> = claims
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c.trim().to_owned(),
                rules.get(i).cloned().unwrap_or_else(|| "equals".into()),
                values.get(i).cloned().unwrap_or_default(),
            )
        })
        .collect();
    let conditions: Vec<Value> = rows
        .iter()
        .filter(|(c, _, _)| !c.is_empty())
        .map(|(c, r, v)| {
            if r == "matches" {
                json!({"claim": c, "matches": v})
            } else {
                json!({"claim": c, "equals": v})
            }
        })
        .collect();
    let typed = CredentialForm {
        preset: form.get("preset").unwrap_or_default().to_owned(),
        trusted_issuer: form.get("trusted_issuer").unwrap_or_default().to_owned(),
        subject: form.get("subject").unwrap_or_default().to_owned(),
        rows,
    };
    let actor = console.session.actor(&console.source);
    let result = app
        .admin
        .add_federated_credential(
            &actor,
            &id,
            &typed.trusted_issuer,
            Some(typed.subject.as_str()),
            Some(&Value::Array(conditions)),
        )
        .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!(
            "/settings/service-accounts/{id}/federated-credentials"
        ))
        .into_response()),
        Err(e) => {
            let message = form_error(e)?;
            let page =
                credentials_page(&app, &console, &id, Some(typed), None, Some(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `GET /settings/service-accounts/{id}/federated-credentials/{fid}/delete`.
pub async fn confirm_delete_federated_credential(
    State(app): State<AppState>,
    console: Console,
    Path((id, fid)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    console.require(SERVICE_ACCOUNTS_WRITE)?;
    let actor = console.session.actor(&console.source);
    let account = app.admin.get_account(&actor, &id).await?;
    if !app
        .admin
        .list_federated_credentials(&actor, &id)
        .await?
        .iter()
        .any(|c| c.id == fid)
    {
        return Err(ConsoleError::NotFound(
            "That federated credential does not exist.".into(),
        ));
    }
    Ok(ConfirmDeletePage {
        chrome: console.chrome(),
        section: "service-accounts",
        csrf: console.session.csrf_token.clone(),
        name: "this federated credential".into(),
        consequence: format!(
            "Tokens it matched stop standing in for {} at once, on every instance.",
            account.account.name
        ),
        action: format!("/settings/service-accounts/{id}/federated-credentials/{fid}/delete"),
        back: format!("/settings/service-accounts/{id}/federated-credentials"),
    }
    .into_response())
}

/// `POST /settings/service-accounts/{id}/federated-credentials/{fid}/delete`.
pub async fn delete_federated_credential(
    State(app): State<AppState>,
    console: Console,
    Path((id, fid)): Path<(String, String)>,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    app.admin
        .delete_federated_credential(&actor, &id, &fid)
        .await?;
    Ok(Redirect::to(&format!(
        "/settings/service-accounts/{id}/federated-credentials"
    ))
    .into_response())
}
