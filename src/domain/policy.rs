//! Account policies: installation-wide limits on roles, token and credential lifetimes,
//! unused accounts and client secrets. One value, stored in the database, held in memory on
//! every instance; every rule that reads it lives here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ValidationError;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Longest access-token lifetime an account can have (24 h): the default cap.
pub const DEFAULT_MAX_TOKEN_LIFETIME_SECS: i64 = 86_400;

/// Default longest lifetime of a new personal token, in days.
pub const DEFAULT_MAX_PERSONAL_TOKEN_DAYS: i64 = 90;

/// Longest personal-token lifetime when the policy sets none (100 years: no real limit).
pub const UNLIMITED_PERSONAL_TOKEN_DAYS: i64 = 36_500;

/// Largest number of days any day-count policy accepts.
const MAX_DAYS: i64 = 36_500;

/// The policies of the installation. `None` means off (no limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policies {
    /// Most roles an account may hold, directly and through groups together.
    pub max_roles_per_account: Option<i64>,
    /// Longest access-token lifetime, in seconds: longer account lifetimes are capped.
    pub max_token_lifetime_secs: Option<i64>,
    /// Longest lifetime of a new personal token, in days (0: no new personal tokens).
    pub max_personal_token_days: Option<i64>,
    /// Client secrets and keys expire this many days after they were made.
    pub credential_lifetime_days: Option<i64>,
    /// Accounts unused this many days are disabled by a background job.
    pub disable_unused_after_days: Option<i64>,
    /// Whether accounts may authenticate with a client secret.
    pub allow_client_secrets: bool,
}

impl Default for Policies {
    fn default() -> Self {
        Self {
            max_roles_per_account: None,
            max_token_lifetime_secs: Some(DEFAULT_MAX_TOKEN_LIFETIME_SECS),
            max_personal_token_days: Some(DEFAULT_MAX_PERSONAL_TOKEN_DAYS),
            credential_lifetime_days: None,
            disable_unused_after_days: None,
            allow_client_secrets: true,
        }
    }
}

/// The names of the policy fields, in the order pages show them.
pub const FIELDS: [&str; 6] = [
    "max_roles_per_account",
    "max_token_lifetime_secs",
    "max_personal_token_days",
    "credential_lifetime_days",
    "disable_unused_after_days",
    "allow_client_secrets",
];

/// A change to some policies: each present field replaces the policy (`Some(None)`: off).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyPatch {
    /// New `max_roles_per_account`.
    pub max_roles_per_account: Option<Option<i64>>,
    /// New `max_token_lifetime_secs`.
    pub max_token_lifetime_secs: Option<Option<i64>>,
    /// New `max_personal_token_days`.
    pub max_personal_token_days: Option<Option<i64>>,
    /// New `credential_lifetime_days`.
    pub credential_lifetime_days: Option<Option<i64>>,
    /// New `disable_unused_after_days`.
    pub disable_unused_after_days: Option<Option<i64>>,
    /// New `allow_client_secrets`.
    pub allow_client_secrets: Option<bool>,
}

/// The accepted range of a numeric policy, and its sentence for errors.
fn range_of(field: &str) -> (i64, i64, &'static str) {
    match field {
        "max_roles_per_account" => (1, 1000, "a number of roles from 1 to 1000"),
        "max_token_lifetime_secs" => (60, 86_400, "a number of seconds from 60 to 86400"),
        "max_personal_token_days" => (
            0,
            MAX_DAYS,
            "a number of days from 0 (no new personal tokens) to 36500",
        ),
        _ => (1, MAX_DAYS, "a number of days from 1 to 36500"),
    }
}

/// Checks one numeric policy value.
pub fn check_number(
    field: &'static str,
    value: Option<i64>,
) -> Result<Option<i64>, ValidationError> {
    let (lo, hi, what) = range_of(field);
    match value {
        Some(v) if !(lo..=hi).contains(&v) => Err(ValidationError::new(
            field,
            format!("{field} must be {what}, or null for no limit."),
        )),
        v => Ok(v),
    }
}

