//! Workload identity federation at the token endpoint: a client assertion whose `iss` is a
//! trusted issuer (GitHub Actions, GitLab CI, a Kubernetes cluster, SPIFFE) stands in for
//! an account's credentials when it verifies with that issuer's keys and meets one of the
//! account's federated credentials.
//!
//! Everything the check needs is in memory: the trusted issuers (reloaded after the change
//! feed says they changed) and each issuer's keys. Keys are fetched on first need, then
//! kept, refreshed in the background when their `Cache-Control` lifetime is over, and kept
//! when the issuer cannot be reached. The one fetch on the token path is for a `kid` not
//! seen yet (key rotation), at most once per issuer per 10 s; a known `kid` never waits
//! for the network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::domain::federation::TrustedIssuer;
use crate::domain::now_ms;
use crate::store::{Store, StoreError, federation};

/// At most one fetch per issuer this often for an unknown `kid` (or after a failure).
pub const REFETCH_AFTER_MS: i64 = 10_000;

/// The largest discovery document or JWKS read (bytes).
const MAX_BODY: usize = 256 * 1024;

/// How long one fetch may take in all.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Keys are kept fresh this long when the issuer says nothing (or asks for less than the
/// minimum), and at most the maximum.
const DEFAULT_FRESH_MS: i64 = 15 * 60 * 1000;
const MIN_FRESH_MS: i64 = 60 * 1000;
const MAX_FRESH_MS: i64 = 24 * 3600 * 1000;

/// One verification key of an issuer.
struct IssuerKey {
    kid: Option<String>,
    algs: Vec<Algorithm>,
    key: DecodingKey,
}

#[derive(Default)]
struct KeySet {
    keys: Vec<Arc<IssuerKey>>,
    /// Whether keys were ever fetched.
    loaded: bool,
    /// Until when they need no refresh (epoch ms).
    fresh_until: i64,
    /// The last fetch attempt (epoch ms), successful or not.
    last_attempt: i64,
}

/// A platform token this issuer's key verified: CI jobs and pods present the same token
/// for its whole life, so its signature is checked once. A hit is taken only while the key
/// that verified it is still one of the issuer's keys, and the time claims are checked again.
struct Verified {
    key: Arc<IssuerKey>,
    claims: Arc<Value>,
    /// `exp` (epoch seconds).
    exp: i64,
    /// `nbf`, if any.
    nbf: Option<i64>,
    /// `iat`, if any.
    iat: Option<i64>,
}

/// Verified tokens kept per issuer before the map starts over.
const MAX_VERIFIED: usize = 4096;

/// A trusted issuer with its keys.
pub struct Issuer {
    /// Its settings.
    pub row: TrustedIssuer,
    keys: RwLock<KeySet>,
    /// Tokens verified with its keys, by their text (settings are fixed for the life of an
    /// `Issuer`: a change of settings makes a new one, with an empty map).
    verified: std::sync::Mutex<HashMap<String, Verified>>,
    /// One fetch at a time per issuer.
    fetching: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
}

