//! The application: configuration, database, keys and the services over them, built once.

use std::sync::Arc;

use crate::admin::Admin;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::oauth::OAuth;
use crate::oauth::keys::{self, KeyError, MasterKey};
use crate::store::{Store, StoreError};

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

impl App {
    /// Connects to the database (creating and migrating it), loads the master key and the
    /// signing keys (creating one on first start).
    pub async fn build(config: Config) -> Result<AppState, BuildError> {
        // Check the master key before touching the database, so a missing key is reported
        // as such and not as a database error.
        let master = MasterKey::load(&config)?;
        let store = Store::connect(&config.database_url).await?;
        let keyset = keys::load_or_create(&store, &master).await?;
        let hasher = master.secret_hasher();
        let oauth = Arc::new(OAuth::new(
            store.clone(),
            hasher.clone(),
            keyset,
            config.issuer(),
        ));
        // Know the revoked tokens before the first request, not only once the change-feed
        // follower has started.
        oauth.load_revocations().await?;
        let admin = Admin::new(store.clone(), hasher, oauth.clone(), config.token_url());
        Ok(AppState(Arc::new(App {
            config,
            store,
            oauth,
            admin,
            metrics: Metrics::new(),
        })))
    }
}
