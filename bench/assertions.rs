//! Makes client assertions for the private_key_jwt benchmark (`bench/token.sh`): N ES256
//! JWTs signed with a key file's private key, each with its own `jti`, one per line.
//!
//! `cargo run --release --example assertions -- KEY_FILE.json AUDIENCE COUNT > FILE`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, key_file, audience, count] = &args[..] else {
        eprintln!("usage: assertions KEY_FILE.json AUDIENCE COUNT > FILE");
        std::process::exit(2);
    };
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(key_file).expect("read the key file"))
            .expect("the key file is JSON");
    let client_id = file["client_id"].as_str().expect("client_id");
    let pem = file["private_key"].as_str().expect("private_key");
    let key = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).expect("a P-256 key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = file["key_id"].as_str().map(str::to_owned);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let n: u64 = count.parse().expect("COUNT is a number");
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..n {
        let claims = serde_json::json!({
            "iss": client_id, "sub": client_id, "aud": audience,
            "iat": now, "exp": now + 3000, "jti": format!("bench-{now}-{i}"),
        });
        let jwt = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
        writeln!(out, "{jwt}").expect("write");
    }
}
