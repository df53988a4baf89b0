//! Permissions are `area:verb` strings held by roles. keygate checks its own; custom roles
//! may hold any others, which is what an organisation's own APIs check in the token scope.

use super::ValidationError;

/// See service accounts, roles and groups.
pub const SERVICE_ACCOUNTS_READ: &str = "service-accounts:read";
/// Change service accounts.
pub const SERVICE_ACCOUNTS_WRITE: &str = "service-accounts:write";
/// Create, change and delete roles and groups.
pub const ROLES_WRITE: &str = "roles:write";
/// Read the audit log.
pub const AUDIT_READ: &str = "audit:read";
/// Introspect access tokens (RFC 7662).
pub const TOKENS_INTROSPECT: &str = "tokens:introspect";
/// See console users.
pub const USERS_READ: &str = "users:read";
/// Add, change and disable console users.
pub const USERS_WRITE: &str = "users:write";

/// Change the installation's account policies.
pub const POLICIES_WRITE: &str = "policies:write";

/// Every permission keygate itself checks.
pub const ALL: [&str; 8] = [
    SERVICE_ACCOUNTS_READ,
    SERVICE_ACCOUNTS_WRITE,
    ROLES_WRITE,
    AUDIT_READ,
    TOKENS_INTROSPECT,
    USERS_READ,
    USERS_WRITE,
    POLICIES_WRITE,
];

/// Checks a permission string: it must be a valid OAuth scope token (RFC 6749 §3.3:
/// printable ASCII without space, `"` or `\`), 1 to 200 characters.
pub fn parse(s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    let valid_char = |c: char| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c);
    if s.is_empty() || s.len() > 200 || !s.chars().all(valid_char) {
        return Err(ValidationError::new(
            "permissions",
            format!(
                "\"{s}\" is not a valid permission: use printable characters without spaces, \
                 quotes or backslashes, like area:verb."
            ),
        ));
    }
    Ok(s.to_owned())
}

/// Splits an OAuth `scope` parameter into its tokens, rejecting characters RFC 6749 §3.3
/// does not allow.
pub fn parse_scope(scope: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        out.push(parse(token).ok()?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_verb_is_a_permission() {
        assert_eq!(parse("invoices:read").unwrap(), "invoices:read");
    }

    #[test]
    fn spaces_quotes_and_backslashes_are_not() {
        for bad in ["a b", "a\"b", "a\\b", "", "é"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scope_splits_on_spaces() {
        assert_eq!(parse_scope("a:b  c:d").unwrap(), vec!["a:b", "c:d"]);
        assert!(parse_scope("a:b \"").is_none());
    }
}
