//! Who did what: actors and the events written to the append-only audit log.

use std::collections::BTreeSet;

use super::permission;

/// The kind of party acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// The local operator at the command line (holds every permission: they hold the database).
    System,
    /// A human administrator signed in to the console.
    ConsoleUser,
    /// A service account calling the REST API with its bearer token.
    ServiceAccount,
    /// Nobody known yet (for example, a failed sign-in).
    Anonymous,
}

impl ActorKind {
    /// The stored name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::ConsoleUser => "console_user",
            Self::ServiceAccount => "service_account",
            Self::Anonymous => "anonymous",
        }
    }
}

/// The party on whose behalf an operation runs, with the permissions it holds.
#[derive(Debug, Clone)]
pub struct Actor {
    /// What kind of party it is.
    pub kind: ActorKind,
    /// Its id (user id, account id, or `cli`).
    pub id: String,
    /// Its name as shown in the audit log.
    pub name: String,
    /// The permissions it holds now.
    pub permissions: BTreeSet<String>,
    /// Where the request came from (IP address, or `cli`).
    pub source: String,
}

impl Actor {
    /// The local command-line operator.
    pub fn system() -> Self {
        Self {
            kind: ActorKind::System,
            id: "cli".into(),
            name: "command line".into(),
            permissions: permission::ALL.iter().map(|p| (*p).to_owned()).collect(),
            source: "cli".into(),
        }
    }

    /// Whether the actor holds `permission`.
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// The first of `permissions` the actor may not give, if any: nobody may give a role
    /// carrying a permission they lack (no privilege escalation). keygate's own permissions
    /// must be held; a custom permission (one your APIs check) counts as held by whoever
    /// holds it or holds `roles:write`, the authority to define roles. The command-line
    /// operator owns the database and may give any role.
    pub fn lacks_any<'a>(
        &self,
        permissions: impl IntoIterator<Item = &'a String>,
    ) -> Option<&'a str> {
        if self.kind == ActorKind::System {
            return None;
        }
        let holds = |p: &str| {
            self.permissions.contains(p)
                || (!permission::ALL.contains(&p)
                    && self.permissions.contains(permission::ROLES_WRITE))
        };
        permissions
            .into_iter()
            .find(|p| !holds(p.as_str()))
            .map(String::as_str)
    }
}

/// One audit-log entry, before it is stored.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// Dotted action name, e.g. `service_account.created`.
    pub action: &'static str,
    /// Kind of the thing acted on, e.g. `service_account`.
    pub target_kind: &'static str,
    /// Its id.
    pub target_id: String,
    /// Its name at the time.
    pub target_name: String,
    /// Extra facts as JSON text (never a secret).
    pub detail: String,
}

/// An audit event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Sequence number.
    pub id: i64,
    /// When (epoch ms).
    pub at: i64,
    /// `system`, `console_user`, `service_account` or `anonymous`.
    pub actor_kind: String,
    /// Actor id.
    pub actor_id: String,
    /// Actor name at the time.
    pub actor_name: String,
    /// Dotted action name.
    pub action: String,
    /// Kind of target.
    pub target_kind: String,
    /// Target id.
    pub target_id: String,
    /// Target name at the time.
    pub target_name: String,
    /// Source address.
    pub source: String,
    /// Extra facts (JSON text).
    pub detail: String,
}

/// Filter and page of the audit log, newest first.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Only events by this actor id or name.
    pub actor: Option<String>,
    /// Only events on this target id or name.
    pub target: Option<String>,
    /// Only this action (or action prefix ending in `.`); with `action_anywhere`, any
    /// action containing this text.
    pub action: Option<String>,
    /// Match `action` anywhere in the action (the console's search), not only whole or
    /// as a prefix ending in `.` (the REST API's contract).
    pub action_anywhere: bool,
    /// Only events at or after (epoch ms).
    pub since: Option<i64>,
    /// Only events before (epoch ms).
    pub until: Option<i64>,
    /// Keyset cursor: events with a smaller id than this.
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: i64,
}

/// The detail of an update event: the new value of each field that changed and, under
/// `before`, the value it replaces, so the audit log can show each change as
/// before → after. Fields that did not change are left out.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    after: serde_json::Map<String, serde_json::Value>,
    before: serde_json::Map<String, serde_json::Value>,
}

impl Changes {
    /// Records field `key` if its value changed from `before` to `after`.
    pub fn field(
        &mut self,
        key: &str,
        before: impl Into<serde_json::Value>,
        after: impl Into<serde_json::Value>,
    ) -> &mut Self {
        let (before, after) = (before.into(), after.into());
        if before != after {
            self.before.insert(key.to_owned(), before);
            self.after.insert(key.to_owned(), after);
        }
        self
    }

    /// Adds a fact that is not a field's change (a consequence, such as the roles an API
    /// change touched), shown as it is.
    pub fn fact(&mut self, key: &str, value: impl Into<serde_json::Value>) -> &mut Self {
        self.after.insert(key.to_owned(), value.into());
        self
    }

    /// The detail as JSON text: the new values, and `before` when something changed.
    pub fn to_detail(&self) -> String {
        let mut out = self.after.clone();
        if !self.before.is_empty() {
            out.insert(
                "before".to_owned(),
                serde_json::Value::Object(self.before.clone()),
            );
        }
        serde_json::Value::Object(out).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::Changes;

    #[test]
    fn only_changed_fields_are_written_with_their_previous_values() {
        let mut c = Changes::default();
        c.field("name", "old", "new")
            .field("description", "same", "same")
            .field("permissions", vec!["a"], vec!["a", "b"]);
        let v: serde_json::Value = serde_json::from_str(&c.to_detail()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "name": "new", "permissions": ["a", "b"],
                "before": {"name": "old", "permissions": ["a"]},
            })
        );
    }

    #[test]
    fn nothing_changed_writes_no_before() {
        let mut c = Changes::default();
        c.field("name", "same", "same").fact("roles_changed", 0);
        assert_eq!(c.to_detail(), r#"{"roles_changed":0}"#);
    }
}
