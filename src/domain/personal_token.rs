//! Personal access tokens: named, long-lived bearer tokens an account makes for itself.

/// A personal access token's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalTokenRow {
    /// Id (UUID).
    pub id: String,
    /// The account it acts as.
    pub account_id: String,
    /// Its name, for people.
    pub name: String,
    /// The token's first 12 characters (`kgp_` and 8 more), to recognise it.
    pub prefix: String,
    /// Keyed hash of the token.
    pub token_hash: String,
    /// The API it is for.
    pub api_id: String,
    /// Space-separated permissions.
    pub scope: String,
    /// Created (epoch ms).
    pub created_at: i64,
    /// Expires (epoch ms).
    pub expires_at: i64,
    /// Last used (epoch ms), written in batches.
    pub last_used_at: Option<i64>,
}
