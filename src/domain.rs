//! Pure types and rules: accounts, secrets, permissions, audit events. No axum, no sqlx.

pub mod account;
pub mod audit;
pub mod permission;
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
