//! The master key and the token-signing keys it protects.
//!
//! The master key comes from `KEYGATE_MASTER_KEY`, or for SQLite from a 0600 file beside the
//! database made on first start. Two subkeys are derived from it (HMAC-SHA-256 with distinct
//! labels): one keys the client-secret hash, one encrypts signing keys with AES-256-GCM.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ring::aead::{self, AES_256_GCM, LessSafeKey, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};

use super::es256::Es256Key;
use crate::config::Config;
use crate::domain::now_ms;
use crate::domain::secret::{SecretHasher, random_bytes};
use crate::store::{Backend, Store, StoreError, keys};

/// Why keys could not be loaded; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The master key setting or file is missing or malformed.
    #[error("{0}")]
    MasterKey(String),
    /// A stored key could not be decrypted or parsed (wrong master key?).
    #[error("{0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// 32 secret bytes from which every other key is derived.
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

const HOW_TO_MAKE: &str = "generate one with: head -c 32 /dev/urandom | base64";

impl MasterKey {
    /// Loads the master key for `config`: the setting if given, else (SQLite only) the key
    /// file beside the database, created with mode 0600 if it does not exist.
    pub fn load(config: &Config) -> Result<Self, KeyError> {
        if let Some(s) = &config.master_key {
            return Self::parse(s.expose());
        }
        match Store::backend_of(&config.database_url)? {
            Backend::Postgres => Err(KeyError::MasterKey(format!(
                "KEYGATE_MASTER_KEY is required with PostgreSQL (every instance must share it); \
                 {HOW_TO_MAKE}"
            ))),
            Backend::Sqlite => match Store::sqlite_path(&config.database_url) {
                Some(db) => Self::from_file(&key_file_for(&db)),
                None => Ok(Self(random_bytes())),
            },
        }
    }

