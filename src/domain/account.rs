//! Service accounts: their fields and the rules they obey, the account as the store keeps it,
//! what the token endpoint needs of it, and the account list's filter and order.

use super::ValidationError;
use super::access::{ApiAccess, KEYGATE_API_ID, NameRef};

/// A service account's display name: trimmed, 1 to 100 characters, no control characters.
/// Unique case-insensitively (enforced by the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountName(String);

impl AccountName {
    /// Longest name accepted, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Trims and checks a name typed by a user.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ValidationError::new("name", "Name is required."));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "name",
                format!("Name must be at most {} characters.", Self::MAX_CHARS),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                "Name must not contain control characters.",
            ));
        }
        // A name that looks like a credential or an id could stand in for another account
        // wherever an account is named by id, client ID or name (the command line).
        let lower = s.to_ascii_lowercase();
        if ["kgc_", "kgs_", "kgp_"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            return Err(ValidationError::new(
                "name",
                "Name must not begin with kgc_, kgs_ or kgp_: those begin client IDs and \
                 secrets.",
            ));
        }
        if is_uuid_shaped(s) {
            return Err(ValidationError::new(
                "name",
                "Name must not have the shape of an id (a UUID).",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

/// Whether `s` has the shape of a UUID (8-4-4-4-12 hexadecimal digits), as account ids do.
pub fn is_uuid_shaped(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The form in which names are compared (uniqueness, lookup by name, search): trimmed and
/// lowercased by Unicode's rules, the same on both databases (SQLite's `lower` only knows
/// ASCII, so "Émile" and "émile" would otherwise differ there).
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl AsRef<str> for AccountName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// An optional description: trimmed, at most 1000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    /// Longest description accepted, in characters.
    pub const MAX_CHARS: usize = 1000;

    /// Trims and checks a description; empty is allowed.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "description",
                format!(
                    "Description must be at most {} characters.",
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl AsRef<str> for Description {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lifetime of the access tokens an account gets, in seconds: 60 s to 24 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetime(i64);

impl TokenLifetime {
    /// One hour, the default.
    pub const DEFAULT: Self = Self(3600);
    /// Shortest lifetime accepted.
    pub const MIN_SECS: i64 = 60;
    /// Longest lifetime accepted (24 h).
    pub const MAX_SECS: i64 = 86_400;

    /// Checks a lifetime in seconds.
    pub fn parse(secs: i64) -> Result<Self, ValidationError> {
        if (Self::MIN_SECS..=Self::MAX_SECS).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(ValidationError::new(
                "token_lifetime_secs",
                format!(
                    "Token lifetime must be between {} and {} seconds.",
                    Self::MIN_SECS,
                    Self::MAX_SECS
                ),
            ))
        }
    }

    /// The lifetime in seconds.
    pub fn secs(self) -> i64 {
        self.0
    }
}

impl Default for TokenLifetime {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A service account as stored, without its secret hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// Stable id (UUID), used in URLs.
    pub id: String,
    /// Display name, unique case-insensitively.
    pub name: String,
    /// Optional description ("" when none).
    pub description: String,
    /// Whether it may get tokens.
    pub enabled: bool,
    /// Current client ID.
    pub client_id: String,
    /// Previous client ID, still accepted until `old_expires_at` after a regeneration with grace.
    pub old_client_id: Option<String>,
    /// When the previous credentials stop working (epoch ms).
    pub old_expires_at: Option<i64>,
    /// Access-token lifetime in seconds.
    pub token_lifetime_secs: i64,
    /// Generation of the account's tokens: disabling and regenerating move it on, and a
    /// token minted under an older generation is dead.
    pub token_generation: i64,
    /// Created (epoch ms).
    pub created_at: i64,
    /// Last changed (epoch ms).
    pub updated_at: i64,
    /// Last token issued (epoch ms), written in batches.
    pub last_used_at: Option<i64>,
    /// How it authenticates: `client_secret_basic` or `private_key_jwt`.
    pub auth_method: String,
    /// The API it is bound to (its product), if any.
    pub api_id: Option<String>,
    /// Why keygate itself disabled it (a reported leak), until an administrator acts.
    pub disabled_reason: Option<String>,
    /// When its current client secret was made (epoch ms).
    pub secret_created_at: i64,
}

/// An account with its directly assigned roles.
#[derive(Debug, Clone)]
pub struct AccountSummary {
    /// The account.
    pub account: AccountRow,
    /// Roles assigned directly, by name.
    pub roles: Vec<NameRef>,
    /// Roles held through groups, each with the group's name (filled by `store::accounts::list`).
    pub via_groups: Vec<(NameRef, String)>,
}

/// What the token endpoint needs to authenticate a client and mint its token.
#[derive(Clone)]
pub struct AuthRecord {
    /// How it authenticates: `client_secret_basic` or `private_key_jwt`.
    pub auth_method: String,
    /// Its public keys (`private_key_jwt`).
    pub keys: Vec<super::client_key::ClientKeyRow>,
    /// Its federated credentials (tokens of trusted issuers that stand in for it).
    pub federated: Vec<super::federation::FederatedCredential>,
    /// Account id (`sub`).
    pub id: String,
    /// Account name.
    pub name: String,
    /// Whether it may get tokens.
    pub enabled: bool,
    /// Current client ID.
    pub client_id: String,
    /// Keyed hash of the current secret.
    pub secret_hash: String,
    /// When the current secret was made (epoch ms), for the credential-lifetime policy.
    pub secret_created_at: i64,
    /// Previous client ID during a grace period.
    pub old_client_id: Option<String>,
    /// Keyed hash of the previous secret.
    pub old_secret_hash: Option<String>,
    /// End of the grace period (epoch ms).
    pub old_expires_at: Option<i64>,
    /// Access-token lifetime in seconds.
    pub token_lifetime_secs: i64,
    /// Generation of the account's tokens: disabling and regenerating move it on, and a
    /// token minted under an older generation is dead.
    pub token_generation: i64,
    /// The product it is bound to: `(API id, identifier)`.
    pub product: Option<(String, String)>,
    /// What it may do, per API (direct bindings and through groups; see `domain::access`).
    pub access: Vec<ApiAccess>,
}

impl AuthRecord {
    /// Its access to the API with identifier `identifier`, if it holds anything there.
    pub fn access_to(&self, identifier: &str) -> Option<&ApiAccess> {
        self.access.iter().find(|a| a.identifier == identifier)
    }

    /// keygate's own permissions it holds (at the root: keygate's roles bind only there).
    pub fn keygate_permissions(&self) -> &[String] {
        self.access
            .iter()
            .find(|a| a.api_id == KEYGATE_API_ID)
            .map_or(&[], |a| a.root.as_slice())
    }
}

impl std::fmt::Debug for AuthRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRecord")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// The column the account list is ordered by (then by id, so the order is total).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum ListSort {
    /// The name's comparison key ([`name_key`]).
    #[default]
    Name,
    /// Creation time.
    Created,
    /// Last token issued (never-used accounts count as 0).
    LastUsed,
}

impl ListSort {
    /// The key's value for `row`, as a cursor holds it.
    pub fn value_of(self, row: &AccountRow) -> String {
        match self {
            Self::Name => row.name.clone(),
            Self::Created => row.created_at.to_string(),
            Self::LastUsed => row.last_used_at.unwrap_or(0).to_string(),
        }
    }
}

/// Most rows the list counts for its total; more are shown as "more than" this.
pub const COUNT_CAP: i64 = 10_000;

/// Filter and page of the account list, ordered by [`ListSort`] then id.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Substring of the name to search for ("" for all).
    pub q: String,
    /// Only enabled (`Some(true)`) or disabled (`Some(false)`) accounts.
    pub enabled: Option<bool>,
    /// Only accounts holding this role (by id), directly or through a group.
    pub role: Option<String>,
    /// The order.
    pub sort: ListSort,
    /// Largest first.
    pub descending: bool,
    /// Keyset cursor: the (sort key, id) of the last row of the previous page (for
    /// [`ListSort::Name`] the key is the name, compared by [`name_key`]).
    pub after: Option<(String, String)>,
    /// With `after`: the rows just before the cursor instead (the previous page), still
    /// returned in list order.
    pub backward: bool,
    /// Page size.
    pub limit: i64,
}

impl ListFilter {
    /// The opaque cursor that continues a list (ordered by name) after `row`.
    pub fn cursor_after(row: &AccountRow) -> String {
        Self::cursor(ListSort::Name, row)
    }

    /// The opaque cursor at `row` in a list ordered by `sort`.
    pub fn cursor(sort: ListSort, row: &AccountRow) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "{}\n{}",
            sort.value_of(row),
            row.id
        ))
    }

    /// Reads a cursor made by [`cursor_after`](Self::cursor_after); `None` if it is not one.
    pub fn parse_cursor(cursor: &str) -> Option<(String, String)> {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (name, id) = raw.split_once('\n')?;
        Some((name.to_owned(), id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(
            AccountName::parse("  billing  ").unwrap().as_ref(),
            "billing"
        );
    }

    #[test]
    fn an_empty_or_blank_name_is_rejected() {
        assert!(AccountName::parse("").is_err());
        assert!(AccountName::parse("   ").is_err());
    }

    #[test]
    fn a_name_of_100_characters_is_accepted_and_101_rejected() {
        assert!(AccountName::parse(&"é".repeat(100)).is_ok());
        assert!(AccountName::parse(&"a".repeat(101)).is_err());
    }

    #[test]
    fn a_name_shaped_like_a_credential_or_an_id_is_rejected() {
        for bad in [
            "kgc_AAAAAAAAAAAAAAAAAAAAAA",
            "KGS_x",
            "kgp_token",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
        ] {
            assert!(AccountName::parse(bad).is_err(), "{bad}");
        }
        for good in ["kgc", "billing-kgc_", "0f8fad5b-d9cb-469f-a165"] {
            assert!(AccountName::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn names_compare_by_unicode_lowercase() {
        assert_eq!(name_key(" Émile "), "émile");
        assert_eq!(name_key("ÉMILE"), name_key("émile"));
    }

    #[test]
    fn a_name_with_a_newline_is_rejected() {
        assert!(AccountName::parse("a\nb").is_err());
    }

    #[test]
    fn a_description_over_1000_characters_is_rejected() {
        assert!(Description::parse(&"x".repeat(1000)).is_ok());
        assert!(Description::parse(&"x".repeat(1001)).is_err());
    }

    #[test]
    fn token_lifetime_bounds() {
        assert!(TokenLifetime::parse(59).is_err());
        assert!(TokenLifetime::parse(60).is_ok());
        assert!(TokenLifetime::parse(86_400).is_ok());
        assert!(TokenLifetime::parse(86_401).is_err());
    }
}
