//! Settings → Policies: the installation's account policies. Saving a change that affects
//! existing accounts first lists them (the dry run), then applies on confirmation.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::{Chrome, Console, ConsoleError, Flash, FormFields, form_error, redirect_with_notice};
use crate::admin::AdminError;
use crate::admin::policies::Affected;
use crate::app::AppState;
use crate::domain::permission::POLICIES_WRITE;
use crate::domain::policy::{Policies, PolicyPatch};

/// The numeric policies: field name, label, explanation.
const NUMBERS: [(&str, &str, &str); 5] = [
    (
        "max_roles_per_account",
        "Most roles per service account",
        "Roles held directly and through groups count together. Giving more is refused \
         everywhere (roles, bindings, group membership, a group's roles). Empty: unlimited.",
    ),
    (
        "max_token_lifetime_secs",
        "Longest access-token lifetime (seconds)",
        "60 to 86400. An account with a longer lifetime gets tokens this long. Empty: no cap \
         beyond the account's own lifetime.",
    ),
    (
        "max_personal_token_days",
        "Longest personal-token lifetime (days)",
        "New personal tokens may live at most this long; 0 turns new ones off. Existing \
         tokens keep their expiry. Empty: no limit.",
    ),
    (
        "credential_lifetime_days",
        "Credential lifetime (days)",
        "Client secrets and keys stop working this many days after they were made, existing \
         ones included: regenerate or add a key in time. Empty: they never expire.",
    ),
    (
        "disable_unused_after_days",
        "Disable accounts unused for (days)",
        "A background job disables accounts that got no token for this long (or never did, \
         and were made this long ago), with the reason \u{201c}unused for N days\u{201d}. \
         Empty: off.",
    ),
];

/// One numeric policy as the form shows it.
pub struct FieldView {
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    value: String,
    error: Option<String>,
}

/// The policies page: a form for users with `policies:write`, a read-only list otherwise.
#[derive(Template, WebTemplate)]
#[template(path = "console/policies.html")]
pub struct PoliciesPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    can_write: bool,
    fields: Vec<FieldView>,
    allow_client_secrets: bool,
    allow_error: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

/// The confirmation listing the accounts a change affects.
#[derive(Template, WebTemplate)]
#[template(path = "console/policies_confirm.html")]
pub struct ConfirmPoliciesPage {
    chrome: Option<Chrome>,
    section: &'static str,
    csrf: String,
    fields: Vec<FieldView>,
    allow_client_secrets: bool,
    affected: Vec<Affected>,
}

/// What the form holds, as typed.
struct Typed {
    values: Vec<(&'static str, String)>,
    allow_client_secrets: bool,
}

impl Typed {
    fn of_policies(p: &Policies) -> Self {
        let json = p.to_json();
        Self {
            values: NUMBERS
                .iter()
                .map(|(name, _, _)| {
                    (
                        *name,
                        json[*name]
                            .as_i64()
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
            allow_client_secrets: p.allow_client_secrets,
        }
    }

    fn of_form(form: &FormFields) -> Self {
        Self {
            values: NUMBERS
                .iter()
                .map(|(name, _, _)| (*name, form.get(name).unwrap_or_default().trim().to_owned()))
                .collect(),
            allow_client_secrets: form.get("allow_client_secrets").is_some(),
        }
    }

    /// The change, every field given (empty: off); a number that is not one stays a
    /// string so the check names its field.
    fn patch(&self) -> Result<PolicyPatch, AdminError> {
        let mut body = Map::new();
        for (name, raw) in &self.values {
            let v = if raw.is_empty() {
                Value::Null
            } else {
                raw.parse::<i64>()
                    .map_or_else(|_| Value::from(raw.as_str()), Value::from)
            };
            body.insert((*name).to_owned(), v);
        }
        body.insert(
            "allow_client_secrets".to_owned(),
            self.allow_client_secrets.into(),
        );
        Ok(PolicyPatch::from_json(&Value::Object(body), &[])?.0)
    }

    fn fields(&self, error: Option<(&str, &str)>) -> Vec<FieldView> {
        NUMBERS
            .iter()
            .zip(&self.values)
            .map(|((name, label, hint), (_, value))| FieldView {
                name,
                label,
                hint,
                value: value.clone(),
                error: error.filter(|(f, _)| f == name).map(|(_, m)| m.to_owned()),
            })
            .collect()
    }
}

fn page(console: &Console, typed: &Typed, notice: Option<String>) -> PoliciesPage {
    PoliciesPage {
        chrome: console.chrome(),
        section: "policies",
        csrf: console.session.csrf_token.clone(),
        can_write: console.session.can(POLICIES_WRITE),
        fields: typed.fields(None),
        allow_client_secrets: typed.allow_client_secrets,
        allow_error: None,
        error: None,
        notice,
    }
}

/// `GET /settings/policies`.
pub async fn show_policies(
    State(app): State<AppState>,
    console: Console,
    Flash(notice): Flash,
) -> Result<Response, ConsoleError> {
    let policies = app
        .admin
        .get_policies(&console.session.actor(&console.source))
        .await?;
    Ok(page(&console, &Typed::of_policies(&policies), notice).into_response())
}

/// `POST /settings/policies`: with a change that affects accounts and no `confirm`, the
/// list of them; else the change, saved.
pub async fn save_policies(
    State(app): State<AppState>,
    console: Console,
    form: FormFields,
) -> Result<Response, ConsoleError> {
    console.check_csrf(&form)?;
    let actor = console.session.actor(&console.source);
    let typed = Typed::of_form(&form);
    let invalid = |e: AdminError| -> Result<Response, ConsoleError> {
        let field = match &e {
            AdminError::Invalid(v) => v.field,
            _ => "",
        };
        let message = form_error(e)?;
        let mut p = page(&console, &typed, None);
        p.fields = typed.fields(Some((field, &message)));
        if field == "allow_client_secrets" {
            p.allow_error = Some(message.clone());
        }
        p.error = Some(message);
        Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
    };
    let patch = match typed.patch() {
        Ok(p) => p,
        Err(e) => return invalid(e),
    };
    if form.get("confirm") != Some("1") {
        let affected = match app.admin.preview_policies(&actor, &patch).await {
            Ok(a) => a,
            Err(e) => return invalid(e),
        };
        if !affected.is_empty() {
            return Ok(ConfirmPoliciesPage {
                chrome: console.chrome(),
                section: "policies",
                csrf: console.session.csrf_token.clone(),
                fields: typed.fields(None),
                allow_client_secrets: typed.allow_client_secrets,
                affected,
            }
            .into_response());
        }
    }
    match app.admin.update_policies(&actor, &patch).await {
        Ok(_) => Ok(redirect_with_notice(
            "/settings/policies",
            "Policies saved.",
        )),
        Err(e) => invalid(e),
    }
}
