//! `POST /oauth/token` refusals: RFC 6749 §5.2 error codes, identical `invalid_client`
//! answers, the body limit, and garbage that must never cause a server error.

use axum::body::Body;
use axum::http::{StatusCode, header};
use serde_json::json;

use crate::helpers::{Creds, Resp, TestApp};
use keygate::web::oauth::MAX_BODY;

const GRANT: (&str, &str) = ("grant_type", "client_credentials");

async fn app_and_account() -> (TestApp, Creds) {
    let app = TestApp::spawn().await;
    let creds = app
        .account("billing")
        .roles(&["Token Introspector"])
        .create()
        .await;
    (app, creds)
}

// -- invalid_request ----------------------------------------------------------------------------

#[tokio::test]
async fn a_form_without_grant_type_is_an_invalid_request() {
    let (app, creds) = app_and_account().await;
    app.post("/oauth/token")
        .basic(&creds)
        .form(&[("scope", "tokens:introspect")])
        .send()
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_repeated_parameter_is_an_invalid_request() {
    let (app, creds) = app_and_account().await;
    app.post("/oauth/token")
        .basic(&creds)
        .raw_form("grant_type=client_credentials&grant_type=client_credentials")
        .send()
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn basic_and_a_secret_in_the_body_together_are_an_invalid_request() {
    let (app, creds) = app_and_account().await;
    app.post("/oauth/token")
        .basic(&creds)
        .form(&[
            GRANT,
            ("client_id", &creds.client_id),
            ("client_secret", &creds.client_secret),
        ])
        .send()
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_basic_header_that_is_not_base64_is_an_invalid_request() {
    let (app, _) = app_and_account().await;
    app.post("/oauth/token")
        .header("authorization", "Basic !!!not*base64!!!")
        .form(&[GRANT])
        .send()
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_basic_header_without_a_colon_is_an_invalid_request() {
    let (app, creds) = app_and_account().await;
    use base64::Engine as _;
    let value = base64::engine::general_purpose::STANDARD.encode(&creds.client_id);
    app.post("/oauth/token")
        .header("authorization", format!("Basic {value}"))
        .form(&[GRANT])
        .send()
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_text_plain_body_is_an_invalid_request() {
    let (app, creds) = app_and_account().await;
    app.post("/oauth/token")
        .basic(&creds)
        .header("content-type", "text/plain")
        .body("grant_type=client_credentials")
        .send()
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_body_without_content_type_is_an_invalid_request() {
    let (app, creds) = app_and_account().await;
    app.post("/oauth/token")
        .basic(&creds)
        .body("grant_type=client_credentials")
        .send()
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_json_value_that_is_not_a_string_is_an_invalid_request() {
    let (app, creds) = app_and_account().await;
    for body in [
        json!({ "client_id": creds.client_id, "client_secret": 12345 }),
        json!({ "client_id": [creds.client_id], "client_secret": creds.client_secret }),
        json!({ "grant_type": true, "client_id": creds.client_id, "client_secret": creds.client_secret }),
    ] {
        app.post("/oauth/token")
            .json(&body)
            .send()
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
}

// -- unsupported_grant_type and invalid_scope ---------------------------------------------------

#[tokio::test]
async fn any_other_grant_type_is_unsupported() {
    let (app, creds) = app_and_account().await;
    for grant in ["password", "authorization_code", "refresh_token", ""] {
        app.post("/oauth/token")
            .basic(&creds)
            .form(&[("grant_type", grant), ("username", "u"), ("password", "p")])
            .send()
            .await
            .assert_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
}

#[tokio::test]
async fn a_scope_beyond_the_accounts_permissions_is_an_invalid_scope() {
    let (app, creds) = app_and_account().await;
    for scope in [
        "service-accounts:write",
        "tokens:introspect users:write",
        "tokens:introspect \"quoted\"",
    ] {
        app.post("/oauth/token")
            .basic(&creds)
            .form(&[GRANT, ("scope", scope)])
            .send()
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_scope");
    }
    // A scope within the permissions still succeeds.
    let res = app
        .post("/oauth/token")
        .basic(&creds)
        .form(&[GRANT, ("scope", "tokens:introspect")])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["scope"], "tokens:introspect");
}

// -- invalid_client -----------------------------------------------------------------------------

fn assert_invalid_client(res: &Resp, basic: bool) {
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert_eq!(res.header(header::CACHE_CONTROL), Some("no-store"));
    if basic {
        let challenge = res
            .header(header::WWW_AUTHENTICATE)
            .expect("WWW-Authenticate after a Basic attempt");
        assert!(challenge.starts_with("Basic"), "{challenge}");
    }
}

#[tokio::test]
async fn every_client_authentication_failure_gets_the_same_answer() {
    let app = TestApp::spawn().await;
    let live = app.account("live").create().await;
    let disabled = app.account("disabled").create().await;
    app.disable(&disabled).await;
    let deleted = app.account("deleted").create().await;
    app.delete_account(&deleted).await;
    let unknown = Creds {
        id: "nobody".into(),
        name: "nobody".into(),
        client_id: "kgc_doesnotexist".into(),
        client_secret: "kgs_nothing".into(),
    };
    // Shaped like an issued ID, so it is looked up (and missed) rather than refused on sight.
    let unknown_well_formed = Creds {
        client_id: "kgc_AAAAAAAAAAAAAAAAAAAAAA".into(),
        ..unknown.clone()
    };
    let wrong_secret = live.with_secret("kgs_wrong");

    let mut bodies = Vec::new();
    for creds in [
        &unknown,
        &unknown_well_formed,
        &wrong_secret,
        &disabled,
        &deleted,
    ] {
        // HTTP Basic.
        let res = app.token_response(creds).await;
        assert_invalid_client(&res, true);
        bodies.push(res.body.clone());
        // client_secret_post.
        let res = app
            .post("/oauth/token")
            .form(&[
                GRANT,
                ("client_id", &creds.client_id),
                ("client_secret", &creds.client_secret),
            ])
            .send()
            .await;
        assert_invalid_client(&res, false);
        bodies.push(res.body.clone());
        // JSON.
        let res = app
            .post("/oauth/token")
            .json(&json!({ "client_id": creds.client_id, "client_secret": creds.client_secret }))
            .send()
            .await;
        assert_invalid_client(&res, false);
        bodies.push(res.body.clone());
    }
    // No credentials at all; a client_id alone is no credential either.
    for res in [
        app.post("/oauth/token").form(&[GRANT]).send().await,
        app.post("/oauth/token")
            .form(&[GRANT, ("client_id", &live.client_id)])
            .send()
            .await,
    ] {
        assert_invalid_client(&res, false);
        bodies.push(res.body.clone());
    }

    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "bodies differ: {bodies:?}"
    );
    // The live account still works, of course.
    app.token(&live).await;
}

// -- body limit ---------------------------------------------------------------------------------

fn big_form() -> String {
    format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(MAX_BODY + 1)
    )
}

#[tokio::test]
async fn a_body_over_16_kib_with_content_length_is_refused_with_413() {
    let (app, creds) = app_and_account().await;
    assert_eq!(MAX_BODY, 16 * 1024);
    let body = big_form();
    let res = app
        .post("/oauth/token")
        .basic(&creds)
        .header("content-length", body.len().to_string())
        .raw_form(body)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.text());
}

#[tokio::test]
async fn a_streamed_body_over_16_kib_without_content_length_is_refused_with_413() {
    let (app, creds) = app_and_account().await;
    let chunks: Vec<Result<String, std::io::Error>> =
        std::iter::once(Ok("grant_type=client_credentials&pad=".to_owned()))
            .chain((0..40).map(|_| Ok("a".repeat(1024))))
            .collect();
    let res = app
        .post("/oauth/token")
        .basic(&creds)
        .raw_form(Body::from_stream(futures_util::stream::iter(chunks)))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.text());
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_read() {
    let (app, creds) = app_and_account().await;
    let prefix = "grant_type=client_credentials&pad=";
    let body = format!("{prefix}{}", "a".repeat(MAX_BODY - prefix.len()));
    assert_eq!(body.len(), MAX_BODY);
    let res = app
        .post("/oauth/token")
        .basic(&creds)
        .raw_form(body)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

// -- garbage ------------------------------------------------------------------------------------

/// (description, content type, extra headers, body)
type GarbageCase = (
    &'static str,
    Option<&'static str>,
    Vec<(&'static str, Vec<u8>)>,
    Vec<u8>,
);

#[tokio::test]
async fn garbage_never_causes_a_server_error() {
    let (app, creds) = app_and_account().await;
    let form = "application/x-www-form-urlencoded";
    let json = "application/json";
    let binary: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
    let cases: Vec<GarbageCase> = vec![
        ("binary form", Some(form), vec![], binary.clone()),
        ("binary json", Some(json), vec![], binary.clone()),
        (
            "binary octet-stream",
            Some("application/octet-stream"),
            vec![],
            binary.clone(),
        ),
        ("empty form", Some(form), vec![], vec![]),
        ("empty json", Some(json), vec![], vec![]),
        ("empty, no type", None, vec![], vec![]),
        (
            "json array",
            Some(json),
            vec![],
            br#"["client_credentials"]"#.to_vec(),
        ),
        ("json string", Some(json), vec![], br#""x""#.to_vec()),
        ("json null", Some(json), vec![], b"null".to_vec()),
        (
            "json nested",
            Some(json),
            vec![],
            "[".repeat(5000).into_bytes(),
        ),
        (
            "json deep object",
            Some(json),
            vec![],
            br#"{"a":{"b":{"c":1}}}"#.to_vec(),
        ),
        (
            "invalid utf-8 in form",
            Some(form),
            vec![],
            b"grant_type=client_\xff\xfe&client_id=\xc3\x28".to_vec(),
        ),
        (
            "percent-encoded invalid utf-8",
            Some(form),
            vec![],
            b"grant_type=%ff%fe&client_id=%c3%28&client_secret=%80".to_vec(),
        ),
        ("lone separators", Some(form), vec![], b"&&&===&=&".to_vec()),
        (
            "nul bytes",
            Some(form),
            vec![],
            b"grant_type=client_credentials\0&client_id=\0".to_vec(),
        ),
        (
            "odd content type params",
            Some("application/x-www-form-urlencoded; charset=\"utf-99\"; ;;"),
            vec![],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "uppercase content type",
            Some("APPLICATION/X-WWW-FORM-URLENCODED"),
            vec![],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "huge basic header",
            Some(form),
            vec![(
                "authorization",
                format!("Basic {}", "A".repeat(60_000)).into_bytes(),
            )],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "basic of binary",
            Some(form),
            vec![("authorization", b"Basic //79/A==".to_vec())],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "non-ascii authorization",
            Some(form),
            vec![("authorization", b"Basic \xc3\xa9\xff".to_vec())],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "bare scheme",
            Some(form),
            vec![("authorization", b"Basic".to_vec())],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "bearer at token endpoint",
            Some(form),
            vec![("authorization", b"Bearer abc.def.ghi".to_vec())],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "two authorization headers",
            Some(form),
            vec![
                ("authorization", b"Basic Zm9vOmJhcg==".to_vec()),
                ("authorization", b"Basic Zm9vOmJhcg==".to_vec()),
            ],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "lying content-length",
            Some(form),
            vec![("content-length", b"5".to_vec())],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "bogus content-length",
            Some(form),
            vec![("content-length", b"-1, abc".to_vec())],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "huge odd header",
            Some(form),
            vec![(
                "x-garbage",
                vec![b'\t'; 1]
                    .into_iter()
                    .chain(std::iter::repeat_n(0x80u8, 30_000))
                    .collect(),
            )],
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "huge scope",
            Some(form),
            vec![],
            format!(
                "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
                creds.client_id,
                creds.client_secret,
                "x:y+".repeat(3000)
            )
            .into_bytes(),
        ),
        (
            "huge client id",
            Some(form),
            vec![],
            format!(
                "grant_type=client_credentials&client_id={}&client_secret=x",
                "k".repeat(15_000)
            )
            .into_bytes(),
        ),
    ];
    for (what, content_type, headers, body) in cases {
        let mut req = app.post("/oauth/token");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let res = req.body(body).send().await;
        assert!(
            !res.status.is_server_error(),
            "{what}: {} {}",
            res.status,
            res.text()
        );
        assert!(
            res.status.is_client_error(),
            "{what} should be refused: {} {}",
            res.status,
            res.text()
        );
    }
    // The same garbage at the other OAuth endpoints.
    for path in ["/oauth/revoke", "/oauth/introspect"] {
        for (ct, body) in [
            (form, binary.clone()),
            (json, b"[1,2]".to_vec()),
            (form, b"token=%ff%00&token_type_hint=\xff".to_vec()),
        ] {
            let res = app
                .post(path)
                .basic(&creds)
                .header("content-type", ct)
                .body(body)
                .send()
                .await;
            assert!(
                !res.status.is_server_error(),
                "{path}: {} {}",
                res.status,
                res.text()
            );
        }
    }
}
