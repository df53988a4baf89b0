//! Makes a platform-style identity token for the federated-grant benchmark
//! (`bench/token.sh`): a fresh P-256 key pair, its JWKS written to a file (served to
//! keygate as the trusted issuer's keys), and one ES256 token shaped like GitHub Actions'
//! signed with it, printed. Platform tokens are reused by design, so one token serves every
//! request of the run.
//!
//! `cargo run --release --example federated -- ISSUER AUDIENCE JWKS_FILE > TOKEN_FILE`
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, issuer, audience, jwks_file] = &args[..] else {
        eprintln!("usage: federated ISSUER AUDIENCE JWKS_FILE > TOKEN_FILE");
        std::process::exit(2);
    };
    let (public, pem) = keygate::domain::client_key::generate_p256().expect("a P-256 key pair");
    std::fs::write(
        jwks_file,
        serde_json::json!({ "keys": [public.jwk] }).to_string(),
    )
    .expect("write the JWKS");
    let key = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).expect("a P-256 key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(public.kid.clone());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let claims = serde_json::json!({
        "iss": issuer, "aud": audience,
        "sub": "repo:acme/app:ref:refs/heads/release/1",
        "repository": "acme/app", "ref": "refs/heads/release/1",
        "iat": now, "nbf": now, "exp": now + 4 * 3600,
    });
    println!(
        "{}",
        jsonwebtoken::encode(&header, &claims, &key).expect("sign")
    );
}
