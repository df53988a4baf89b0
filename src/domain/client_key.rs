//! Public keys that service accounts authenticate with (`private_key_jwt`, RFC 7523 and
//! RFC 10070): parsed from a JWK Set or a PEM SubjectPublicKeyInfo, checked (RSA of 2048
//! bits or more, P-256, Ed25519; never a private key), and named by their RFC 7638
//! thumbprint unless the JWK names itself.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::ValidationError;

/// `token_endpoint_auth_method` of an account that authenticates with a client secret.
pub const CLIENT_SECRET: &str = "client_secret_basic";
/// `token_endpoint_auth_method` of an account that signs assertions with its keys.
pub const PRIVATE_KEY_JWT: &str = "private_key_jwt";

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// A checked public key: the JWK of its public members only, its id and the JWS
/// algorithms an assertion signed with it may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey {
    /// Key id: the JWK's `kid`, or its RFC 7638 thumbprint.
    pub kid: String,
    /// Algorithms allowed: `RS256`/`PS256` (both, unless the JWK names one), `ES256`, `EdDSA`.
    pub algs: Vec<String>,
    /// The public JWK (`kty`, its public members, `kid`, `alg` when only one is allowed).
    pub jwk: Value,
}

impl ClientKey {
    /// The algorithms as stored (space-separated).
    pub fn algs_text(&self) -> String {
        self.algs.join(" ")
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ValidationError {
    ValidationError::new(field, message)
}

fn b64(field: &'static str, jwk: &Value, member: &str) -> Result<Vec<u8>, ValidationError> {
    let s = jwk
        .get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(field, format!("the key has no \"{member}\" member")))?;
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| invalid(field, format!("the key's \"{member}\" is not base64url")))
}

/// Members that only a private JWK has.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Checks one JWK and keeps only its public part.
pub fn from_jwk(field: &'static str, jwk: &Value) -> Result<ClientKey, ValidationError> {
    if !jwk.is_object() {
        return Err(invalid(field, "each key must be a JSON object (a JWK)"));
    }
    if PRIVATE_MEMBERS.iter().any(|m| jwk.get(m).is_some()) {
        return Err(invalid(
            field,
            "this is a private key: give only the public key (keygate never needs the \
             private one)",
        ));
    }
    let named_alg = jwk.get("alg").and_then(Value::as_str);
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or_default();
    let (public, allowed): (Value, Vec<&str>) = match kty {
        "RSA" => {
            let n = b64(field, jwk, "n")?;
            let e = b64(field, jwk, "e")?;
            let bits = significant_bits(&n);
            if bits < MIN_RSA_BITS {
                return Err(invalid(
                    field,
                    format!("the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"),
                ));
            }
            if e.is_empty() || significant_bits(&e) > 32 {
                return Err(invalid(field, "the RSA key's exponent is not usable"));
            }
            let (n, e) = (strip_zeros(&n), strip_zeros(&e));
            (
                json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e)}),
                vec!["RS256", "PS256"],
            )
        }
        "EC" => {
            let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or_default();
            if crv != "P-256" {
                return Err(invalid(
                    field,
                    format!("the curve {crv:?} is not accepted: use P-256 (ES256)"),
                ));
            }
            let x = b64(field, jwk, "x")?;
            let y = b64(field, jwk, "y")?;
            if x.len() != 32 || y.len() != 32 {
                return Err(invalid(
                    field,
                    "a P-256 key has 32-byte x and y coordinates",
                ));
            }
            (
                json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)}),
                vec!["ES256"],
            )
        }
        "OKP" => {
            let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or_default();
            if crv != "Ed25519" {
                return Err(invalid(
                    field,
                    format!("the curve {crv:?} is not accepted: use Ed25519 (EdDSA)"),
                ));
            }
            let x = b64(field, jwk, "x")?;
            if x.len() != 32 {
                return Err(invalid(field, "an Ed25519 key is 32 bytes"));
            }
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(x)}),
                vec!["EdDSA"],
            )
        }
        "oct" => {
            return Err(invalid(
                field,
                "a symmetric (oct) key is a shared secret: give an RSA, P-256 or Ed25519 \
                 public key",
            ));
        }
        other => {
            return Err(invalid(
                field,
                format!(
                    "the key type {other:?} is not accepted: use RSA, EC (P-256) or OKP (Ed25519)"
                ),
            ));
        }
    };
    let algs: Vec<String> = match named_alg {
        Some(a) if allowed.contains(&a) => vec![a.to_owned()],
        Some(a) => {
            return Err(invalid(
                field,
                format!(
                    "the algorithm {a:?} does not fit this {kty} key (use {})",
                    allowed.join(" or ")
                ),
            ));
        }
        None => allowed.iter().map(|a| (*a).to_owned()).collect(),
    };
    let thumbprint = thumbprint(&public);
    let kid = match jwk.get("kid") {
        None => thumbprint,
        Some(Value::String(k)) if !k.trim().is_empty() && k.len() <= 200 => k.trim().to_owned(),
        Some(_) => {
            return Err(invalid(
                field,
                "the key's \"kid\" must be a non-empty string",
            ));
        }
    };
    let mut public = public;
    public["kid"] = kid.clone().into();
    if algs.len() == 1 {
        public["alg"] = algs[0].clone().into();
    }
    Ok(ClientKey {
        kid,
        algs,
        jwk: public,
    })
}

