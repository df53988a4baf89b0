//! The changes that keep every instance's in-memory caches coherent: each change that
//! affects authentication is one of these, appended to the change feed in the transaction
//! that makes it.

/// What a change invalidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An account's credentials, status, roles or token cut-off changed: drop its cache entry.
    Account(String),
    /// A role or group changed: drop every cached account (permissions may differ).
    AllAccounts,
    /// A token (by `jti`) was revoked.
    TokenRevoked(String),
    /// A trusted issuer was added, changed or deleted: reload them.
    TrustedIssuers,
    /// A signing key was rotated in: load the published keys again.
    SigningKeys,
    /// A personal access token (by the hash of its value) was deleted.
    PersonalToken(String),
    /// The account policies changed: load them again.
    Policies,
}

impl Change {
    /// The change as the feed stores it: its kind and its key (empty for none).
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Account(id) => ("account", id),
            Self::AllAccounts => ("all_accounts", ""),
            Self::TokenRevoked(jti) => ("token_revoked", jti),
            Self::TrustedIssuers => ("trusted_issuers", ""),
            Self::SigningKeys => ("signing_keys", ""),
            Self::PersonalToken(hash) => ("personal_token", hash),
            Self::Policies => ("policies", ""),
        }
    }

    /// The change a feed row holds; `None` for a kind this version does not know.
    pub fn from_parts(kind: &str, key: String) -> Option<Self> {
        match kind {
            "account" => Some(Self::Account(key)),
            "all_accounts" => Some(Self::AllAccounts),
            "token_revoked" => Some(Self::TokenRevoked(key)),
            "trusted_issuers" => Some(Self::TrustedIssuers),
            "signing_keys" => Some(Self::SigningKeys),
            "personal_token" => Some(Self::PersonalToken(key)),
            "policies" => Some(Self::Policies),
            _ => None,
        }
    }
}
