//! Security → Audit Log: the filtered log with readable actions, what changed (before →
//! after), links to the actors and targets, relative times, and its CSV export.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::when::When;
use super::{Chrome, Console, ConsoleError};
use crate::app::AppState;
use crate::domain::audit::{AuditFilter, AuditRow};
use crate::domain::format_ms;

/// Events per page.
const PAGE: i64 = 50;

/// Most events one CSV export holds (the newest of the filter).
pub const EXPORT_LIMIT: i64 = 10_000;

/// The actions the picker offers (any other is still matched as typed).
pub const ACTIONS: &[&str] = &[
    "client_auth.failed",
    "console_user.created",
    "console_user.deleted",
    "console_user.disabled",
    "console_user.enabled",
    "console_user.password_changed",
    "console_user.password_reset",
    "console_user.role_granted",
    "console_user.roles_changed",
    "console_user.sign_in_failed",
    "console_user.sign_in_throttled",
    "console_user.signed_in",
    "console_user.signed_out",
    "group.created",
    "group.deleted",
    "group.updated",
    "policy.updated",
    "role.created",
    "role.deleted",
    "role.updated",
    "service_account.created",
    "service_account.credentials_regenerated",
    "service_account.deleted",
    "service_account.disabled",
    "service_account.enabled",
    "service_account.key_added",
    "service_account.key_deleted",
    "service_account.tokens_revoked",
    "service_account.updated",
    "token.revoked",
];

/// An action as people read it: `service_account.disabled` is "Service account disabled".
pub fn action_label(action: &str) -> String {
    let words = action.replace(['.', '_'], " ");
    let words = words
        .replace("client auth", "client authentication")
        .replace("sign in", "sign-in");
    let mut chars = words.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Where a party of an event is shown in the console, if it has a page.
fn page_of(kind: &str, id: &str) -> Option<String> {
    if id.is_empty() {
        return None;
    }
    let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    match kind {
        "service_account" => Some(format!("/settings/service-accounts/{id}")),
        "console_user" => Some(format!("/settings/users/{id}/roles")),
        "role" => Some(format!("/settings/roles/{id}/edit")),
        "group" => Some(format!("/settings/groups/{id}/edit")),
        _ => None,
    }
}

/// A JSON value in a line: strings bare, lists joined with commas.
fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) if items.is_empty() => "none".to_owned(),
        serde_json::Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        serde_json::Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

/// One fact of an event's detail: its name, its value before (for a change) and now.
pub struct Fact {
    pub(crate) key: String,
    pub(crate) before: Option<String>,
    pub(crate) after: String,
}

/// The detail of an event as facts; a `before` object turns keys into changes.
pub fn facts(detail: &str) -> Vec<Fact> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(detail)
    else {
        return if detail.trim().is_empty() || detail.trim() == "{}" {
            Vec::new()
        } else {
            vec![Fact {
                key: "detail".into(),
                before: None,
                after: detail.to_owned(),
            }]
        };
    };
    let before = map.get("before").and_then(|b| b.as_object()).cloned();
    map.iter()
        .filter(|(k, _)| k.as_str() != "before")
        .map(|(k, v)| Fact {
            key: k.replace('_', " "),
            before: before.as_ref().and_then(|b| b.get(k)).map(plain),
            after: plain(v),
        })
        .collect()
}

/// An audit event as shown in the log.
pub struct AuditView {
    at: When,
    actor: String,
    actor_kind: String,
    actor_url: Option<String>,
    action: String,
    action_label: String,
    target: String,
    target_kind: String,
    target_url: Option<String>,
    source: String,
    facts: Vec<Fact>,
}

impl AuditView {
    fn of(e: AuditRow, now: i64) -> Self {
        Self {
            at: When::at(e.at, now),
            actor_url: page_of(&e.actor_kind, &e.actor_id),
            actor: e.actor_name,
            actor_kind: e.actor_kind.replace('_', " "),
            action_label: action_label(&e.action),
            action: e.action,
            target_url: page_of(&e.target_kind, &e.target_id),
            target: e.target_name,
            target_kind: e.target_kind.replace('_', " "),
            source: e.source,
            facts: facts(&e.detail),
        }
    }
}

/// An action offered by the picker.
pub struct ActionOption {
    value: &'static str,
    label: String,
}

/// The audit log page.
#[derive(Template, WebTemplate)]
#[template(path = "console/audit.html")]
pub struct AuditPage {
    chrome: Option<Chrome>,
    section: &'static str,
    events: Vec<AuditView>,
    actions: Vec<ActionOption>,
    f_actor: String,
    f_target: String,
    f_action: String,
    f_since: String,
    f_until: String,
    paged: bool,
    first_url: String,
    next_url: Option<String>,
    export_url: String,
    error: Option<String>,
}

/// Filters of the audit log page (and of its export).
#[derive(Debug, Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    before: Option<i64>,
}