/// Every key of a JWK Set (`{"keys":[…]}`), at least one, with distinct `kid`s.
pub fn from_jwks(jwks: &Value) -> Result<Vec<ClientKey>, ValidationError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("jwks", "jwks must be a JWK Set: {\"keys\": [ … ]}"))?;
    if keys.is_empty() {
        return Err(invalid("jwks", "the JWK Set holds no key"));
    }
    let mut out: Vec<ClientKey> = Vec::new();
    for k in keys {
        let key = from_jwk("jwks", k)?;
        if out.iter().any(|o| o.kid == key.kid) {
            return Err(invalid(
                "jwks",
                format!("two keys have the kid {:?}", key.kid),
            ));
        }
        out.push(key);
    }
    Ok(out)
}

/// A PEM-encoded SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`).
pub fn from_pem(pem: &str) -> Result<ClientKey, ValidationError> {
    const FIELD: &str = "public_key";
    let text = pem.trim();
    if text.contains("PRIVATE KEY") {
        return Err(invalid(
            FIELD,
            "this is a private key: give only the public key (-----BEGIN PUBLIC KEY-----)",
        ));
    }
    let body = text
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|r| r.trim_end().strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or_else(|| {
            invalid(
                FIELD,
                "public_key must be PEM: -----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----",
            )
        })?;
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| invalid(FIELD, "the PEM body is not base64"))?;
    let jwk = spki_to_jwk(&der).ok_or_else(|| {
        invalid(
            FIELD,
            "the key is not an RSA, P-256 or Ed25519 SubjectPublicKeyInfo",
        )
    })??;
    from_jwk(FIELD, &jwk)
}

/// The JWK of a DER SubjectPublicKeyInfo; `None` if it is not one, an error if it is one of
/// an algorithm keygate does not accept.
fn spki_to_jwk(der: &[u8]) -> Option<Result<Value, ValidationError>> {
    use spki::der::Decode as _;
    const RSA: &str = "1.2.840.113549.1.1.1";
    const EC: &str = "1.2.840.10045.2.1";
    const P256: &str = "1.2.840.10045.3.1.7";
    const ED25519: &str = "1.3.101.112";
    let info = spki::SubjectPublicKeyInfoRef::from_der(der).ok()?;
    let bits = info.subject_public_key.as_bytes()?;
    let oid = info.algorithm.oid.to_string();
    let enc = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    Some(Ok(match oid.as_str() {
        RSA => {
            let key = pkcs1::RsaPublicKey::from_der(bits).ok()?;
            json!({"kty": "RSA", "n": enc(key.modulus.as_bytes()), "e": enc(key.public_exponent.as_bytes())})
        }
        EC => {
            let curve = info.algorithm.parameters_oid().ok().map(|o| o.to_string());
            if curve.as_deref() != Some(P256) {
                return Some(Err(invalid(
                    "public_key",
                    "the curve is not accepted: use P-256 (ES256)",
                )));
            }
            if bits.len() != 65 || bits[0] != 4 {
                return Some(Err(invalid(
                    "public_key",
                    "the P-256 point must be uncompressed",
                )));
            }
            json!({"kty": "EC", "crv": "P-256", "x": enc(&bits[1..33]), "y": enc(&bits[33..65])})
        }
        ED25519 => json!({"kty": "OKP", "crv": "Ed25519", "x": enc(bits)}),
        _ => {
            return Some(Err(invalid(
                "public_key",
                "the key's algorithm is not accepted: use RSA (2048 bits or more), P-256 or \
                 Ed25519",
            )));
        }
    }))
}