    /// Parses 32 bytes written as base64 (standard or URL-safe, padded or not) or hex.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        let bytes = if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .ok()
        } else {
            [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
                .iter()
                .find_map(|e| e.decode(s).ok())
        };
        bytes
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .map(Self)
            .ok_or_else(|| {
                KeyError::MasterKey(format!(
                    "the master key must be 32 bytes written as base64 or 64 hex digits; \
                     {HOW_TO_MAKE}"
                ))
            })
    }

    fn from_file(path: &Path) -> Result<Self, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(s) => {
                ensure_private(path)?;
                Self::parse(&s)
                    .map_err(|e| KeyError::MasterKey(format!("key file {}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self(random_bytes());
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let written = opts.open(path).and_then(|mut f| {
                    writeln!(f, "{}", STANDARD.encode(key.0))?;
                    f.sync_all()
                });
                match written {
                    Ok(()) => Ok(key),
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::from_file(path)
                    }
                    Err(e) => Err(KeyError::MasterKey(format!(
                        "cannot create key file {}: {e}",
                        path.display()
                    ))),
                }
            }
            Err(e) => Err(KeyError::MasterKey(format!(
                "cannot read key file {}: {e}",
                path.display()
            ))),
        }
    }

    fn derive(&self, label: &str) -> [u8; 32] {
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &self.0),
            label.as_bytes(),
        );
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// The hasher for client secrets.
    pub fn secret_hasher(&self) -> SecretHasher {
        SecretHasher::new(&self.derive("keygate client-secret hash v1"))
    }

    fn aead_key(&self) -> LessSafeKey {
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.derive("keygate key encryption v1"))
                .expect("a 32-byte key is valid for AES-256-GCM"),
        )
    }

    /// Encrypts `plain` with AES-256-GCM under a fresh random nonce: base64(nonce ‖ ciphertext).
    pub fn encrypt(&self, plain: &[u8], aad: &str) -> String {
        let nonce_bytes: [u8; 12] = random_bytes();
        let mut buf = plain.to_vec();
        self.aead_key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                aead::Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM sealing of a small buffer cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        STANDARD.encode(out)
    }

    /// Decrypts what [`encrypt`](Self::encrypt) made with the same `aad`.
    pub fn decrypt(&self, sealed: &str, aad: &str) -> Option<Vec<u8>> {
        let raw = STANDARD.decode(sealed).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ct.to_vec();
        let plain = self
            .aead_key()
            .open_in_place(nonce, aead::Aad::from(aad.as_bytes()), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// Refuses a key file that its group or other users may read or write: whoever reads it can
/// decrypt the signing key and check guessed client secrets.
fn ensure_private(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|e| {
                KeyError::MasterKey(format!("cannot read key file {}: {e}", path.display()))
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::MasterKey(format!(
                "key file {} is accessible to other users (mode {:o}); keygate will not use it. \
                 Fix it with: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    Ok(())
}

/// The key file used for a SQLite database at `db`: `<db>.key`.
pub fn key_file_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// A decrypted ES256 signing key.
pub struct SigningKey {
    /// Key id (`kid`): the RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// The private key.
    pub key: Es256Key,
}

/// A published key, as listed to operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    /// Key id.
    pub kid: String,
    /// Created (epoch ms).
    pub created_at: i64,
    /// When it leaves the JWKS (epoch ms); `None` for the key that signs.
    pub retires_at: Option<i64>,
}

/// The keys in use: one signs, all verify and are published.
pub struct KeySet {
    /// The key that signs new tokens: the oldest current key.
    pub signing: SigningKey,
    /// Public keys (JWK objects) of every published key.
    pub public_jwks: Vec<serde_json::Value>,
    /// Every published key, oldest first.
    pub published: Vec<PublishedKey>,
}

impl KeySet {
    /// The next moment a published key leaves the JWKS, if one is retiring.
    pub fn next_retirement(&self) -> Option<i64> {
        self.published.iter().filter_map(|k| k.retires_at).min()
    }
}

/// Loads the published signing keys, creating one on first start (or if none is current).
pub async fn load_or_create(store: &Store, master: &MasterKey) -> Result<KeySet, KeyError> {
    let mut rows = keys::published(store.pool(), now_ms()).await?;
    if !rows.iter().any(|r| r.retired_at.is_none()) {
        let row = new_key_row(master)?;
        keys::insert(store.pool(), &row).await?;
        // Another instance may have created one at the same moment: everyone signs with the
        // oldest current key, and every published key verifies, so either works.
        rows = keys::published(store.pool(), now_ms()).await?;
    }
    key_set(&rows, master)
}

/// Loads the published signing keys as they are now (after a rotation, or once a key
/// retired).
pub async fn load(store: &Store, master: &MasterKey) -> Result<KeySet, KeyError> {
    key_set(&keys::published(store.pool(), now_ms()).await?, master)
}

fn key_set(rows: &[keys::KeyRow], master: &MasterKey) -> Result<KeySet, KeyError> {
    let first = rows
        .iter()
        .find(|r| r.retired_at.is_none())
        .ok_or_else(|| KeyError::Corrupt("no current signing key in the database".into()))?;
    let pkcs8 = master
        .decrypt(&first.private_key_enc, &first.kid)
        .ok_or_else(|| {
            KeyError::Corrupt(
                "the token-signing key in the database cannot be decrypted: \
             is this the master key it was created with?"
                    .into(),
            )
        })?;
    let key = Es256Key::from_pkcs8(&pkcs8)
        .map_err(|_| KeyError::Corrupt("the stored signing key is not a P-256 key".into()))?;
    let public_jwks = rows
        .iter()
        .map(|r| {
            serde_json::from_str(&r.public_jwk)
                .map_err(|_| KeyError::Corrupt(format!("public key {} is not JSON", r.kid)))
        })
        .collect::<Result<_, _>>()?;
    Ok(KeySet {
        signing: SigningKey {
            kid: first.kid.clone(),
            key,
        },
        public_jwks,
        published: rows
            .iter()
            .map(|r| PublishedKey {
                kid: r.kid.clone(),
                created_at: r.created_at,
                retires_at: r.retired_at,
            })
            .collect(),
    })
}

/// A new ES256 key pair, its private key encrypted under `master`, ready to store.
pub fn new_key_row(master: &MasterKey) -> Result<keys::KeyRow, KeyError> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| KeyError::Corrupt("cannot generate a P-256 key".into()))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| KeyError::Corrupt("cannot parse the generated key".into()))?;
    let point = pair.public_key().as_ref();
    // Uncompressed SEC1 point: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..65]),
    );
    // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref());
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "sig", "alg": "ES256", "kid": kid,
    });
    Ok(keys::KeyRow {
        private_key_enc: master.encrypt(pkcs8.as_ref(), &kid),
        kid,
        alg: "ES256".into(),
        public_jwk: jwk.to_string(),
        created_at: now_ms(),
        retired_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_parses_base64_and_hex_and_rejects_short_keys() {
        let b64 = STANDARD.encode([1u8; 32]);
        assert!(MasterKey::parse(&b64).is_ok());
        assert!(MasterKey::parse(&"ab".repeat(32)).is_ok());
        assert!(MasterKey::parse("c2hvcnQ=").is_err());
        assert!(MasterKey::parse("").is_err());
    }

    #[test]
    fn encryption_round_trips_and_is_bound_to_its_label() {
        let k = MasterKey([3; 32]);
        let sealed = k.encrypt(b"private", "kid-1");
        assert_eq!(k.decrypt(&sealed, "kid-1").unwrap(), b"private");
        assert!(k.decrypt(&sealed, "kid-2").is_none());
        assert!(MasterKey([4; 32]).decrypt(&sealed, "kid-1").is_none());
    }
}