impl Issuer {
    fn new(row: TrustedIssuer) -> Self {
        Self {
            row,
            keys: RwLock::default(),
            verified: std::sync::Mutex::default(),
            fetching: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, KeySet> {
        self.keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<String, Verified>> {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The claims of `jwt` if one of `candidates` verified it before and its time claims
    /// still hold at `now_s` (epoch seconds).
    fn verified_before(
        &self,
        jwt: &str,
        candidates: &[Arc<IssuerKey>],
        now_s: i64,
        leeway_secs: i64,
    ) -> Option<Arc<Value>> {
        let map = self.verified();
        let hit = map.get(jwt)?;
        let live = candidates.iter().any(|k| Arc::ptr_eq(k, &hit.key))
            && now_s <= hit.exp + leeway_secs
            && hit.nbf.is_none_or(|t| t <= now_s + leeway_secs)
            && hit.iat.is_none_or(|t| t <= now_s + leeway_secs);
        live.then(|| hit.claims.clone())
    }

    fn remember_verified(&self, jwt: &str, key: Arc<IssuerKey>, claims: Arc<Value>) {
        let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
            return;
        };
        let entry = Verified {
            key,
            exp,
            nbf: claims.get("nbf").and_then(Value::as_i64),
            iat: claims.get("iat").and_then(Value::as_i64),
            claims,
        };
        let mut map = self.verified();
        if map.len() >= MAX_VERIFIED {
            let now_s = now_ms() / 1000;
            map.retain(|_, v| v.exp >= now_s);
            if map.len() >= MAX_VERIFIED {
                map.clear();
            }
        }
        map.insert(jwt.to_owned(), entry);
    }

    /// Keys that may have signed a token with this `kid` and `alg`.
    fn candidates(&self, kid: Option<&str>, alg: Algorithm) -> Vec<Arc<IssuerKey>> {
        self.read()
            .keys
            .iter()
            .filter(|k| {
                kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)) && k.algs.contains(&alg)
            })
            .cloned()
            .collect()
    }
}

/// The trusted issuers by issuer URL, with the epoch they were loaded at.
type Loaded = (u64, Arc<HashMap<String, Arc<Issuer>>>);

/// The trusted issuers, by issuer URL, with an epoch: a change bumps `wanted`, and the next
/// lookup reloads them from the database.
pub struct Federation {
    issuers: RwLock<Loaded>,
    wanted: AtomicU64,
    reloading: tokio::sync::Mutex<()>,
    http: reqwest::Client,
}

impl Default for Federation {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            // Only the configured URLs: a redirect could lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default();
        Self {
            // Epoch 0 loaded nothing yet; `wanted` starts at 1 so the first use loads.
            issuers: RwLock::new((0, Arc::default())),
            wanted: AtomicU64::new(1),
            reloading: tokio::sync::Mutex::new(()),
            http,
        }
    }
}

/// Whether a JWS algorithm is asymmetric (never `none` or an HMAC).
fn asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

impl Federation {
    /// The trusted issuers changed: reload them before the next use.
    pub fn invalidate(&self) {
        self.wanted.fetch_add(1, Ordering::AcqRel);
    }

