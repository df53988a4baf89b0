//! Settings, read once from flags and `KEYGATE_*` environment variables.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// A setting that must never be printed; its `Debug` redacts it.
#[derive(Clone)]
pub struct SecretString(String);

impl SecretString {
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretString {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Settings shared by `serve` and every admin command.
#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// `sqlite://keygate.db` (default, created on first start) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "KEYGATE_DATABASE_URL",
        default_value = "sqlite://keygate.db",
        global = true
    )]
    pub database_url: String,

    /// Master key (32 bytes as base64 or 64 hex digits) that encrypts the token-signing key
    /// and keys the client-secret hash. Required with PostgreSQL; with SQLite, when unset, a
    /// 0600 file `<database>.key` beside the database holds one made on first start.
    #[arg(
        long,
        env = "KEYGATE_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub master_key: Option<SecretString>,

    /// Address the server listens on.
    #[arg(
        long,
        env = "KEYGATE_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,

    /// Public base URL: the `iss` of tokens and the base of every URL keygate prints.
    /// Defaults to `http://<bind>`.
    #[arg(long, env = "KEYGATE_ISSUER", global = true)]
    pub issuer: Option<String>,

    /// Serve `GET /metrics` on this address only (a private listener) instead of beside
    /// the console and the OAuth endpoints.
    #[arg(long, env = "KEYGATE_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,
}

impl Config {
    /// A configuration for `database_url` with every other setting at its default.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            master_key: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: None,
            metrics_bind: None,
        }
    }

    /// The issuer URL without a trailing slash.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(i) => i.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind),
        }
    }

    /// The token endpoint URL, as printed with new credentials.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.issuer())
    }
}
