//! Pure types and rules: accounts, groups, roles and the access rule, secrets, permissions,
//! audit events, the change feed's changes. No axum, no sqlx.

pub mod access;
pub mod account;
pub mod audit;
pub mod change;
pub mod client_key;
pub mod federation;
pub mod group;
pub mod permission;
pub mod personal_token;
pub mod policy;
pub mod secret;

use std::time::{SystemTime, UNIX_EPOCH};

/// A rule on input was broken; the message is safe to show to the user and names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// The input field at fault, as named in forms and JSON bodies (`name`, `description`…).
    pub field: &'static str,
    /// A sentence for the user.
    pub message: String,
}

impl ValidationError {
    /// A validation error on `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// A console session ends after this long without a request (the sign-in rule, and what
/// the background purge of idle sessions uses).
pub const CONSOLE_SESSION_IDLE_MS: i64 = 30 * 60 * 1000;

/// A CSV cell that a spreadsheet will show as text, never run as a formula: a value that
/// begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (OWASP's
/// advice against CSV injection). Every CSV keygate writes passes its cells through here.
pub fn csv_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// Epoch milliseconds of an RFC 3339 time (`2026-12-01T10:00:00Z`, fractions and numeric
/// offsets such as `+02:00` allowed); `None` if it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let (base, offset_secs) = if s.ends_with(['Z', 'z']) {
        (s[..s.len() - 1].to_owned(), 0)
    } else {
        let cut = s.len().checked_sub(6)?;
        let (base, off) = s.split_at(cut);
        let sign = match off.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = off[1..].split_once(':')?;
        let secs = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
        (base.to_owned(), sign * secs)
    };
    let t = humantime::parse_rfc3339(&format!("{base}Z")).ok()?;
    let ms = i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    Some(ms - offset_secs * 1000)
}

/// Milliseconds since the Unix epoch: the one time unit stored in the database.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Formats epoch milliseconds as an RFC 3339 UTC instant to the second, e.g. for pages.
pub fn format_ms(ms: i64) -> String {
    let secs = u64::try_from(ms / 1000).unwrap_or(0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3339_times_with_z_or_an_offset_parse_to_the_same_instant() {
        let z = parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
        assert_eq!(parse_rfc3339("2026-12-01T12:00:00+02:00"), Some(z));
        assert_eq!(parse_rfc3339("2026-12-01T09:30:00-00:30"), Some(z));
        assert_eq!(parse_rfc3339("2026-12-01T10:00:00.500Z"), Some(z + 500));
        assert!(parse_rfc3339("tomorrow").is_none());
    }

    #[test]
    fn a_csv_cell_that_could_be_a_formula_is_quoted_as_text() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv_cell(bad), format!("'{bad}"));
        }
        assert_eq!(csv_cell("billing"), "billing");
        assert_eq!(csv_cell(""), "");
    }
}