impl PolicyPatch {
    /// Reads a JSON object of policy fields (each optional, `null` meaning off) plus any of
    /// `extra` (returned untouched); an unknown field or a wrong type is an error naming it.
    pub fn from_json(
        body: &Value,
        extra: &[&str],
    ) -> Result<(Self, Map<String, Value>), ValidationError> {
        let Some(obj) = body.as_object() else {
            return Err(ValidationError::new(
                "body",
                "The body must be a JSON object of policy fields.",
            ));
        };
        let mut patch = Self::default();
        let mut rest = Map::new();
        for (name, value) in obj {
            let number = |field: &'static str| -> Result<Option<Option<i64>>, ValidationError> {
                if value.is_null() {
                    return Ok(Some(None));
                }
                let n = value.as_i64().ok_or_else(|| {
                    ValidationError::new(field, format!("{field} must be a whole number or null."))
                })?;
                Ok(Some(check_number(field, Some(n))?))
            };
            match name.as_str() {
                "max_roles_per_account" => {
                    patch.max_roles_per_account = number("max_roles_per_account")?
                }
                "max_token_lifetime_secs" => {
                    patch.max_token_lifetime_secs = number("max_token_lifetime_secs")?;
                }
                "max_personal_token_days" => {
                    patch.max_personal_token_days = number("max_personal_token_days")?;
                }
                "credential_lifetime_days" => {
                    patch.credential_lifetime_days = number("credential_lifetime_days")?;
                }
                "disable_unused_after_days" => {
                    patch.disable_unused_after_days = number("disable_unused_after_days")?;
                }
                "allow_client_secrets" => {
                    patch.allow_client_secrets = Some(value.as_bool().ok_or_else(|| {
                        ValidationError::new(
                            "allow_client_secrets",
                            "allow_client_secrets must be true or false.",
                        )
                    })?);
                }
                other if extra.contains(&other) => {
                    rest.insert(other.to_owned(), value.clone());
                }
                _ => {
                    return Err(ValidationError::new(
                        "body",
                        format!(
                            "Unknown field {name:?}: policies are {}.",
                            FIELDS.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok((patch, rest))
    }

    /// Whether it changes nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Policies {
    /// These policies with `patch` applied (values in `patch` are already checked).
    pub fn with(&self, patch: &PolicyPatch) -> Self {
        Self {
            max_roles_per_account: patch
                .max_roles_per_account
                .unwrap_or(self.max_roles_per_account),
            max_token_lifetime_secs: patch
                .max_token_lifetime_secs
                .unwrap_or(self.max_token_lifetime_secs),
            max_personal_token_days: patch
                .max_personal_token_days
                .unwrap_or(self.max_personal_token_days),
            credential_lifetime_days: patch
                .credential_lifetime_days
                .unwrap_or(self.credential_lifetime_days),
            disable_unused_after_days: patch
                .disable_unused_after_days
                .unwrap_or(self.disable_unused_after_days),
            allow_client_secrets: patch
                .allow_client_secrets
                .unwrap_or(self.allow_client_secrets),
        }
    }

    /// Reads stored policies; anything unreadable falls back to the defaults field by field.
    pub fn from_stored(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The JSON object the REST API shows (and the database stores).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The access-token lifetime an account with `account_secs` gets: capped at mint time.
    pub fn token_lifetime(&self, account_secs: i64) -> i64 {
        self.max_token_lifetime_secs
            .map_or(account_secs, |cap| account_secs.min(cap))
    }

    /// When a credential made at `created_at` (epoch ms) expires under the credential
    /// lifetime policy, if it does.
    pub fn credential_expires_at(&self, created_at: i64) -> Option<i64> {
        self.credential_lifetime_days
            .map(|d| created_at.saturating_add(d.saturating_mul(DAY_MS)))
    }

    /// Whether a credential made at `created_at` is still within its lifetime at `now`.
    pub fn credential_alive(&self, created_at: i64, now: i64) -> bool {
        self.credential_expires_at(created_at)
            .is_none_or(|t| now < t)
    }

    /// RFC 7591 §3.2.1 `client_secret_expires_at` of an account authenticating with
    /// `auth_method` whose secret was made at `created_at`: epoch seconds, 0 when it never
    /// expires (or there is no secret).
    pub fn client_secret_expires_at(&self, auth_method: &str, created_at: i64) -> i64 {
        self.secret_expires_at(auth_method, created_at)
            .map_or(0, |t| t / 1000)
    }

    /// When the client secret of an account authenticating with `auth_method`, made at
    /// `created_at`, expires (`None`: never, or the account has no secret).
    pub fn secret_expires_at(&self, auth_method: &str, created_at: i64) -> Option<i64> {
        if auth_method == super::client_key::PRIVATE_KEY_JWT {
            None
        } else {
            self.credential_expires_at(created_at)
        }
    }

    /// The longest lifetime allowed for a new personal token, in days (0: none allowed).
    pub fn personal_token_days(&self) -> i64 {
        self.max_personal_token_days
            .unwrap_or(UNLIMITED_PERSONAL_TOKEN_DAYS)
    }

    /// Before this time (epoch ms) an account counts as unused at `now`, if the unused-account
    /// policy is on.
    pub fn unused_before(&self, now: i64) -> Option<i64> {
        self.disable_unused_after_days
            .map(|d| now.saturating_sub(d.saturating_mul(DAY_MS)))
    }

    /// Why the unused-account job disabled an account.
    pub fn unused_reason(days: i64) -> String {
        format!("unused for {days} days")
    }

    /// Whether `count` roles are more than an account may hold.
    pub fn too_many_roles(&self, count: i64) -> bool {
        self.max_roles_per_account.is_some_and(|m| count > m)
    }
}

/// "expires in 5 days", "expires in 3 hours", "expired": how pages say when a credential
/// expiring at `expires_at` (epoch ms) ends, seen at `now`.
pub fn expiry_text(expires_at: i64, now: i64) -> String {
    let left = expires_at - now;
    if left <= 0 {
        return "expired".to_owned();
    }
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("expires in 1 {unit}")
        } else {
            format!("expires in {n} {unit}s")
        }
    };
    if left >= DAY_MS {
        plural(left / DAY_MS, "day")
    } else if left >= 3_600_000 {
        plural(left / 3_600_000, "hour")
    } else {
        plural((left / 60_000).max(1), "minute")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_cap_tokens_at_a_day_and_personal_tokens_at_90_days() {
        let p = Policies::default();
        assert_eq!(p.token_lifetime(200_000), 86_400);
        assert_eq!(p.token_lifetime(3600), 3600);
        assert_eq!(p.personal_token_days(), 90);
        assert!(p.allow_client_secrets);
        assert_eq!(
            p.client_secret_expires_at("client_secret_basic", 1_000_000),
            0
        );
    }

    #[test]
    fn a_patch_changes_only_the_fields_it_names_and_null_turns_one_off() {
        let (patch, _) = PolicyPatch::from_json(
            &serde_json::json!({"max_roles_per_account": 1, "max_token_lifetime_secs": null}),
            &[],
        )
        .unwrap();
        let p = Policies::default().with(&patch);
        assert_eq!(p.max_roles_per_account, Some(1));
        assert_eq!(p.max_token_lifetime_secs, None);
        assert_eq!(p.max_personal_token_days, Some(90));
    }

    #[test]
    fn bad_values_name_their_field() {
        for (body, field) in [
            (
                serde_json::json!({"max_roles_per_account": 0}),
                "max_roles_per_account",
            ),
            (
                serde_json::json!({"max_token_lifetime_secs": 86_401}),
                "max_token_lifetime_secs",
            ),
            (
                serde_json::json!({"credential_lifetime_days": "5"}),
                "credential_lifetime_days",
            ),
            (
                serde_json::json!({"allow_client_secrets": null}),
                "allow_client_secrets",
            ),
            (serde_json::json!({"nope": 1}), "body"),
        ] {
            assert_eq!(PolicyPatch::from_json(&body, &[]).unwrap_err().field, field);
        }
    }

    #[test]
    fn a_credential_expires_n_days_after_it_was_made() {
        let p = Policies {
            credential_lifetime_days: Some(5),
            ..Policies::default()
        };
        assert!(p.credential_alive(0, 5 * DAY_MS - 1));
        assert!(!p.credential_alive(0, 5 * DAY_MS));
        assert_eq!(
            p.client_secret_expires_at("client_secret_basic", 0),
            5 * 86_400
        );
        assert_eq!(p.client_secret_expires_at("private_key_jwt", 0), 0);
    }

    #[test]
    fn accounts_count_as_unused_before_n_days_ago() {
        let p = Policies {
            disable_unused_after_days: Some(30),
            ..Policies::default()
        };
        assert_eq!(p.unused_before(100 * DAY_MS), Some(70 * DAY_MS));
        assert_eq!(Policies::default().unused_before(100 * DAY_MS), None);
    }

    #[test]
    fn expiry_reads_in_days_hours_or_expired() {
        assert_eq!(expiry_text(5 * DAY_MS + 10, 0), "expires in 5 days");
        assert_eq!(expiry_text(DAY_MS, 0), "expires in 1 day");
        assert_eq!(expiry_text(7_200_000, 0), "expires in 2 hours");
        assert_eq!(expiry_text(0, 0), "expired");
    }
}
