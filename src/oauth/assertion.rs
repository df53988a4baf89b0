//! Client authentication with a signed assertion (`private_key_jwt`, RFC 7523 §2.2 and
//! RFC 10070): the client signs a short JWT with one of its registered keys. Every failure
//! is the same `invalid_client` as a wrong secret.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::{OAuth, OAuthError, token};
use crate::domain::client_key::PRIVATE_KEY_JWT;
use crate::domain::now_ms;
use crate::domain::secret::ClientId;
use crate::store::accounts::AuthRecord;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `typ` of an RFC 10070 client-authentication assertion; its `aud` must be the issuer.
pub const CLIENT_AUTH_TYP: &str = "client-authentication+jwt";

/// The longest an assertion may live: its `exp` at most this far ahead (seconds).
pub const MAX_LIFETIME_SECS: i64 = 3600;

/// The signing algorithms a client key may use (never `none` or an HMAC).
pub const ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

fn alg_name(a: Algorithm) -> Option<&'static str> {
    match a {
        Algorithm::RS256 => Some("RS256"),
        Algorithm::PS256 => Some("PS256"),
        Algorithm::ES256 => Some("ES256"),
        Algorithm::EdDSA => Some("EdDSA"),
        _ => None,
    }
}

/// Verification keys parsed once from the public JWKs of client keys, by JWK text (the
/// same text always gives the same key, so an entry never goes stale; a deleted key simply
/// leaves the account's record). Bounded: starts over when full.
#[derive(Default)]
pub struct KeyVerifiers(RwLock<HashMap<String, Arc<DecodingKey>>>);

/// Parsed keys kept before the map starts over.
const MAX_VERIFIERS: usize = 100_000;

impl KeyVerifiers {
    fn get(&self, public_jwk: &str) -> Option<Arc<DecodingKey>> {
        if let Some(k) = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(public_jwk)
        {
            return Some(k.clone());
        }
        let jwk = serde_json::from_str::<jsonwebtoken::jwk::Jwk>(public_jwk).ok()?;
        let key = Arc::new(DecodingKey::from_jwk(&jwk).ok()?);
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_VERIFIERS {
            map.clear();
        }
        map.insert(public_jwk.to_owned(), key.clone());
        Some(key)
    }
}

