//! ES256 signing (ECDSA over P-256 with SHA-256, RFC 7518 §3.4) with nonces prepared in
//! batches.
//!
//! The profile of the token endpoint put ring's `EcdsaKeyPair::sign` at about 40 % of the
//! CPU, and a quarter of that was the constant-time Fermat inversion of the nonce, k⁻¹ mod n,
//! done anew for every signature. Here the nonces are prepared [`BATCH`] at a time:
//!
//! - each nonce k and its point R = k·G come from ring's own key generation
//!   (`EcdsaKeyPair::generate_pkcs8`: k uniformly random in [1, n) from the system RNG, R
//!   computed with ring's constant-time P-256 code), so no randomness or point arithmetic is
//!   written here;
//! - the batch's k⁻¹ are computed with one inversion (Montgomery's trick: prefix products,
//!   one inversion, back-substitution) using the constant-time scalar arithmetic of the
//!   `p256` crate;
//! - a signature is then textbook ECDSA (SEC 1 v2 §4.1.3): z = SHA-256(m) mod n,
//!   r = x(R) mod n, s = k⁻¹·(z + r·d) mod n, encoded as r ‖ s (32 bytes each).
//!
//! Each nonce is used once: it is taken out of the pool under its lock and dropped after
//! signing. The first signature is verified with ring's ES256 verifier when the key is
//! loaded; if ring's key format ever changes so the private scalar cannot be read, or that
//! check fails, signing falls back to ring's `sign` (same output format, slower).

use std::sync::Mutex;

use p256::elliptic_curve::Field as _;
use p256::elliptic_curve::ops::Reduce;
use p256::{FieldBytes, Scalar};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    UnparsedPublicKey,
};

/// Nonces prepared at a time: one scalar inversion serves this many signatures.
pub const BATCH: usize = 32;

/// Length of the compact (r ‖ s) signature.
pub const SIGNATURE_LEN: usize = 64;

/// A P-256 signing key.
pub struct Es256Key {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    /// The private scalar and the nonce pool, when the fast path is available.
    fast: Option<Fast>,
}

struct Fast {
    d: Scalar,
    pool: Mutex<Vec<Nonce>>,
}

/// One prepared nonce: r = x(k·G) mod n and k⁻¹ mod n.
struct Nonce {
    r: Scalar,
    k_inv: Scalar,
}

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("not a PKCS#8 P-256 private key")]
pub struct BadKey;

