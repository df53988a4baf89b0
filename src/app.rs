//! The application: configuration, database, keys and the services over them, built once.

use std::sync::Arc;

use crate::admin::Admin;
use crate::config::Config;
use crate::domain::now_ms;
use crate::metrics::Metrics;
use crate::oauth::OAuth;
use crate::oauth::backoff::{Backoff, Limits};
use crate::oauth::keys::{self, KeyError, MasterKey};
use crate::store::{Store, StoreError, settings};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The keys could not be loaded.
    #[error("{0}")]
    Keys(#[from] KeyError),
}

/// Everything a request handler or command needs.
pub struct App {
    /// Settings.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// The authorization server.
    pub oauth: Arc<OAuth>,
    /// Administrative operations.
    pub admin: Admin,
    /// Prometheus metrics of this instance.
    pub metrics: Metrics,
    /// Backoff of failed client authentications (see `oauth::backoff`).
    pub backoff: Backoff,
}

/// Shared handle on the application, cloned into every handler.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// Who the application is built for, which decides where its issuer URL comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `serve`: its issuer (given or `http://<bind>`) is recorded in the database.
    Server,
    /// A CLI command: without `--issuer`, it uses the one a server recorded last.
    Command,
}

impl App {
    /// Connects to the database (creating and migrating it), loads the master key and the
    /// signing keys (creating one on first start), and records the issuer URL in the
    /// database for the command line.
    pub async fn build(config: Config) -> Result<AppState, BuildError> {
        Self::build_as(config, Role::Server).await
    }

    /// As [`App::build`], for a CLI command: without `--issuer`, the issuer is the one a
    /// server recorded last (so printed URLs are the server's), else `http://<bind>`.
    pub async fn build_for_command(config: Config) -> Result<AppState, BuildError> {
        Self::build_as(config, Role::Command).await
    }

    async fn build_as(mut config: Config, role: Role) -> Result<AppState, BuildError> {
        // Check the master key before touching the database, so a missing key is reported
        // as such and not as a database error.
        let master = MasterKey::load(&config)?;
        let store = Store::connect(&config.database_url).await?;
        match role {
            Role::Server => {
                settings::put(store.pool(), settings::ISSUER, &config.issuer(), now_ms()).await?;
            }
            Role::Command if config.issuer.is_none() => {
                config.issuer = settings::get(store.pool(), settings::ISSUER).await?;
            }
            Role::Command => {}
        }
        let keyset = keys::load_or_create(&store, &master).await?;
        let hasher = master.secret_hasher();
        let oauth = Arc::new(OAuth::new(
            store.clone(),
            hasher.clone(),
            Arc::new(master),
            keyset,
            config.issuer(),
        ));
        // Know the revoked tokens before the first request, not only once the change-feed
        // follower has started.
        oauth.load_revocations().await?;
        oauth.reload_policies().await?;
        let admin = Admin::new(store.clone(), hasher, oauth.clone(), config.token_url());
        let backoff = Backoff::new(Limits {
            per_client_source: config.client_auth_failures_per_client_source,
            per_source: config.client_auth_failures_per_source,
        });
        Ok(AppState(Arc::new(App {
            backoff,
            config,
            store,
            oauth,
            admin,
            metrics: Metrics::new(),
        })))
    }
}