    /// The trusted issuer whose URL is `iss`, if any.
    pub async fn issuer(
        &self,
        store: &Store,
        iss: &str,
    ) -> Result<Option<Arc<Issuer>>, StoreError> {
        let wanted = self.wanted.load(Ordering::Acquire);
        {
            let (epoch, map) = &*self.read();
            if *epoch >= wanted {
                return Ok(map.get(iss).cloned());
            }
        }
        let _one = self.reloading.lock().await;
        let wanted = self.wanted.load(Ordering::Acquire);
        if self.read().0 < wanted {
            let rows = federation::issuers(store.pool()).await?;
            let old = self.read().1.clone();
            let map: HashMap<String, Arc<Issuer>> = rows
                .into_iter()
                .map(|row| {
                    // An issuer whose settings did not change keeps its keys.
                    let kept = old.get(&row.issuer).filter(|i| i.row == row).cloned();
                    (
                        row.issuer.clone(),
                        kept.unwrap_or_else(|| Arc::new(Issuer::new(row))),
                    )
                })
                .collect();
            *self
                .issuers
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = (wanted, Arc::new(map));
        }
        Ok(self.read().1.get(iss).cloned())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.issuers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Verifies `jwt` (whose header says `kid` and `alg`) with `issuer`'s keys: its
    /// signature, `iss`, that `aud` contains `audience`, `exp` (required, in the future),
    /// `nbf` and `iat`. Answers its claims, or `None`. A token verified before by a key the
    /// issuer still has is not verified again; only its time claims are checked.
    pub async fn verify(
        self: &Arc<Self>,
        issuer: &Arc<Issuer>,
        jwt: &str,
        kid: Option<&str>,
        alg: Algorithm,
        audience: &str,
        leeway_secs: i64,
    ) -> Option<Arc<Value>> {
        if !asymmetric(alg) {
            return None;
        }
        let now = now_ms();
        let (loaded, stale, last_attempt) = {
            let k = issuer.read();
            (k.loaded, now >= k.fresh_until, k.last_attempt)
        };
        let mut candidates = issuer.candidates(kid, alg);
        if candidates.is_empty() {
            // First need, or a kid not seen yet (the issuer rotated): one fetch, judged on
            // its result; at most one per issuer per 10 s.
            if now - last_attempt < REFETCH_AFTER_MS {
                return None;
            }
            self.fetch(issuer, true).await;
            candidates = issuer.candidates(kid, alg);
        } else if loaded && stale {
            // Known kid: answer from the cache now, refresh in the background.
            self.refresh_in_background(issuer);
        }
        let now_s = now / 1000;
        if let Some(claims) = issuer.verified_before(jwt, &candidates, now_s, leeway_secs) {
            return Some(claims);
        }
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[issuer.row.issuer.as_str()]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = leeway_secs.unsigned_abs();
        let (key, claims) = candidates.iter().find_map(|k| {
            jsonwebtoken::decode::<Value>(jwt, &k.key, &validation)
                .ok()
                .map(|d| (k.clone(), d.claims))
        })?;
        if claims
            .get("iat")
            .is_some_and(|iat| iat.as_i64().is_none_or(|t| t > now_s + leeway_secs))
        {
            return None;
        }
        let claims = Arc::new(claims);
        issuer.remember_verified(jwt, key, claims.clone());
        Some(claims)
    }

    fn refresh_in_background(self: &Arc<Self>, issuer: &Arc<Issuer>) {
        if issuer.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (this, issuer) = (self.clone(), issuer.clone());
        tokio::spawn(async move {
            this.fetch(&issuer, false).await;
            issuer.refreshing.store(false, Ordering::Release);
        });
    }

    /// Fetches `issuer`'s keys (its discovery document first when no `jwks_uri` is set),
    /// keeping the cached ones on any failure. With `throttled`, skips the fetch when one
    /// was attempted in the last 10 s (another request may just have done it).
    async fn fetch(&self, issuer: &Issuer, throttled: bool) {
        let _one = issuer.fetching.lock().await;
        let now = now_ms();
        if throttled && now - issuer.read().last_attempt < REFETCH_AFTER_MS {
            return;
        }
        issuer.write().last_attempt = now;
        match self.fetch_keys(&issuer.row).await {
            Ok((keys, fresh_ms)) => {
                let mut k = issuer.write();
                k.keys = keys;
                k.loaded = true;
                k.fresh_until = now_ms() + fresh_ms;
            }
            Err(e) => {
                tracing::warn!(issuer = %issuer.row.issuer, error = %e,
                    "cannot fetch a trusted issuer's keys; keeping the cached ones");
            }
        }
    }

    async fn fetch_keys(&self, row: &TrustedIssuer) -> Result<(Vec<Arc<IssuerKey>>, i64), String> {
        let jwks_uri = match &row.jwks_uri {
            Some(u) => u.clone(),
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    row.issuer.trim_end_matches('/')
                );
                let (doc, _) = self.get_json(&url).await?;
                let uri = doc
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or("the discovery document has no jwks_uri")?;
                crate::domain::federation::parse_url("jwks_uri", uri).map_err(|e| e.to_string())?
            }
        };
        let (jwks, fresh_ms) = self.get_json(&jwks_uri).await?;
        let keys = parse_jwks(&jwks);
        if keys.is_empty() {
            return Err("the JWKS holds no usable asymmetric key".into());
        }
        Ok((keys, fresh_ms))
    }

    /// GETs a JSON document: no redirects, a time limit, at most [`MAX_BODY`] bytes; with
    /// how long it stays fresh by its `Cache-Control`.
    async fn get_json(&self, url: &str) -> Result<(Value, i64), String> {
        let mut res = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("{url}: status {}", res.status()));
        }
        let fresh_ms = res
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map_or(DEFAULT_FRESH_MS, fresh_for);
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("{url}: larger than {MAX_BODY} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let doc = serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))?;
        Ok((doc, fresh_ms))
    }
}

/// How long a response stays fresh by its `Cache-Control` (`max-age`, bounded; `no-store`
/// and `no-cache` give the minimum).
fn fresh_for(cache_control: &str) -> i64 {
    let mut fresh = DEFAULT_FRESH_MS;
    for part in cache_control.split(',').map(str::trim) {
        let lower = part.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return MIN_FRESH_MS;
        }
        if let Some(secs) = lower.strip_prefix("max-age=")
            && let Ok(secs) = secs.trim_matches('"').parse::<i64>()
        {
            fresh = secs.saturating_mul(1000);
        }
    }
    fresh.clamp(MIN_FRESH_MS, MAX_FRESH_MS)
}

