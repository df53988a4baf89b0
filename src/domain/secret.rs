//! Client IDs, client secrets and how secrets are stored: 256-bit random values in URL-safe
//! text, kept only as a keyed SHA-256 hash (HMAC-SHA-256) and compared in constant time.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

/// Prefix of every client secret, so secret scanners can recognise a leaked one.
pub const SECRET_PREFIX: &str = "kgs_";
/// Prefix of every client ID.
pub const CLIENT_ID_PREFIX: &str = "kgc_";

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the OS random number generator is available");
    buf
}

/// `N` random bytes for identifiers that must be unique and unpredictable but protect nothing
/// (token ids): taken from a per-thread buffer of OS randomness refilled 1 KiB at a time,
/// which spares the token endpoint a system call per token. Never use it for secrets.
pub fn random_id_bytes<const N: usize>() -> [u8; N] {
    use std::cell::RefCell;
    const BUF: usize = 1024;
    thread_local! {
        static POOL: RefCell<(usize, [u8; BUF])> = const { RefCell::new((BUF, [0; BUF])) };
    }
    assert!(N <= BUF, "at most {BUF} bytes at a time");
    POOL.with_borrow_mut(|(used, buf)| {
        if *used + N > BUF {
            SystemRandom::new()
                .fill(buf)
                .expect("the OS random number generator is available");
            *used = 0;
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&buf[*used..*used + N]);
        // Handed out once: overwrite what was taken.
        buf[*used..*used + N].fill(0);
        *used += N;
        out
    })
}

/// URL-safe, unpadded base64 of `n` random bytes.
pub fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// A public client identifier (RFC 6749 §2.2): `kgc_` and 128 random bits, URL-safe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// A new random client ID.
    pub fn generate() -> Self {
        Self(format!("{CLIENT_ID_PREFIX}{}", random_token::<16>()))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `s` has the shape of an ID keygate issues (`kgc_` and 22 base64url
    /// characters). Anything else cannot name a client, so no lookup is needed.
    pub fn is_well_formed(s: &str) -> bool {
        s.strip_prefix(CLIENT_ID_PREFIX).is_some_and(|rest| {
            rest.len() == 22
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client secret in plain text. It exists only between generation and the one response
/// that shows it; its `Debug` never prints it.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// A new secret: `kgs_` and 256 random bits.
    pub fn generate() -> Self {
        Self(format!("{SECRET_PREFIX}{}", random_token::<32>()))
    }

    /// The plain text, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([REDACTED])")
    }
}

/// Hashes secrets with a key derived from the master key, so a copy of the database alone
/// does not even allow an offline check of a guessed secret.
#[derive(Clone)]
pub struct SecretHasher {
    key: hmac::Key,
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher")
    }
}

impl SecretHasher {
    /// A hasher keyed with `key` (32 bytes derived from the master key).
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The stored form of a secret: URL-safe base64 of HMAC-SHA-256.
    pub fn hash(&self, secret: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, secret.as_bytes()).as_ref())
    }

    /// Whether `secret` hashes to `stored`, compared in constant time.
    pub fn verify(&self, secret: &str, stored: &str) -> bool {
        let tag = hmac::sign(&self.key, secret.as_bytes());
        // Room for the decoder's estimate of 43 characters (33 bytes); a longer value fails.
        let mut buf = [0u8; 48];
        match URL_SAFE_NO_PAD.decode_slice(stored, &mut buf) {
            Ok(n) => tag.as_ref().ct_eq(&buf[..n]).into(),
            Err(_) => false,
        }
    }
}

/// Plain SHA-256 in URL-safe base64, for values that are already random and high-entropy
/// (console session IDs), where the hash only keeps a database reader from using them.
pub fn sha256_b64(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, value.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_client_ids_are_well_formed_and_others_are_not() {
        for _ in 0..100 {
            assert!(ClientId::is_well_formed(ClientId::generate().as_str()));
        }
        for bad in [
            "",
            "kgc_",
            "bench-basic",
            "kgc_abc",
            "kgc_AAAAAAAAAAAAAAAAAAAAA=",
            "xgc_AAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(!ClientId::is_well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn random_ids_do_not_repeat_across_refills() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(random_id_bytes::<16>()));
        }
        assert_ne!(random_id_bytes::<16>(), [0; 16]);
    }

    #[test]
    fn secrets_are_url_safe_and_carry_256_bits() {
        let s = ClientSecret::generate();
        let body = s.expose().strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
        assert!(
            s.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn two_secrets_differ() {
        assert_ne!(
            ClientSecret::generate().expose(),
            ClientSecret::generate().expose()
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = ClientSecret::generate();
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn verify_accepts_the_secret_and_nothing_else() {
        let h = SecretHasher::new(&[7; 32]);
        let stored = h.hash("kgs_right");
        assert!(h.verify("kgs_right", &stored));
        assert!(!h.verify("kgs_wrong", &stored));
        assert!(!h.verify("kgs_right", "not base64!"));
        assert!(!SecretHasher::new(&[8; 32]).verify("kgs_right", &stored));
    }
}
