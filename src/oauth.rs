//! OAuth 2.0 protocol logic, free of HTTP: client authentication, minting and verifying
//! access tokens, revocation (RFC 7009), introspection (RFC 7662), keys and JWKS.

pub mod assertion;
pub mod backoff;
pub mod cache;
pub mod es256;
pub mod federation;
pub mod health;
pub mod keys;
pub mod replay;
pub mod sessions;
pub mod token;
pub mod usage;
pub mod verified;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use tokio::sync::Notify;

use crate::domain::access::{self, NodeDetail};
use crate::domain::audit::{Actor, ActorKind, AuditEvent};
use crate::domain::now_ms;
use crate::domain::permission::parse_scope;
use crate::domain::policy::Policies;
use crate::domain::secret::{ClientId, SecretHasher, random_id_bytes};
use crate::store::accounts::AuthRecord;
use crate::store::changes::{self, Change};
use crate::store::{Backend, Store, StoreError, audit};
use cache::AuthCache;
use token::{Claims, TokenError, TokenSigner, TokenVerifier};
use usage::UsageRecorder;
use verified::VerifiedTokens;

/// An error of the OAuth protocol, with its RFC 6749 §5.2 code.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The request is malformed; the text says how (safe to show).
    #[error("{0}")]
    InvalidRequest(String),
    /// Client authentication failed. Always the same answer, whatever the reason.
    #[error("client authentication failed")]
    InvalidClient,
    /// A bearer token presented by the caller is not a live keygate token.
    #[error("the bearer token is invalid, expired or revoked")]
    InvalidToken,
    /// Only `client_credentials` is supported.
    #[error("only the client_credentials grant is supported")]
    UnsupportedGrantType,
    /// A token exchange's `subject_token` is not a live personal access token (RFC 8693
    /// §2.2.2: answered as `invalid_request`).
    #[error("the subject_token is not a live personal access token")]
    InvalidSubjectToken,
    /// RFC 8707: the `resource` is unknown, repeated, not the account's product, or an API
    /// where the account holds nothing.
    #[error("the requested resource is not one this client may get a token for")]
    InvalidTarget,
    /// The requested scope is not within the account's permissions.
    #[error("the requested scope is not within the permissions of this client")]
    InvalidScope,
    /// The client may not do this (e.g. revoke another client's token).
    #[error("{0}")]
    UnauthorizedClient(&'static str),
    /// The caller is authenticated but lacks the permission.
    #[error("this requires the {0} permission")]
    InsufficientScope(&'static str),
    /// Something failed inside; logged, never shown.
    #[error(transparent)]
    Internal(#[from] StoreError),
    /// Too many failed client authentications from this source (see `oauth::backoff`):
    /// 429 with `Retry-After`, the secret not even checked.
    #[error("too many failed attempts; retry later")]
    Throttled {
        /// Seconds until attempts are accepted again.
        retry_after_secs: u64,
    },
}

/// A freshly minted access token (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Granted permissions, space-separated.
    pub scope: String,
    /// The client ID it was issued to.
    pub client_id: String,
    /// What it allows at nodes below the root (RFC 9396 §7), when anything.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<NodeDetail>,
}

impl IssuedToken {
    /// The RFC 6749 §5.1 JSON response, written directly: the token is base64url and dots,
    /// so only the scope and client ID go through the JSON string encoder. Same bytes as
    /// `serde_json::to_vec(self)`.
    pub fn to_json(&self) -> Vec<u8> {
        debug_assert!(
            self.access_token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        );
        let mut out = Vec::with_capacity(self.access_token.len() + self.scope.len() + 160);
        out.extend_from_slice(br#"{"access_token":""#);
        out.extend_from_slice(self.access_token.as_bytes());
        out.extend_from_slice(br#"","token_type":"#);
        let strings = |out: &mut Vec<u8>, s: &str| {
            serde_json::to_writer(out, s).expect("a string serialises to a Vec");
        };
        strings(&mut out, self.token_type);
        out.extend_from_slice(br#","expires_in":"#);
        out.extend_from_slice(self.expires_in.to_string().as_bytes());
        out.extend_from_slice(br#","scope":"#);
        strings(&mut out, &self.scope);
        out.extend_from_slice(br#","client_id":"#);
        strings(&mut out, &self.client_id);
        if !self.authorization_details.is_empty() {
            out.extend_from_slice(br#","authorization_details":"#);
            serde_json::to_writer(&mut out, &self.authorization_details)
                .expect("details serialise to a Vec");
        }
        out.push(b'}');
        out
    }
}

/// A token that passed every check, with its account as it is now.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The token's claims.
    pub claims: Arc<Claims>,
    /// The account, current.
    pub account: Arc<AuthRecord>,
    /// What the token allows now at the root: its scope within the account's current
    /// permissions for the token's API.
    pub permissions: BTreeSet<String>,
    /// What it allows now at nodes: its entries within what is effective there now.
    pub details: Vec<NodeDetail>,
}

impl VerifiedToken {
    /// Whether the token is for keygate's own REST API.
    pub fn is_for(&self, identifier: &str) -> bool {
        self.claims.aud == identifier
    }

    /// The account's roles for the token's API.
    pub fn roles(&self) -> &[String] {
        self.account
            .access_to(&self.claims.aud)
            .map_or(&[], |a| a.roles.as_slice())
    }
}

impl VerifiedToken {
    /// The account acting through this token, for permission checks and the audit log.
    pub fn actor(&self, source: &str) -> Actor {
        Actor {
            kind: ActorKind::ServiceAccount,
            id: self.account.id.clone(),
            name: self.account.name.clone(),
            permissions: self.permissions.clone(),
            source: source.to_owned(),
        }
    }
}

/// Adds RFC 9396 `authorization_details` to a JSON answer (token exchange, introspection,
/// whoami) when there are any.
pub fn add_authorization_details(body: &mut serde_json::Value, details: &[NodeDetail]) {
    if !details.is_empty() {
        body["authorization_details"] = serde_json::json!(details);
    }
}

/// The authorization server.
pub struct OAuth {
    store: Store,
    cache: AuthCache,
    usage: UsageRecorder,
    sessions: sessions::SessionRecorder,
    /// One flush of usage and sessions at a time: a flush that finds the pending entries
    /// taken by one still writing waits for it, so "flush, then list" sees them.
    flushing: tokio::sync::Mutex<()>,
    hasher: SecretHasher,
    /// Decrypts the signing keys when they change.
    master: Arc<keys::MasterKey>,
    /// The keys in use, swapped whole when a key is rotated in or retires.
    keys: std::sync::RwLock<Arc<ActiveKeys>>,
    verified: VerifiedTokens,
    replay: replay::ReplayGuard,
    key_verifiers: assertion::KeyVerifiers,
    federation: Arc<federation::Federation>,
    issuer: String,
    /// Wakes the change-feed follower early (PostgreSQL NOTIFY).
    wake: Notify,
    /// When the follower last read the feed (for `/readyz` and `/metrics`).
    feed_health: health::FeedHealth,
    /// Leak reports per source address.
    leak_reports: ReportLimiter,
    /// The account policies, swapped whole when they change (here or, through the change
    /// feed, on another instance).
    policies: std::sync::RwLock<Arc<Policies>>,
}

/// Leak reports accepted per source address and minute.
pub const LEAK_REPORTS_PER_MINUTE: u32 = 20;

/// Counts leak reports per source address in one-minute windows (bounded in size).
#[derive(Default)]
pub struct ReportLimiter(std::sync::Mutex<std::collections::HashMap<String, (i64, u32)>>);

impl ReportLimiter {
    /// Whether one more report from `source` is allowed now; if not, the seconds to wait.
    pub fn allow(&self, source: &str, now: i64) -> Result<(), u64> {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.len() > 10_000 {
            m.retain(|_, (start, _)| now - *start < 60_000);
        }
        let entry = m.entry(source.to_owned()).or_insert((now, 0));
        if now - entry.0 >= 60_000 {
            *entry = (now, 0);
        }
        if entry.1 >= LEAK_REPORTS_PER_MINUTE {
            let wait = (60_000 - (now - entry.0)).max(1000) / 1000;
            return Err(u64::try_from(wait).unwrap_or(60));
        }
        entry.1 += 1;
        Ok(())
    }
}

impl OAuth {
    /// Builds the server from loaded keys; `master` decrypts them again when they change.
    pub fn new(
        store: Store,
        hasher: SecretHasher,
        master: Arc<keys::MasterKey>,
        keys: keys::KeySet,
        issuer: String,
    ) -> Self {
        let active = ActiveKeys::new(keys, &issuer);
        Self {
            master,
            keys: std::sync::RwLock::new(Arc::new(active)),
            verified: VerifiedTokens::default(),
            replay: replay::ReplayGuard::new(store.clone()),
            key_verifiers: assertion::KeyVerifiers::default(),
            federation: Arc::default(),
            store,
            cache: AuthCache::new(crate::config::join_url(&issuer, "api")),
            usage: UsageRecorder::default(),
            sessions: sessions::SessionRecorder::default(),
            flushing: tokio::sync::Mutex::new(()),
            hasher,
            issuer,
            wake: Notify::new(),
            feed_health: health::FeedHealth::new(now_ms()),
            leak_reports: ReportLimiter::default(),
            policies: std::sync::RwLock::default(),
        }
    }

    /// The account policies in force on this instance (from memory).
    pub fn policies(&self) -> Arc<Policies> {
        self.with_policies(Arc::clone)
    }

    /// Runs `f` on the policies in force under the read lock (the token path).
    fn with_policies<R>(&self, f: impl FnOnce(&Arc<Policies>) -> R) -> R {
        f(&self
            .policies
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Puts `policies` in force on this instance at once (after this instance changed them;
    /// the others follow the change feed).
    pub fn set_policies(&self, policies: Policies) {
        *self
            .policies
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(policies);
    }

    /// Loads the policies from the database and puts them in force (at start, and when the
    /// change feed says they changed).
    pub async fn reload_policies(&self) -> Result<(), StoreError> {
        let stored =
            crate::store::settings::get(self.store.pool(), crate::store::settings::POLICIES)
                .await?;
        self.set_policies(
            stored
                .as_deref()
                .map(Policies::from_stored)
                .unwrap_or_default(),
        );
        Ok(())
    }

    /// The issuer URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JWKS document (RFC 7517), serialised once per key change: every published key.
    pub fn jwks_json(&self) -> Arc<str> {
        self.active_keys().jwks_json.clone()
    }

    /// The published signing keys, oldest first (the one with no retirement signs).
    pub fn published_keys(&self) -> Vec<keys::PublishedKey> {
        self.active_keys().published.clone()
    }

    fn active_keys(&self) -> Arc<ActiveKeys> {
        self.with_keys(Arc::clone)
    }

    /// Runs `f` on the keys in use under the read lock, without cloning them (the token
    /// path). `f` must not block.
    fn with_keys<R>(&self, f: impl FnOnce(&Arc<ActiveKeys>) -> R) -> R {
        f(&self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// A new signing key, encrypted under the master key, for a rotation to store.
    pub fn new_signing_key(&self) -> Result<crate::store::keys::KeyRow, keys::KeyError> {
        keys::new_key_row(&self.master)
    }

    /// Loads the published keys from the database again and uses them at once: after a
    /// rotation (here or, through the change feed, on another instance) and when a key's
    /// retirement time has come.
    pub async fn reload_keys(&self) -> Result<(), keys::KeyError> {
        let set = keys::load(&self.store, &self.master).await?;
        let active = Arc::new(ActiveKeys::new(set, &self.issuer));
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = active;
        Ok(())
    }

    /// The in-memory cache (for tests and operations that change accounts).
    pub fn cache(&self) -> &AuthCache {
        &self.cache
    }

    /// The change-feed follower's progress.
    pub fn feed_health(&self) -> &health::FeedHealth {
        &self.feed_health
    }

    /// Tokens verified from the cache of checked signatures since start.
    pub fn verified_token_cache_hits(&self) -> u64 {
        self.verified.hits()
    }

    /// Authenticates a client by ID and secret. Unknown client, wrong secret, disabled
    /// account and expired grace-period credentials all give the same `InvalidClient`.
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Arc<AuthRecord>, OAuthError> {
        // A made-up ID, or a checksummed secret whose checksum is wrong: no lookup at all.
        let found = if ClientId::is_well_formed(client_id)
            && !crate::domain::secret::is_bad_checksummed_secret(secret)
        {
            self.cache.by_client_id(&self.store, client_id).await?
        } else {
            // Not an ID keygate issues: no database lookup for made-up IDs.
            None
        };
        let Some(rec) = found else {
            // Spend the same work as a real check so timing does not tell IDs apart.
            let _ = self.hasher.verify(secret, "");
            return Err(OAuthError::InvalidClient);
        };
        if rec.auth_method == crate::domain::client_key::PRIVATE_KEY_JWT {
            // A key account has no secret; spend the work all the same.
            let _ = self.hasher.verify(secret, "");
            return Err(OAuthError::InvalidClient);
        }
        let ok = if rec.client_id == client_id {
            // A secret past the credential lifetime fails like a wrong one (checked after
            // the hash, so timing does not tell them apart).
            self.hasher.verify(secret, &rec.secret_hash)
                && self.with_policies(|p| p.credential_alive(rec.secret_created_at, now_ms()))
        } else {
            let in_grace = rec.old_expires_at.is_some_and(|t| now_ms() < t);
            let matches = rec
                .old_secret_hash
                .as_deref()
                .is_some_and(|h| self.hasher.verify(secret, h));
            in_grace && matches
        };
        if ok && rec.enabled {
            Ok(rec)
        } else {
            Err(OAuthError::InvalidClient)
        }
    }

    /// Mints an access token for an authenticated client, narrowed to `scope` if given. An
    /// empty `scope` parameter counts as absent (RFC 6749 §3.3 leaves it to the server): the
    /// token carries the account's permissions, as without one.
    ///
    /// `resource` (RFC 8707) picks the API the token is for (see
    /// `domain::access::token_grant`); its identifier becomes the token's `aud`.
    pub fn issue(
        &self,
        rec: &AuthRecord,
        client_id: &str,
        scope: Option<&str>,
        resource: Option<&str>,
        source: &str,
    ) -> Result<IssuedToken, OAuthError> {
        let wanted = match scope.filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(s) => Some(parse_scope(s).ok_or(OAuthError::InvalidScope)?),
        };
        self.issue_for(rec, client_id, wanted.as_deref(), resource, source)
    }

    /// Mints an access token for `rec` with exactly the checked `wanted` scope (`None`:
    /// everything it holds for the chosen API) for `resource`.
    pub fn issue_for(
        &self,
        rec: &AuthRecord,
        client_id: &str,
        wanted: Option<&[String]>,
        resource: Option<&str>,
        source: &str,
    ) -> Result<IssuedToken, OAuthError> {
        let holder = access::Holder {
            access: &rec.access,
            product: rec
                .product
                .as_ref()
                .map(|(id, ident)| (id.as_str(), ident.as_str())),
            keygate_identifier: self.cache.keygate_identifier(),
        };
        let grant = access::token_grant(holder, resource, wanted).map_err(|e| match e {
            access::GrantError::InvalidTarget => OAuthError::InvalidTarget,
            access::GrantError::InvalidScope => OAuthError::InvalidScope,
        })?;
        let scope = grant.scope.join(" ");
        let now = now_ms();
        let iat = now / 1000;
        // The policy caps every token's lifetime at mint time: this is the one place a
        // lifetime is computed (client credentials, token exchange, federation).
        let exp = iat + self.with_policies(|p| p.token_lifetime(rec.token_lifetime_secs));
        // The jti carries the account's token generation: disabling or regenerating moves
        // the generation on, which kills every older token in one write, whatever the clock.
        let jti = format!(
            "{}.{}",
            rec.token_generation,
            URL_SAFE_NO_PAD.encode(random_id_bytes::<16>())
        );
        let access_token = self.with_keys(|k| {
            k.signer.sign(
                &self.issuer,
                &rec.id,
                client_id,
                &grant.audience,
                iat,
                exp,
                &jti,
                &scope,
                &grant.details,
            )
        });
        self.usage.record(&rec.id, now);
        self.sessions.record(crate::store::sessions::SessionRow {
            jti,
            account_id: rec.id.clone(),
            client_id: client_id.to_owned(),
            generation: rec.token_generation,
            issued_at: now,
            expires_at: exp.saturating_mul(1000),
            scope: scope.clone(),
            source: source.to_owned(),
        });
        Ok(IssuedToken {
            access_token,
            token_type: "Bearer",
            expires_in: exp - now / 1000,
            scope,
            client_id: client_id.to_owned(),
            authorization_details: grant.details,
        })
    }

    /// RFC 8693 token exchange: a short-lived access token for what the personal access
    /// token `subject` allows now, narrowed to `scope` if given (never more).
    pub async fn exchange(
        &self,
        subject: &str,
        scope: Option<&str>,
        source: &str,
    ) -> Result<IssuedToken, OAuthError> {
        if !subject.starts_with(crate::domain::secret::PERSONAL_TOKEN_PREFIX) {
            return Err(OAuthError::InvalidSubjectToken);
        }
        let v = self
            .verify(subject)
            .await
            .map_err(|_| OAuthError::InvalidSubjectToken)?;
        let held: Vec<String> = v.permissions.iter().cloned().collect();
        let wanted = match scope.filter(|s| !s.trim().is_empty()) {
            None => held,
            Some(s) => {
                let w = parse_scope(s).ok_or(OAuthError::InvalidScope)?;
                if !w.iter().all(|p| v.permissions.contains(p)) {
                    return Err(OAuthError::InvalidScope);
                }
                w
            }
        };
        let client_id = v.account.client_id.clone();
        self.issue_for(
            &v.account,
            &client_id,
            Some(&wanted),
            Some(&v.claims.aud),
            source,
        )
        .map_err(|e| match e {
            // The API may no longer be one the account holds anything for.
            OAuthError::InvalidTarget => OAuthError::InvalidSubjectToken,
            other => other,
        })
    }

    /// The leak-report limiter.
    pub fn leak_reports(&self) -> &ReportLimiter {
        &self.leak_reports
    }

    /// keygate's own API identifier (`<issuer>/api`): the audience its REST API accepts.
    pub fn keygate_identifier(&self) -> &str {
        self.cache.keygate_identifier()
    }

    /// The current catalog of APIs, roles and nodes, from memory once loaded.
    pub async fn catalog(&self) -> Result<Arc<access::Catalog>, StoreError> {
        self.cache.catalog(&self.store).await
    }

    /// Checks a bearer token: signature, type, issuer, audience, times, revocation, and that
    /// its account still exists, is enabled and has not moved its token cut-off past it.
    ///
    /// A token seen before skips the signature check (see [`VerifiedTokens`]); every other
    /// check runs on every call, from memory.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        if token.starts_with(crate::domain::secret::PERSONAL_TOKEN_PREFIX) {
            return self.verify_personal(token).await;
        }
        let now = now_ms() / 1000;
        let claims = match self.verified.get(token) {
            Some(claims) => {
                // The verifier's own test, with its leeway: past `exp` + leeway is expired.
                if claims.exp < now - token::LEEWAY_SECS {
                    return Err(TokenError::Expired);
                }
                claims
            }
            None => {
                let claims = Arc::new(self.with_keys(|k| k.verifier.verify(token))?);
                self.verified.insert(token, claims.clone(), now);
                claims
            }
        };
        if self.cache.is_revoked(&claims.jti) {
            return Err(TokenError::Revoked);
        }
        let account = match self.cache.by_id(&self.store, &claims.sub).await {
            Ok(Some(a)) => a,
            Ok(None) => return Err(TokenError::Revoked),
            Err(e) => {
                tracing::error!(error = %e, "account lookup failed while verifying a token");
                return Err(TokenError::Invalid);
            }
        };
        let alive = if claims.client_id == account.client_id {
            generation_of(&claims.jti) == Some(account.token_generation)
        } else {
            // Tokens of the previous credentials live until the grace period ends, but only
            // those of the generation just before the regeneration (or minted with the old
            // pair during the grace period): older ones died earlier and stay dead.
            account.old_client_id.as_deref() == Some(claims.client_id.as_str())
                && account.old_expires_at.is_some_and(|t| now_ms() < t)
                && generation_of(&claims.jti).is_some_and(|g| g + 1 >= account.token_generation)
        };
        if !account.enabled || !alive {
            return Err(TokenError::Revoked);
        }
        // The audience must be an API that exists now (a deleted API's tokens die with it).
        match self.cache.catalog(&self.store).await {
            Ok(c) if c.api_by_identifier(&claims.aud).is_some() => {}
            Ok(_) => return Err(TokenError::Invalid),
            Err(e) => {
                tracing::error!(error = %e, "catalog lookup failed while verifying a token");
                return Err(TokenError::Invalid);
            }
        }
        let (permissions, details) = access::allowed_now(
            account.access_to(&claims.aud),
            &claims.scope,
            &claims.authorization_details,
        );
        Ok(VerifiedToken {
            claims,
            account,
            permissions,
            details,
        })
    }

    /// Checks a personal access token (`kgp_…`): its checksum (a bad one is refused without
    /// any lookup), then from memory its record, expiry, account and what it allows now. It
    /// acts like an access token for its API whose claims come from its record.
    async fn verify_personal(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        use crate::domain::secret::{PERSONAL_TOKEN_PREFIX, PERSONAL_TOKEN_RANDOM, is_checksummed};
        if !is_checksummed(token, PERSONAL_TOKEN_PREFIX, PERSONAL_TOKEN_RANDOM) {
            return Err(TokenError::Invalid);
        }
        let hash = self.hasher.hash(token);
        let lookup = |e: StoreError| {
            tracing::error!(error = %e, "lookup failed while verifying a personal token");
            TokenError::Invalid
        };
        let pat = self
            .cache
            .personal_token(&self.store, &hash)
            .await
            .map_err(lookup)?
            .ok_or(TokenError::Invalid)?;
        let now = now_ms();
        if pat.expires_at <= now {
            return Err(TokenError::Expired);
        }
        let jti = format!("pat.{}", pat.id);
        if self.cache.is_revoked(&jti) {
            return Err(TokenError::Revoked);
        }
        let account = self
            .cache
            .by_id(&self.store, &pat.account_id)
            .await
            .map_err(lookup)?
            .ok_or(TokenError::Revoked)?;
        if !account.enabled {
            return Err(TokenError::Revoked);
        }
        let catalog = self.cache.catalog(&self.store).await.map_err(lookup)?;
        let api = catalog.api(&pat.api_id).ok_or(TokenError::Invalid)?;
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: account.id.clone(),
            client_id: account.client_id.clone(),
            aud: api.identifier.clone(),
            iat: pat.created_at / 1000,
            nbf: pat.created_at / 1000,
            exp: pat.expires_at / 1000,
            jti,
            scope: pat.scope.clone(),
            authorization_details: Vec::new(),
        };
        let (permissions, details) =
            access::allowed_now(account.access_to(&claims.aud), &claims.scope, &[]);
        self.usage.record_personal(&pat.id, now);
        Ok(VerifiedToken {
            claims: Arc::new(claims),
            account,
            permissions,
            details,
        })
    }

    /// RFC 7009: revokes `token` on behalf of the authenticated `client`. Unknown, invalid
    /// and expired tokens are accepted silently; another client's token is refused.
    pub async fn revoke(
        &self,
        client: &AuthRecord,
        token: &str,
        source: &str,
    ) -> Result<(), OAuthError> {
        let Ok(verified) = self.verify(token).await else {
            return Ok(());
        };
        if verified.account.id != client.id {
            return Err(OAuthError::UnauthorizedClient(
                "the token was not issued to this client",
            ));
        }
        self.revoke_verified(&verified, source).await
    }

    /// Revokes a verified token (its holder ends its own session).
    pub async fn revoke_verified(
        &self,
        token: &VerifiedToken,
        source: &str,
    ) -> Result<(), OAuthError> {
        self.revoke_token(
            &token.actor(source),
            &token.account.id,
            &token.account.name,
            &token.claims.jti,
            token.claims.exp.saturating_mul(1000),
        )
        .await?;
        Ok(())
    }

    /// Revokes token `jti` of an account until it expires (epoch ms), in one transaction
    /// with its change-feed entry and audit event, and at once on this instance. Used by the
    /// token's holder (RFC 7009, session end) and by administrators (sessions).
    pub async fn revoke_token(
        &self,
        actor: &Actor,
        account_id: &str,
        account_name: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        changes::revoke_token(&mut tx, jti, account_id, expires_at).await?;
        changes::append(
            &mut tx,
            self.store.backend(),
            &Change::TokenRevoked(jti.to_owned()),
            now,
        )
        .await?;
        let event = AuditEvent {
            action: "token.revoked",
            target_kind: "service_account",
            target_id: account_id.to_owned(),
            target_name: account_name.to_owned(),
            detail: serde_json::json!({ "jti": jti }).to_string(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        tx.commit().await?;
        self.cache.revoke(jti, expires_at);
        Ok(())
    }

    /// RFC 7662 introspection of `token`: its claims if it is live, else `{"active":false}`.
    /// `scope` is what the token allows now (its scope within the account's current
    /// permissions), the same answer every other check gives.
    pub async fn introspect(&self, token: &str) -> serde_json::Value {
        match self.verify(token).await {
            Ok(v) => {
                let mut body = serde_json::json!({
                "active": true,
                "scope": v.permissions.iter().map(String::as_str).collect::<Vec<_>>().join(" "),
                "client_id": v.claims.client_id,
                "username": v.account.name,
                "token_type": "Bearer",
                "exp": v.claims.exp,
                "iat": v.claims.iat,
                "nbf": v.claims.nbf,
                "sub": v.claims.sub,
                "aud": v.claims.aud,
                "iss": v.claims.iss,
                "jti": v.claims.jti,
                });
                add_authorization_details(&mut body, &v.details);
                body
            }
            Err(_) => serde_json::json!({ "active": false }),
        }
    }

    /// Applies a change made by this instance at once (the feed will repeat it, harmlessly).
    pub fn apply_local(&self, change: &Change) {
        self.apply(change);
    }

    /// Applies one change to the in-memory state: the account cache, and the trusted
    /// issuers (reloaded on next use when they changed, or when changes may have been missed).
    fn apply(&self, change: &Change) {
        self.cache.apply(change);
        if matches!(change, Change::TrustedIssuers | Change::AllAccounts) {
            self.federation.invalidate();
        }
    }

    /// Runs forever: follows the change feed so this instance's cache drops what other
    /// instances (or the CLI) changed within a fraction of a second, flushes last-used
    /// times, and prunes old feed rows and expired revocations.
    pub async fn run_background(self: Arc<Self>) {
        if self.store.backend() == Backend::Postgres {
            tokio::spawn(listen_for_changes(self.clone()));
        }
        let mut last_seq = match self.load_revocations().await {
            Ok(seq) => seq,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the change feed");
                0
            }
        };
        let mut ticks: u64 = 0;
        let mut last_read = now_ms();
        // Key rotations already applied (the feed repeats its last seconds on every read).
        let mut rotations_seen = std::collections::HashSet::new();
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
                () = self.wake.notified() => {}
            }
            ticks += 1;
            let now = now_ms();
            match changes::since(self.store.pool(), last_seq, now - FEED_LOOKBACK_MS, 1000).await {
                Ok(list) => {
                    let mut keys_changed = false;
                    let mut policies_changed = false;
                    for (seq, change) in list {
                        if change == Change::SigningKeys {
                            keys_changed |= rotations_seen.insert(seq);
                        }
                        policies_changed |= change == Change::Policies;
                        self.apply(&change);
                        last_seq = last_seq.max(seq);
                    }
                    if rotations_seen.len() > 1000 {
                        rotations_seen.clear();
                    }
                    if now - last_read > FEED_LOOKBACK_MS {
                        // The feed could not be read for a while: changes may have been
                        // missed, so forget every cached account.
                        self.apply(&Change::AllAccounts);
                        if let Err(e) = self.load_revocations().await {
                            tracing::warn!(error = %e, "cannot reload revocations");
                        }
                        keys_changed = true;
                        policies_changed = true;
                    }
                    if keys_changed {
                        self.reload_keys_or_warn().await;
                    }
                    if policies_changed {
                        self.reload_policies_or_warn().await;
                    }
                    last_read = now;
                    self.feed_health.record_read(now);
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the change feed"),
            }
            // A retiring key leaves the JWKS (and stops verifying) once its time has come.
            if self
                .with_keys(|k| k.next_retirement)
                .is_some_and(|t| t <= now_ms())
            {
                self.reload_keys_or_warn().await;
            }
            if ticks.is_multiple_of(8)
                && let Err(e) = self.flush_usage().await
            {
                tracing::warn!(error = %e, "cannot record last-used times and sessions");
            }
            // Maintenance at start, then every ten minutes.
            if ticks % 2400 == 1 {
                let now = now_ms();
                // A token is accepted until `exp` + leeway, so its revocation is kept as long.
                let leeway_ms = token::LEEWAY_SECS * 1000;
                if let Err(e) =
                    changes::prune(self.store.pool(), now - 3_600_000, now - leeway_ms).await
                {
                    tracing::warn!(error = %e, "cannot prune the change feed");
                }
                if let Err(e) = crate::store::sessions::prune(self.store.pool(), now).await {
                    tracing::warn!(error = %e, "cannot prune expired sessions");
                }
                if let Err(e) =
                    crate::store::client_keys::prune_assertions(self.store.pool(), now).await
                {
                    tracing::warn!(error = %e, "cannot prune used client assertions");
                }
                // Console sign-ins that expired or idled out, even if never used again.
                if let Err(e) = crate::store::users::purge_sessions(
                    self.store.pool(),
                    now,
                    now - crate::domain::CONSOLE_SESSION_IDLE_MS,
                )
                .await
                {
                    tracing::warn!(error = %e, "cannot purge expired console sessions");
                }
                if let Err(e) = self.load_revocations().await {
                    tracing::warn!(error = %e, "cannot reload revocations");
                }
                self.reload_keys_or_warn().await;
                self.reload_policies_or_warn().await;
            }
        }
    }

    async fn reload_policies_or_warn(&self) {
        if let Err(e) = self.reload_policies().await {
            tracing::warn!(error = %e, "cannot reload the account policies");
        }
    }

    async fn reload_keys_or_warn(&self) {
        if let Err(e) = self.reload_keys().await {
            tracing::warn!(error = %e, "cannot reload the signing keys");
        }
    }

    /// Loads the live revocations and returns the feed position they are current to.
    pub(crate) async fn load_revocations(&self) -> Result<i64, StoreError> {
        let seq = changes::last_seq(self.store.pool()).await?;
        let list = changes::revoked_tokens(self.store.pool(), now_ms() - token::LEEWAY_SECS * 1000)
            .await?;
        self.cache.set_revoked(list);
        Ok(seq)
    }

    /// Writes pending last-used times and sessions now (every two seconds, at shutdown,
    /// before listing sessions, and in tests).
    pub async fn flush_usage(&self) -> Result<(), StoreError> {
        let _one = self.flushing.lock().await;
        self.usage.flush(&self.store).await?;
        self.sessions.flush(&self.store).await
    }
}

/// How far back the change feed is read again on each poll (see [`changes::since`]).
pub const FEED_LOOKBACK_MS: i64 = 5_000;

/// The signing keys in use, with what is derived from them once.
struct ActiveKeys {
    signer: TokenSigner,
    verifier: TokenVerifier,
    jwks_json: Arc<str>,
    published: Vec<keys::PublishedKey>,
    /// When the next published key leaves the JWKS (epoch ms).
    next_retirement: Option<i64>,
}

impl ActiveKeys {
    fn new(set: keys::KeySet, issuer: &str) -> Self {
        Self {
            verifier: TokenVerifier::new(&set.public_jwks, issuer),
            jwks_json: serde_json::json!({ "keys": set.public_jwks })
                .to_string()
                .into(),
            next_retirement: set.next_retirement(),
            published: set.published,
            signer: TokenSigner::new(set.signing),
        }
    }
}

/// The token generation a `jti` was minted under (see [`OAuth::issue`]).
fn generation_of(jti: &str) -> Option<i64> {
    jti.split_once('.')?.0.parse().ok()
}

/// PostgreSQL: wake the feed follower as soon as another instance commits a change.
async fn listen_for_changes(oauth: Arc<OAuth>) {
    loop {
        let listener = async {
            let mut l = sqlx::postgres::PgListener::connect(oauth.store.url()).await?;
            l.listen(changes::CHANNEL).await?;
            loop {
                l.recv().await?;
                oauth.wake.notify_one();
            }
        };
        let result: Result<(), sqlx::Error> = listener.await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "change listener lost its connection; polling meanwhile");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_json_is_what_serde_writes() {
        for (scope, client_id) in [
            ("tokens:introspect", "kgc_abc"),
            ("", "kgc_x"),
            (r#"odd"scope\ é"#, "kgc_\u{1}"),
        ] {
            let t = IssuedToken {
                access_token: "eyJh.eyJp-_.sig_-".into(),
                token_type: "Bearer",
                expires_in: 3599,
                scope: scope.into(),
                client_id: client_id.into(),
                authorization_details: Vec::new(),
            };
            assert_eq!(t.to_json(), serde_json::to_vec(&t).unwrap());
            let with = IssuedToken {
                authorization_details: vec![NodeDetail::new("acme/shop", vec!["p:read".into()])],
                ..t
            };
            assert_eq!(with.to_json(), serde_json::to_vec(&with).unwrap());
        }
    }
}