/// A new P-256 key pair for a client: its public key and the PKCS#8 PEM of the private
/// key, which only the caller ever sees.
pub fn generate_p256() -> Result<(ClientKey, String), &'static str> {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| "the random number generator failed")?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| "the generated key does not parse")?;
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    let key = from_jwk("generate_key", &jwk).map_err(|_| "the generated key is not valid")?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).map_err(|_| "base64 is ASCII")?);
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok((key, pem))
}

/// RFC 7638 thumbprint of a public JWK: SHA-256 over its required members in lexicographic
/// order, base64url.
pub fn thumbprint(jwk: &Value) -> String {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str).unwrap_or_default();
    let canonical = match s("kty") {
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e"), s("n")),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            s("crv"),
            s("x"),
            s("y")
        ),
        _ => format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}"}}"#,
            s("crv"),
            s("kty"),
            s("x")
        ),
    };
    URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[start..]
}

fn significant_bits(b: &[u8]) -> usize {
    let b = strip_zeros(b);
    match b.first() {
        None => 0,
        Some(first) => b.len() * 8 - first.leading_zeros() as usize,
    }
}

/// A client key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeyRow {
    /// Its account.
    pub account_id: String,
    /// Key id, unique per account.
    pub kid: String,
    /// Allowed JWS algorithms, space-separated.
    pub algs: String,
    /// The public JWK (JSON text).
    pub public_jwk: String,
    /// Added (epoch ms).
    pub created_at: i64,
    /// No longer accepted from (epoch ms).
    pub expires_at: Option<i64>,
    /// Last accepted assertion (epoch ms), written in batches.
    pub last_used_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec_jwk() -> Value {
        json!({"kty": "EC", "crv": "P-256",
               "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])})
    }

    #[test]
    fn an_ec_key_gets_its_thumbprint_as_kid_and_es256() {
        let k = from_jwk("jwks", &ec_jwk()).unwrap();
        assert_eq!(k.algs, vec!["ES256"]);
        assert_eq!(k.kid, thumbprint(&ec_jwk()));
        assert_eq!(k.jwk["kid"], k.kid.as_str());
    }

    #[test]
    fn rfc_7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = json!({"kty": "RSA", "e": "AQAB", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(
            thumbprint(&jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_keys_small_rsa_other_curves_and_secrets_are_refused() {
        let mut private = ec_jwk();
        private["d"] = "AAAA".into();
        let small_rsa =
            json!({"kty": "RSA", "e": "AQAB", "n": URL_SAFE_NO_PAD.encode([0xffu8; 128])});
        let p384 = json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"});
        let oct = json!({"kty": "oct", "k": "c2VjcmV0"});
        for bad in [
            private,
            small_rsa,
            p384,
            oct,
            json!("x"),
            json!({"kty": "RSA"}),
        ] {
            assert!(from_jwk("jwks", &bad).is_err(), "{bad}");
        }
        assert!(from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err());
        assert!(from_pem("garbage").is_err());
    }

    #[test]
    fn a_named_alg_narrows_an_rsa_key_and_must_fit_it() {
        let n = URL_SAFE_NO_PAD.encode([0xffu8; 256]);
        let rsa = json!({"kty": "RSA", "e": "AQAB", "n": n, "alg": "PS256"});
        assert_eq!(from_jwk("jwks", &rsa).unwrap().algs, vec!["PS256"]);
        let wrong = json!({"kty": "RSA", "e": "AQAB", "n": n, "alg": "ES256"});
        assert!(from_jwk("jwks", &wrong).is_err());
        let both = json!({"kty": "RSA", "e": "AQAB", "n": n});
        assert_eq!(
            from_jwk("jwks", &both).unwrap().algs,
            vec!["RS256", "PS256"]
        );
    }
}