/// The usable keys of a JWK Set: RSA, EC (P-256, P-384) and Ed25519 public keys, each
/// with the algorithms it may verify (its `alg` if it names one). Symmetric keys and
/// anything unparsable are skipped.
fn parse_jwks(jwks: &Value) -> Vec<Arc<IssuerKey>> {
    let Some(list) = jwks.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|v| {
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(v.clone()).ok()?;
            let by_type: Vec<Algorithm> = match v.get("kty").and_then(Value::as_str)? {
                "RSA" => vec![
                    Algorithm::RS256,
                    Algorithm::RS384,
                    Algorithm::RS512,
                    Algorithm::PS256,
                    Algorithm::PS384,
                    Algorithm::PS512,
                ],
                "EC" => match v.get("crv").and_then(Value::as_str)? {
                    "P-256" => vec![Algorithm::ES256],
                    "P-384" => vec![Algorithm::ES384],
                    _ => return None,
                },
                "OKP" if v.get("crv").and_then(Value::as_str) == Some("Ed25519") => {
                    vec![Algorithm::EdDSA]
                }
                _ => return None,
            };
            let algs = match v.get("alg").and_then(Value::as_str) {
                Some(named) => {
                    let a: Algorithm = named.parse().ok()?;
                    if !by_type.contains(&a) {
                        return None;
                    }
                    vec![a]
                }
                None => by_type,
            };
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some(Arc::new(IssuerKey {
                kid: v.get("kid").and_then(Value::as_str).map(str::to_owned),
                algs,
                key,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issuer() -> Issuer {
        Issuer::new(TrustedIssuer {
            id: "ti".into(),
            name: "ci".into(),
            issuer: "https://ci.example".into(),
            jwks_uri: None,
            audience: None,
            created_at: 0,
            updated_at: 0,
        })
    }

    fn key() -> Arc<IssuerKey> {
        Arc::new(IssuerKey {
            kid: Some("k1".into()),
            algs: vec![Algorithm::ES256],
            key: DecodingKey::from_secret(b"unused"),
        })
    }

    #[test]
    fn a_verified_token_is_reused_only_with_its_key_and_within_its_times() {
        let (issuer, k1, k2) = (issuer(), key(), key());
        let claims = Arc::new(json!({"exp": 1_000, "nbf": 500, "iat": 500, "sub": "x"}));
        issuer.remember_verified("jwt-a", k1.clone(), claims.clone());
        let hit = issuer.verified_before("jwt-a", std::slice::from_ref(&k1), 900, 0);
        assert_eq!(hit.as_deref(), Some(&*claims));
        // Another token, another key (the verifying key left the JWKS), after exp, before nbf.
        assert!(
            issuer
                .verified_before("jwt-b", std::slice::from_ref(&k1), 900, 0)
                .is_none()
        );
        assert!(issuer.verified_before("jwt-a", &[k2], 900, 0).is_none());
        assert!(
            issuer
                .verified_before("jwt-a", std::slice::from_ref(&k1), 1_001, 0)
                .is_none()
        );
        assert!(
            issuer
                .verified_before("jwt-a", std::slice::from_ref(&k1), 1_030, 30)
                .is_some()
        );
        assert!(
            issuer
                .verified_before("jwt-a", std::slice::from_ref(&k1), 400, 0)
                .is_none()
        );
        // A token without a whole-second exp is never kept.
        issuer.remember_verified("jwt-c", k1.clone(), Arc::new(json!({"exp": 1.5})));
        assert!(issuer.verified_before("jwt-c", &[k1], 1, 0).is_none());
    }

    #[test]
    fn cache_control_sets_the_freshness_within_bounds() {
        assert_eq!(fresh_for("public, max-age=3600"), 3_600_000);
        assert_eq!(fresh_for("max-age=1"), MIN_FRESH_MS);
        assert_eq!(fresh_for("max-age=999999999"), MAX_FRESH_MS);
        assert_eq!(fresh_for("no-store"), MIN_FRESH_MS);
        assert_eq!(fresh_for("private"), DEFAULT_FRESH_MS);
    }

    #[test]
    fn symmetric_and_unknown_keys_are_skipped() {
        let jwks = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "h"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "p521"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]});
        let keys = parse_jwks(&jwks);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("ed"));
        assert_eq!(keys[0].algs, vec![Algorithm::EdDSA]);
        assert!(!asymmetric(Algorithm::HS256));
    }
}
