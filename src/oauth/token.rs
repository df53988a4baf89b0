//! JWT access tokens per RFC 9068: minted by encoding the compact JWS directly with a
//! pre-serialised header (the hot path), verified with `jsonwebtoken` pinned to ES256, the
//! issuer and the audience.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use super::es256::Es256Key;
use super::keys::SigningKey;
use crate::domain::access::NodeDetail;

/// The claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer URL.
    pub iss: String,
    /// Service-account id.
    pub sub: String,
    /// Client ID the token was issued to.
    pub client_id: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Expires (seconds).
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// Space-separated permissions (at the root of the resource tree).
    pub scope: String,
    /// RFC 9396 entries: what the token allows at nodes below the root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<NodeDetail>,
}

#[derive(Serialize)]
struct ClaimsRef<'a> {
    iss: &'a str,
    sub: &'a str,
    client_id: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: &'a str,
    scope: &'a str,
    #[serde(skip_serializing_if = "<[NodeDetail]>::is_empty")]
    authorization_details: &'a [NodeDetail],
}

/// Clock skew allowed between instances sharing a database, in seconds.
pub const LEEWAY_SECS: i64 = 5;

/// Signs access tokens with the current key.
pub struct TokenSigner {
    key: Es256Key,
    /// `base64url(header) + "."`, computed once.
    header_prefix: String,
}

impl TokenSigner {
    /// A signer that owns the signing key.
    pub fn new(key: SigningKey) -> Self {
        let header = serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid});
        Self {
            key: key.key,
            header_prefix: format!("{}.", URL_SAFE_NO_PAD.encode(header.to_string())),
        }
    }

    /// The compact JWS of `claims`.
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per claim reads best here"
    )]
    pub fn sign(
        &self,
        iss: &str,
        sub: &str,
        client_id: &str,
        aud: &str,
        iat: i64,
        exp: i64,
        jti: &str,
        scope: &str,
        authorization_details: &[NodeDetail],
    ) -> String {
        let claims = ClaimsRef {
            iss,
            sub,
            client_id,
            aud,
            iat,
            nbf: iat,
            exp,
            jti,
            scope,
            authorization_details,
        };
        let payload = serde_json::to_vec(&claims).expect("claims serialise to JSON");
        let mut out = String::with_capacity(self.header_prefix.len() + payload.len() * 2 + 90);
        out.push_str(&self.header_prefix);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let sig = self.key.sign(out.as_bytes());
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut out);
        out
    }
}

/// Why a token was not accepted. Clients only ever see `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed JWT of ours, bad signature, wrong issuer/audience/type.
    #[error("malformed or foreign token")]
    Invalid,
    /// Past `exp` or before `nbf`.
    #[error("expired token")]
    Expired,
    /// Revoked, or its account is disabled, deleted or has newer credentials.
    #[error("revoked token")]
    Revoked,
}

/// Verifies access tokens against the published keys.
pub struct TokenVerifier {
    keys: Vec<(String, DecodingKey)>,
    validation: Validation,
}

impl TokenVerifier {
    /// A verifier for the public keys `jwks`, pinned to ES256 and `issuer`. The audience is
    /// checked by the caller, against the APIs that exist now.
    pub fn new(jwks: &[serde_json::Value], issuer: &str) -> Self {
        let keys = jwks
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.get("kid")?.as_str()?.to_owned();
                let x = jwk.get("x")?.as_str()?;
                let y = jwk.get("y")?.as_str()?;
                Some((kid, DecodingKey::from_ec_components(x, y).ok()?))
            })
            .collect();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf", "iat"]);
        validation.validate_nbf = true;
        // Allow a few seconds of clock skew between instances sharing a database.
        validation.leeway = LEEWAY_SECS.unsigned_abs();
        Self { keys, validation }
    }

    /// The claims of `token` if its signature, type, issuer, audience and times are valid.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.typ.as_deref() != Some("at+jwt") || header.alg != Algorithm::ES256 {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| *k == kid)
            .ok_or(TokenError::Invalid)?;
        match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(e) => match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature
                | jsonwebtoken::errors::ErrorKind::ImmatureSignature => Err(TokenError::Expired),
                _ => Err(TokenError::Invalid),
            },
        }
    }
}
