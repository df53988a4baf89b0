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
/// Prefix of every personal access token.
pub const PERSONAL_TOKEN_PREFIX: &str = "kgp_";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random base62 characters (each drawn without bias from the OS CSPRNG).
pub fn random_base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes::<64>() {
            // 248 = 4 × 62: reject the rest so every character is equally likely.
            if b < 248 && out.len() < n {
                out.push(char::from(BASE62[usize::from(b % 62)]));
            }
        }
    }
    out
}

/// The CRC-32 (IEEE) of `s` as 6 base62 digits, most significant first, zero-padded (the
/// checksum of self-identifying credentials, in the manner of GitHub's tokens).
pub fn checksum(s: &str) -> String {
    let mut n = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(s.as_bytes());
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// A self-identifying credential: `prefix`, `random` base62 characters, and the checksum
/// of everything before it.
pub fn checksummed(prefix: &str, random: usize) -> String {
    let body = format!("{prefix}{}", random_base62(random));
    let sum = checksum(&body);
    body + &sum
}

/// Whether `s` is `prefix`, exactly `random` base62 characters and their valid checksum: a
/// credential that is not can be refused without any lookup.
pub fn is_checksummed(s: &str, prefix: &str, random: usize) -> bool {
    let Some(rest) = s.strip_prefix(prefix) else {
        return false;
    };
    rest.len() == random + 6
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        && checksum(&s[..prefix.len() + random]) == s[prefix.len() + random..]
}

/// Random base62 characters in a personal access token.
pub const PERSONAL_TOKEN_RANDOM: usize = 30;
/// Random base62 characters in a client secret (43 × log2(62) ≈ 256 bits).
pub const SECRET_RANDOM: usize = 43;

/// Whether `secret` has the shape of a checksummed client secret but a wrong checksum (a
/// typo or a forgery, refused before any lookup). Secrets issued before checksums (`kgs_`
/// and 43 base64url characters) are not of that shape and keep working.
pub fn is_bad_checksummed_secret(secret: &str) -> bool {
    let shaped = secret.len() == SECRET_PREFIX.len() + SECRET_RANDOM + 6
        && secret.starts_with(SECRET_PREFIX)
        && secret[SECRET_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric());
    shaped && !is_checksummed(secret, SECRET_PREFIX, SECRET_RANDOM)
}

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
    /// A new secret: `kgs_`, 43 random base62 characters (256 bits) and their checksum.
    pub fn generate() -> Self {
        Self(checksummed(SECRET_PREFIX, SECRET_RANDOM))
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
    fn credentials_carry_a_crc32_checksum_in_base62() {
        // CRC-32/IEEE of "123456789" is 0xCBF43926 = 3421780262 = base62 "3k9lqK"... checked
        // digit by digit below rather than trusted.
        let n: u64 = 0xCBF4_3926;
        let mut want = String::new();
        let mut m = n;
        for _ in 0..6 {
            want.insert(0, char::from(BASE62[(m % 62) as usize]));
            m /= 62;
        }
        assert_eq!(checksum("123456789"), want);
        let t = checksummed(PERSONAL_TOKEN_PREFIX, PERSONAL_TOKEN_RANDOM);
        assert_eq!(t.len(), 40);
        assert!(is_checksummed(
            &t,
            PERSONAL_TOKEN_PREFIX,
            PERSONAL_TOKEN_RANDOM
        ));
        let mut bad = t.clone().into_bytes();
        bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
        assert!(!is_checksummed(
            &String::from_utf8(bad).unwrap(),
            PERSONAL_TOKEN_PREFIX,
            PERSONAL_TOKEN_RANDOM
        ));
        let s = ClientSecret::generate();
        assert!(is_checksummed(s.expose(), SECRET_PREFIX, SECRET_RANDOM));
        assert!(!is_bad_checksummed_secret(s.expose()));
        assert!(!is_bad_checksummed_secret(&format!(
            "kgs_{}",
            random_token::<32>()
        )));
        let mut forged = s.expose().to_owned();
        forged.replace_range(4..5, if &forged[4..5] == "A" { "B" } else { "A" });
        assert!(is_bad_checksummed_secret(&forged));
    }

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
        // 43 base62 characters: 43 × log2(62) > 256 bits, then the 6-digit checksum.
        assert_eq!(body.len(), 43 + 6);
        assert!(f64::from(43u8) * 62f64.log2() > 256.0);
        assert!(s.expose()[4..].chars().all(|c| c.is_ascii_alphanumeric()));
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
