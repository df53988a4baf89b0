//! Persistence through sqlx, one implementation for SQLite and PostgreSQL: every query is
//! written once in portable SQL (`$n` placeholders, integer epoch-millisecond times, text ids,
//! integer flags) and run through sqlx's `Any` driver. Only the DDL differs per backend.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod backup;
pub mod changes;
pub mod client_keys;
pub mod federation;
pub mod forms;
pub mod groups;
pub mod health;
pub mod keys;
pub mod personal_tokens;
pub mod policies;
pub mod roles;
pub mod sessions;
pub mod settings;
mod unavailable;
pub mod users;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor as _};

/// A transaction on either backend.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (the embedded default).
    Sqlite,
    /// PostgreSQL (for several instances sharing one database).
    Postgres,
}

/// A failure of the database layer. Never shown to clients: handlers log it and answer
/// with a generic message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated (duplicate name, id…).
    #[error("unique constraint violated")]
    Conflict,
    /// Any other database failure.
    #[error(transparent)]
    Sqlx(sqlx::Error),
    /// Stored data did not have the expected shape.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database URL names a database keygate cannot use.
    #[error("{0}")]
    Unsupported(String),
    /// The database cannot be reached right now (connection refused or reset, pool timed
    /// out, server shutting down); the request may succeed if retried shortly.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict,
            _ if unavailable::is_unavailable(&e) => Self::Unavailable(e),
            _ => Self::Sqlx(e),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Sqlx(sqlx::Error::Migrate(Box::new(e)))
    }
}

/// The database: a pool and which backend it is.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: String,
}

impl Store {
    /// Connects to `url`, creating a SQLite file if it does not exist, and applies migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = Self::backend_of(url)?;
        if backend == Backend::Sqlite
            && let Some(path) = Self::sqlite_path(url)
        {
            create_private_file(&path)?;
        }
        let (url, max) = match backend {
            Backend::Sqlite => (sqlite_url(url), 8),
            Backend::Postgres => (url.to_owned(), 16),
        };
        let opts = AnyPoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10));
        let opts = if backend == Backend::Sqlite {
            opts.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer (the CLI can write while a
                    // server runs); NORMAL sync is durable across process crashes in WAL mode.
                    conn.execute(sqlx::raw_sql(
                        "pragma journal_mode = wal; pragma synchronous = normal; \
                         pragma busy_timeout = 10000; pragma foreign_keys = on;",
                    ))
                    .await?;
                    Ok(())
                })
            })
        } else {
            opts
        };
        let pool = opts.connect(&url).await?;
        let store = Self { pool, backend, url };
        store.migrate().await?;
        accounts::fill_name_keys(&store.pool).await?;
        Ok(store)
    }

    /// Which backend a database URL selects.
    pub fn backend_of(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Unsupported(format!(
                "unsupported database URL scheme in {:?}: use sqlite://FILE or postgres://…",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }

    /// The SQLite file behind a `sqlite:` URL, if it is a file.
    pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && !path.contains(":memory:")).then(|| path.into())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL the pool connected to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The pool, for reads that need no transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so it waits for another writer instead of failing halfway.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("begin immediate").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the SQLite file `path`, readable and writable by its owner only (0600), if it does
/// not exist yet. SQLite gives its `-wal` and `-shm` files the mode of the database file, so
/// they are private too; the database holds password hashes, session and CSRF tokens and
/// the encrypted signing key.
fn create_private_file(path: &std::path::Path) -> Result<(), StoreError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unsupported(format!(
            "cannot create the database file {}: {e}",
            path.display()
        ))),
    }
}

/// Adds `mode=rwc` so the SQLite file is created on first start.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Escapes `%`, `_` and `\` for a `like … escape '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `$start, $start+1, …` placeholders for an `in (…)` list of `n` values.
pub fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