/// Epoch milliseconds of a `YYYY-MM-DD` date at 00:00 UTC.
fn parse_date(s: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339(&format!("{s}T00:00:00Z")).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

impl AuditQuery {
    /// The store filter, or the message of a filter that cannot be used (shown inline).
    fn filter(&self, limit: i64) -> Result<AuditFilter, String> {
        let date = |s: &str, label: &str| -> Result<Option<i64>, String> {
            if s.trim().is_empty() {
                return Ok(None);
            }
            parse_date(s.trim())
                .map(Some)
                .ok_or_else(|| format!("The {label} date must look like 2026-11-22."))
        };
        let since = date(&self.since, "From")?;
        let until = date(&self.until, "To")?;
        if let (Some(s), Some(u)) = (since, until)
            && s > u
        {
            return Err("The From date is later than the To date: no event can match.".into());
        }
        crate::web::limits::search_texts([
            ("actor", self.actor.as_str()),
            ("target", self.target.as_str()),
            ("action", self.action.as_str()),
        ])
        .map_err(|e| e.sentence("filter"))?;
        Ok(AuditFilter {
            actor: Some(self.actor.trim().to_owned()).filter(|s| !s.is_empty()),
            target: Some(self.target.trim().to_owned()).filter(|s| !s.is_empty()),
            action: Some(self.action.trim().to_owned()).filter(|s| !s.is_empty()),
            action_anywhere: true,
            since,
            until: until.map(|t| t + 86_400_000),
            before_id: self.before,
            limit,
        })
    }

    /// The address of this filter under `path`, from the event before `before`.
    fn url(&self, path: &str, before: Option<i64>) -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", &self.actor),
            ("target", &self.target),
            ("action", &self.action),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.is_empty() {
                ser.append_pair(k, v);
            }
        }
        if let Some(b) = before {
            ser.append_pair("before", &b.to_string());
        }
        let q = ser.finish();
        if q.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{q}")
        }
    }
}

/// `GET /settings/audit`: filter by actor, target, action (any part of it) and dates;
/// pages of 50.
pub async fn audit_log(
    State(app): State<AppState>,
    console: Console,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ConsoleError> {
    let (mut events, error) = match q.filter(PAGE + 1) {
        Ok(filter) => (
            app.admin
                .audit_events(&console.session.actor(&console.source), &filter)
                .await?,
            None,
        ),
        Err(message) => {
            console.require(crate::domain::permission::AUDIT_READ)?;
            (Vec::new(), Some(message))
        }
    };
    let more = events.len() > usize::try_from(PAGE).unwrap_or(50);
    events.truncate(usize::try_from(PAGE).unwrap_or(50));
    let next_url = more
        .then(|| events.last().map(|e| q.url("/settings/audit", Some(e.id))))
        .flatten();
    let now = crate::domain::now_ms();
    Ok(AuditPage {
        chrome: console.chrome(),
        section: "audit",
        events: events.into_iter().map(|e| AuditView::of(e, now)).collect(),
        actions: ACTIONS
            .iter()
            .map(|a| ActionOption {
                value: a,
                label: action_label(a),
            })
            .collect(),
        paged: q.before.is_some(),
        first_url: q.url("/settings/audit", None),
        export_url: q.url("/settings/audit/export", None),
        next_url,
        f_actor: q.actor,
        f_target: q.target,
        f_action: q.action,
        f_since: q.since,
        f_until: q.until,
        error,
    }
    .into_response())
}

/// `GET /settings/audit/export`: the filtered log as CSV (newest first, at most
/// [`EXPORT_LIMIT`] events), every cell guarded against formula injection.
pub async fn export_audit_log(
    State(app): State<AppState>,
    console: Console,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ConsoleError> {
    let filter = q.filter(EXPORT_LIMIT).map_err(ConsoleError::BadRequest)?;
    let events = app
        .admin
        .audit_events(&console.session.actor(&console.source), &filter)
        .await?;
    let internal = |e: csv::Error| ConsoleError::Internal(e.to_string());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "at",
        "actor_kind",
        "actor_id",
        "actor_name",
        "action",
        "target_kind",
        "target_id",
        "target_name",
        "source",
        "detail",
    ])
    .map_err(internal)?;
    for e in &events {
        let id = e.id.to_string();
        let at = format_ms(e.at);
        w.write_record(
            [
                id.as_str(),
                at.as_str(),
                &e.actor_kind,
                &e.actor_id,
                &e.actor_name,
                &e.action,
                &e.target_kind,
                &e.target_id,
                &e.target_name,
                &e.source,
                &e.detail,
            ]
            .map(|cell| crate::domain::csv_cell(cell).into_owned()),
        )
        .map_err(internal)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"keygate-audit.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_as_sentences() {
        assert_eq!(
            action_label("service_account.disabled"),
            "Service account disabled"
        );
        assert_eq!(
            action_label("client_auth.failed"),
            "Client authentication failed"
        );
        assert_eq!(action_label("token.revoked"), "Token revoked");
    }

    #[test]
    fn a_change_reads_as_before_and_after() {
        let f = facts(r#"{"name":"new","roles":["A","B"],"before":{"name":"old"}}"#);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].key, "name");
        assert_eq!(f[0].before.as_deref(), Some("old"));
        assert_eq!(f[0].after, "new");
        assert_eq!(f[1].after, "A, B");
        assert!(f[1].before.is_none());
        assert!(facts("{}").is_empty());
    }
}