impl Es256Key {
    /// Loads a PKCS#8 v1 document as made by ring's `EcdsaKeyPair::generate_pkcs8`.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, BadKey> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|_| BadKey)?;
        let mut key = Self {
            pair,
            rng,
            fast: None,
        };
        if let Some((d, _)) = parse_ring_pkcs8(pkcs8) {
            let d = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(d));
            key.fast = Some(Fast {
                d,
                pool: Mutex::new(Vec::new()),
            });
            // Prove the fast path on this key once; otherwise sign with ring alone.
            let probe = b"keygate ES256 self-test";
            let sig = key.sign(probe);
            let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key());
            if public.verify(probe, &sig).is_err() {
                tracing::warn!("ES256 batch signing failed its self-test; using ring's signer");
                key.fast = None;
            }
        }
        Ok(key)
    }

    /// The uncompressed SEC 1 public point (0x04 ‖ x ‖ y).
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The ES256 signature (r ‖ s) of `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut out = [0u8; SIGNATURE_LEN];
        match &self.fast {
            Some(fast) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, msg);
                let z = <Scalar as Reduce<FieldBytes>>::reduce(&field_bytes(digest.as_ref()));
                loop {
                    let nonce = fast.take();
                    let s = nonce.k_inv * (z + nonce.r * fast.d);
                    // s = 0 has probability about 2⁻²⁵⁶; take the next nonce if it happens.
                    if bool::from(s.is_zero()) {
                        continue;
                    }
                    out[..32].copy_from_slice(&nonce.r.to_bytes());
                    out[32..].copy_from_slice(&s.to_bytes());
                    break;
                }
            }
            None => {
                let sig = self
                    .pair
                    .sign(&self.rng, msg)
                    .expect("ECDSA signing with the system RNG does not fail");
                out.copy_from_slice(sig.as_ref());
            }
        }
        out
    }
}

impl Fast {
    /// Takes an unused nonce. When the pool is empty a batch is prepared outside the lock
    /// (about half a millisecond), so other threads signing meanwhile never wait for it.
    fn take(&self) -> Nonce {
        if let Some(nonce) = self.lock().pop() {
            return nonce;
        }
        let mut batch = prepare();
        let nonce = batch.pop().expect("a prepared batch is never empty");
        self.lock().append(&mut batch);
        nonce
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Nonce>> {
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// [`BATCH`] fresh nonces.
fn prepare() -> Vec<Nonce> {
    let rng = SystemRandom::new();
    let mut ks = Vec::with_capacity(BATCH);
    let mut rs = Vec::with_capacity(BATCH);
    while ks.len() < BATCH {
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("P-256 key generation with the system RNG does not fail");
        let (k, x) = parse_ring_pkcs8(doc.as_ref())
            .expect("ring's PKCS#8 layout was checked when the key was loaded");
        let k = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(k));
        let r = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(x));
        // k is in [1, n) by construction; r = 0 has probability about 2⁻²⁵⁶.
        if bool::from(k.is_zero() | r.is_zero()) {
            continue;
        }
        ks.push(k);
        rs.push(r);
    }
    // Montgomery's trick: prefix[i] = k₀·…·kᵢ, one inversion, then walk back.
    let mut prefix = Vec::with_capacity(BATCH);
    let mut acc = Scalar::ONE;
    for k in &ks {
        acc *= k;
        prefix.push(acc);
    }
    let mut inv = acc
        .invert()
        .expect("a product of non-zero scalars mod a prime is non-zero");
    let mut k_invs = vec![Scalar::ZERO; BATCH];
    for i in (0..BATCH).rev() {
        k_invs[i] = if i == 0 { inv } else { inv * prefix[i - 1] };
        inv *= ks[i];
    }
    rs.into_iter()
        .zip(k_invs)
        .map(|(r, k_inv)| Nonce { r, k_inv })
        .collect()
}

fn field_bytes(b: &[u8]) -> FieldBytes {
    let mut a = [0u8; 32];
    a.copy_from_slice(b);
    FieldBytes::from(a)
}

/// The private scalar and the public x coordinate of a P-256 PKCS#8 v1 document in the exact
/// layout ring writes (RFC 5915 inside RFC 5208, uncompressed public point); `None` for any
/// other layout.
fn parse_ring_pkcs8(doc: &[u8]) -> Option<([u8; 32], [u8; 32])> {
    const PREFIX: [u8; 36] = [
        0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
        0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30,
        0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
    ];
    const MIDDLE: [u8; 6] = [0xa1, 0x44, 0x03, 0x42, 0x00, 0x04];
    if doc.len() != 138 || doc[..36] != PREFIX || doc[68..74] != MIDDLE {
        return None;
    }
    let d: [u8; 32] = doc[36..68].try_into().ok()?;
    let x: [u8; 32] = doc[74..106].try_into().ok()?;
    Some((d, x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (Es256Key, Vec<u8>) {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        (
            Es256Key::from_pkcs8(doc.as_ref()).unwrap(),
            doc.as_ref().to_vec(),
        )
    }

    #[test]
    fn ring_pkcs8_layout_is_recognised() {
        let (k, doc) = key();
        assert!(parse_ring_pkcs8(&doc).is_some());
        assert!(k.fast.is_some(), "the fast path passed its self-test");
        let mut other = doc.clone();
        other[0] = 0x31;
        assert!(parse_ring_pkcs8(&other).is_none());
        assert!(parse_ring_pkcs8(&doc[..137]).is_none());
    }

    #[test]
    fn every_signature_verifies_with_ring_and_nonces_are_never_reused() {
        let (k, _) = key();
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, k.public_key().to_vec());
        let mut rs = std::collections::HashSet::new();
        // Several batches, with messages of varied length, including one whose digest may
        // exceed n (reduction) — every signature must verify and every r must be new.
        for i in 0..(BATCH * 5 + 3) {
            let msg = vec![u8::try_from(i % 251).unwrap(); i * 7];
            let sig = k.sign(&msg);
            public.verify(&msg, &sig).expect("signature verifies");
            assert!(rs.insert(sig[..32].to_vec()), "nonce reused at {i}");
            let mut tampered = msg.clone();
            tampered.push(1);
            assert!(public.verify(&tampered, &sig).is_err());
        }
    }

    #[test]
    fn threads_signing_at_once_never_share_a_nonce() {
        let (k, _) = key();
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, k.public_key().to_vec());
        let sigs: Vec<[u8; SIGNATURE_LEN]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let k = &k;
                    s.spawn(move || {
                        (0..BATCH * 3)
                            .map(|i| k.sign(format!("{t}/{i}").as_bytes()))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let mut rs = std::collections::HashSet::new();
        for (n, sig) in sigs.iter().enumerate() {
            let (t, i) = (n / (BATCH * 3), n % (BATCH * 3));
            public.verify(format!("{t}/{i}").as_bytes(), sig).unwrap();
            assert!(rs.insert(sig[..32].to_vec()), "nonce reused");
        }
    }

    #[test]
    fn without_the_fast_path_ring_signs() {
        let (mut k, _) = key();
        k.fast = None;
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, k.public_key().to_vec());
        let sig = k.sign(b"hello");
        public.verify(b"hello", &sig).unwrap();
    }
}
