//! Service-account fields and the rules they obey.

use super::ValidationError;

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
