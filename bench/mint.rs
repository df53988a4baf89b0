//! Criterion benchmark of token minting alone: ES256 signing of the claims (`TokenSigner::sign`)
//! and serialising the token response, without HTTP or the database.
//!
//! ```sh
//! cargo bench --bench mint
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keygate::oauth::IssuedToken;
use keygate::oauth::es256::Es256Key;
use keygate::oauth::keys::SigningKey;
use keygate::oauth::token::TokenSigner;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

fn pkcs8() -> Vec<u8> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .expect("generate a P-256 key")
        .as_ref()
        .to_vec()
}

fn signer() -> TokenSigner {
    TokenSigner::new(SigningKey {
        kid: "bench-kid-0123456789".to_owned(),
        key: Es256Key::from_pkcs8(&pkcs8()).expect("parse the P-256 key"),
    })
}

const ISS: &str = "http://127.0.0.1:8080";
const SUB: &str = "7d4bc1a4-6a3f-4a49-9d0c-1f0e5a1e2b3c";
const CLIENT_ID: &str = "kgc_Zm9vYmFyYmF6cXV4cXV1eA";
const JTI: &str = "0.AAECAwQFBgcICQoLDA0ODw";
const SCOPE: &str = "tokens:introspect";

fn mint(c: &mut Criterion) {
    let msg = [b'x'; 420];
    let key = Es256Key::from_pkcs8(&pkcs8()).expect("parse the P-256 key");
    c.bench_function("ES256 signature, batched nonces (keygate)", |b| {
        b.iter(|| black_box(key.sign(black_box(&msg))));
    });
    let rng = SystemRandom::new();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8(), &rng)
        .expect("parse the P-256 key");
    c.bench_function("ES256 signature, ring EcdsaKeyPair::sign", |b| {
        b.iter(|| black_box(pair.sign(&rng, black_box(&msg))));
    });
    let signer = signer();
    c.bench_function("sign ES256 JWT", |b| {
        b.iter(|| {
            black_box(signer.sign(
                black_box(ISS),
                SUB,
                CLIENT_ID,
                ISS,
                1_800_000_000,
                1_800_003_600,
                JTI,
                SCOPE,
                &[],
            ))
        });
    });
    c.bench_function("sign + serialise token response", |b| {
        b.iter(|| {
            let issued = IssuedToken {
                access_token: signer.sign(
                    black_box(ISS),
                    SUB,
                    CLIENT_ID,
                    ISS,
                    1_800_000_000,
                    1_800_003_600,
                    JTI,
                    SCOPE,
                    &[],
                ),
                token_type: "Bearer",
                expires_in: 3600,
                scope: SCOPE.to_owned(),
                client_id: CLIENT_ID.to_owned(),
                authorization_details: Vec::new(),
            };
            black_box(issued.to_json())
        });
    });
}

criterion_group!(benches, mint);
criterion_main!(benches);
