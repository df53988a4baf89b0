//! Settings, read once from flags and `KEYGATE_*` environment variables.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

pub use cidr::Cidr;

mod cidr;

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
    /// `serve` defaults to `http://<bind>` and records it in the database; other commands
    /// default to the one recorded last.
    #[arg(long, env = "KEYGATE_ISSUER", global = true)]
    pub issuer: Option<String>,

    /// Serve `GET /metrics` on this address only (a private listener) instead of beside
    /// the console and the OAuth endpoints.
    #[arg(long, env = "KEYGATE_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,

    /// `false`: no `GET /metrics` and no per-request HTTP counting (`bench/token.sh`
    /// measures the cost with and without).
    #[arg(
        long,
        env = "KEYGATE_METRICS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub metrics: bool,

    /// Reverse proxies (CIDRs, comma-separated or the flag repeated) whose
    /// `X-Forwarded-For` / `Forwarded` headers name the client's address; from any other
    /// peer those headers are ignored and the socket's address is the source.
    #[arg(
        long,
        env = "KEYGATE_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<Cidr>,

    /// Failed client authentications in a minute for one client ID from one address before
    /// that address backs off (429) for that client.
    #[arg(
        long,
        env = "KEYGATE_CLIENT_AUTH_FAILURES_PER_CLIENT_SOURCE",
        default_value_t = 10,
        global = true
    )]
    pub client_auth_failures_per_client_source: u32,

    /// Failed client authentications in a minute from one address, whatever the client
    /// IDs, before that address backs off (429).
    #[arg(
        long,
        env = "KEYGATE_CLIENT_AUTH_FAILURES_PER_SOURCE",
        default_value_t = 100,
        global = true
    )]
    pub client_auth_failures_per_source: u32,
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
            metrics: true,
            trusted_proxies: Vec::new(),
            client_auth_failures_per_client_source: 10,
            client_auth_failures_per_source: 100,
        }
    }

    /// The issuer URL exactly as given (it is the `iss` of every token, compared byte for
    /// byte by the APIs that verify them), or `http://<bind>`.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(i) => i.clone(),
            None => format!("http://{}", self.bind),
        }
    }

    /// The token endpoint URL, as printed with new credentials.
    pub fn token_url(&self) -> String {
        join_url(&self.issuer(), "oauth/token")
    }

    /// The path of the issuer URL without its trailing slash (`/keygate` for
    /// `https://host/keygate/`), under which every route is also served; `None` when the
    /// issuer has no path or one keygate cannot route (see [`issuer_path`]).
    pub fn issuer_path(&self) -> Option<String> {
        issuer_path(&self.issuer())
    }
}

/// `base` and `path` joined by exactly one slash: `join_url("https://h/kg/", "/oauth/token")`
/// is `https://h/kg/oauth/token`.
pub fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// The path of an issuer URL, without its trailing slash; `None` when there is none, or
/// when it holds characters other than unreserved ones, `%` and `/` (a route pattern must
/// not carry `{`, `}` or `*`, and RFC 8414 issuers have no query or fragment).
pub fn issuer_path(issuer: &str) -> Option<String> {
    let after_scheme = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    let path = after_scheme.find('/').map(|i| &after_scheme[i..])?;
    let path = path.trim_end_matches('/');
    let routable = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~%/".contains(&b))
        && !path.contains("//");
    (!path.is_empty() && routable).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_with_exactly_one_slash() {
        assert_eq!(
            join_url("https://h/", "/oauth/token"),
            "https://h/oauth/token"
        );
        assert_eq!(
            join_url("https://h", "oauth/token"),
            "https://h/oauth/token"
        );
        assert_eq!(join_url("https://h/kg/", "login"), "https://h/kg/login");
    }

    #[test]
    fn the_issuer_is_kept_exactly_as_given() {
        let mut c = Config::for_database("sqlite://x.db");
        c.issuer = Some("https://h/keygate/".into());
        assert_eq!(c.issuer(), "https://h/keygate/");
        assert_eq!(c.token_url(), "https://h/keygate/oauth/token");
        assert_eq!(c.issuer_path().as_deref(), Some("/keygate"));
    }

    #[test]
    fn an_issuer_without_a_routable_path_has_none() {
        assert_eq!(issuer_path("https://h"), None);
        assert_eq!(issuer_path("https://h/"), None);
        assert_eq!(issuer_path("https://h/{x}"), None);
        assert_eq!(issuer_path("https://h/a//b"), None);
        assert_eq!(issuer_path("https://h/a/b").as_deref(), Some("/a/b"));
    }
}