/// The unverified claims of a compact JWS, to find out who claims to have signed it.
fn peek_claims(jwt: &str) -> Option<Value> {
    let mut parts = jwt.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Whether `aud` names exactly one of `accepted` as its sole value (a string or a
/// one-element array).
fn sole_audience(aud: Option<&Value>, accepted: &[&str]) -> bool {
    let one = match aud {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(a)) if a.len() == 1 => match &a[0] {
            Value::String(s) => s.as_str(),
            _ => return false,
        },
        _ => return false,
    };
    accepted.contains(&one)
}

impl OAuth {
    /// Authenticates a client by its assertion; `client_id` is the request's parameter, if
    /// sent, which must then name the same client.
    pub async fn authenticate_assertion(
        &self,
        client_id: Option<&str>,
        assertion: &str,
    ) -> Result<Arc<AuthRecord>, OAuthError> {
        let header =
            jsonwebtoken::decode_header(assertion).map_err(|_| OAuthError::InvalidClient)?;
        let peeked = peek_claims(assertion).ok_or(OAuthError::InvalidClient)?;
        let iss = peeked
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(OAuthError::InvalidClient)?;
        // A trusted external issuer's token (workload identity federation), else the
        // client's own assertion, whose `iss` is its client ID.
        if let Some(trusted) = self.federation.issuer(&self.store, iss).await? {
            return self
                .authenticate_federated(client_id, assertion, &header, &trusted)
                .await;
        }
        let alg = alg_name(header.alg).ok_or(OAuthError::InvalidClient)?;
        let rfc_10070 = match header.typ.as_deref() {
            None => false,
            Some(t) if t.eq_ignore_ascii_case("JWT") => false,
            Some(t) if t.eq_ignore_ascii_case(CLIENT_AUTH_TYP) => true,
            Some(_) => return Err(OAuthError::InvalidClient),
        };
        if client_id.is_some_and(|c| c != iss) || !ClientId::is_well_formed(iss) {
            return Err(OAuthError::InvalidClient);
        }
        let rec = self
            .cache
            .by_client_id(&self.store, iss)
            .await?
            .ok_or(OAuthError::InvalidClient)?;
        if rec.auth_method != PRIVATE_KEY_JWT || rec.client_id != iss || !rec.enabled {
            return Err(OAuthError::InvalidClient);
        }
        let now = now_ms();
        let candidates = rec.keys.iter().filter(|k| {
            header.kid.as_deref().is_none_or(|kid| kid == k.kid)
                && k.algs.split(' ').any(|a| a == alg)
                && k.expires_at.is_none_or(|t| now < t)
        });
        // Keys past the credential lifetime policy are no candidates (the same
        // `invalid_client` as any other failure).
        let policies = self.policies();
        let candidates = candidates.filter(|k| policies.credential_alive(k.created_at, now));
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[iss]);
        validation.sub = Some(iss.to_owned());
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = token::LEEWAY_SECS.unsigned_abs();
        let mut verified = None;
        for key in candidates {
            let Some(decoding) = self.key_verifiers.get(&key.public_jwk) else {
                continue;
            };
            if let Ok(data) = jsonwebtoken::decode::<Value>(assertion, &decoding, &validation) {
                verified = Some((key.kid.clone(), data.claims));
                break;
            }
        }
        let (kid, claims) = verified.ok_or(OAuthError::InvalidClient)?;
        let token_endpoint = format!("{}/oauth/token", self.issuer);
        let accepted: Vec<&str> = if rfc_10070 {
            vec![self.issuer.as_str()]
        } else {
            vec![self.issuer.as_str(), token_endpoint.as_str()]
        };
        if !sole_audience(claims.get("aud"), &accepted) {
            return Err(OAuthError::InvalidClient);
        }
        let now_s = now / 1000;
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(OAuthError::InvalidClient)?;
        if exp > now_s + MAX_LIFETIME_SECS + token::LEEWAY_SECS {
            return Err(OAuthError::InvalidClient);
        }
        if claims
            .get("iat")
            .is_some_and(|iat| iat.as_i64().is_none_or(|t| t > now_s + token::LEEWAY_SECS))
        {
            return Err(OAuthError::InvalidClient);
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty() && j.len() <= 512)
            .ok_or(OAuthError::InvalidClient)?;
        // The replay guard: the one write the token path makes, shared by every instance
        // (group-committed, see `oauth::replay`).
        let keep_until = (exp + token::LEEWAY_SECS).saturating_mul(1000);
        if !self.replay.first_use(iss, jti, keep_until, now).await? {
            return Err(OAuthError::InvalidClient);
        }
        self.usage.record_key(&rec.id, &kid, now);
        Ok(rec)
    }

    /// Authenticates the account named by `client_id` with a trusted issuer's token: it must
    /// verify with the issuer's keys (asymmetric algorithms only), carry the issuer's
    /// audience (default: keygate's issuer URL), be within `exp`/`nbf`/`iat`, and meet one
    /// of the account's federated credentials for that issuer. Platform tokens are reused by
    /// design, so no `jti` is recorded; their lifetime is the platform's.
    async fn authenticate_federated(
        &self,
        client_id: Option<&str>,
        assertion: &str,
        header: &jsonwebtoken::Header,
        trusted: &Arc<super::federation::Issuer>,
    ) -> Result<Arc<AuthRecord>, OAuthError> {
        let client_id = client_id
            .filter(|c| ClientId::is_well_formed(c))
            .ok_or(OAuthError::InvalidClient)?;
        let rec = self
            .cache
            .by_client_id(&self.store, client_id)
            .await?
            .ok_or(OAuthError::InvalidClient)?;
        let credentials: Vec<_> = rec
            .federated
            .iter()
            .filter(|c| c.trusted_issuer_id == trusted.row.id)
            .collect();
        if rec.client_id != client_id || !rec.enabled || credentials.is_empty() {
            return Err(OAuthError::InvalidClient);
        }
        let audience = trusted.row.audience.as_deref().unwrap_or(&self.issuer);
        let claims = self
            .federation
            .verify(
                trusted,
                assertion,
                header.kid.as_deref(),
                header.alg,
                audience,
                token::LEEWAY_SECS,
            )
            .await
            .ok_or(OAuthError::InvalidClient)?;
        if !credentials.iter().any(|c| c.accepts(&claims)) {
            return Err(OAuthError::InvalidClient);
        }
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_audience_must_be_a_sole_accepted_value() {
        let ok = ["https://k"];
        assert!(sole_audience(Some(&json!("https://k")), &ok));
        assert!(sole_audience(Some(&json!(["https://k"])), &ok));
        assert!(!sole_audience(Some(&json!(["https://k", "other"])), &ok));
        assert!(!sole_audience(Some(&json!("other")), &ok));
        assert!(!sole_audience(None, &ok));
    }

    #[test]
    fn peeking_needs_three_parts_of_json() {
        let p = URL_SAFE_NO_PAD.encode(br#"{"iss":"x"}"#);
        assert_eq!(peek_claims(&format!("a.{p}.c")).unwrap()["iss"], "x");
        assert!(peek_claims(&format!("a.{p}")).is_none());
        assert!(peek_claims(&format!("a.{p}.c.d")).is_none());
    }
}
