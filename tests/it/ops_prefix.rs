//! The console under an issuer with a path (issue 15): behind a proxy that forwards only
//! `/keygate/…`, every link, form action, redirect, static asset and htmx URL of every
//! console page carries the prefix.

use axum::http::{StatusCode, header};

use crate::console::{Browser, PASSWORD, console_user, csrf_of, value_of};
use crate::helpers::{Resp, TestApp};

const PREFIX: &str = "/keygate";

/// Every URL-valued attribute of `html` (`href`, `src`, `action`, `formaction`, `hx-*`)
/// that points anywhere but under the prefix.
fn outside_prefix(html: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("=\"") {
        let name_start = rest[..at]
            .rfind(|c: char| c.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let name = rest[name_start..at].to_ascii_lowercase();
        let value_on = &rest[at + 2..];
        let end = value_on.find('"').unwrap_or(value_on.len());
        let value = &value_on[..end];
        let url_attr = ["href", "src", "action", "formaction"].contains(&name.as_str())
            || (name.starts_with("hx-") && value.starts_with('/'));
        let fine = value.starts_with(&format!("{PREFIX}/"))
            || value == PREFIX
            || value.starts_with('#')
            || value.starts_with("data:");
        if url_attr && !fine {
            bad.push(format!("{name}=\"{value}\""));
        }
        rest = &value_on[end..];
    }
    bad
}

#[track_caller]
fn assert_inside(what: &str, res: &Resp) {
    for h in [header::LOCATION.as_str(), "hx-redirect", "hx-location"] {
        if let Some(v) = res.headers.get(h).and_then(|v| v.to_str().ok()) {
            assert!(v.starts_with(PREFIX), "{what}: {h}: {v}");
        }
    }
    let bad = outside_prefix(&res.text());
    assert!(bad.is_empty(), "{what} links outside {PREFIX}: {bad:?}");
}

#[tokio::test]
async fn every_console_url_carries_the_issuer_path() {
    let app = TestApp::builder()
        .issuer(&format!("https://id.example.test{PREFIX}"))
        .start()
        .await;
    let creds = app.account("billing").create().await;
    console_user(&app, "admin", &["Administrator"]).await;
    let mut b = Browser::new(&app);
    let p = |path: &str| format!("{PREFIX}{path}");

    // Signed out: the home page sends to the sign-in page, and the page itself is inside.
    let home = b.get(&p("/")).await;
    assert_inside("home", &home);
    let login = b.get(&p("/login?next=/settings/roles")).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_inside("login", &login);
    let csrf = csrf_of(&login.text());
    let next = value_of(&login.text(), "name=\"next\" value=\"").unwrap();
    // The sign-in form's cookie is sent back to the form's address, under the prefix.
    let cookie_paths: Vec<&str> = login
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| {
            v.to_str()
                .ok()?
                .split("; ")
                .find(|a| a.starts_with("Path="))
        })
        .collect();
    assert!(
        cookie_paths
            .iter()
            .all(|p| *p == "Path=/" || p.starts_with(&format!("Path={PREFIX}/"))),
        "{cookie_paths:?}"
    );
    let signed_in = b
        .post(
            &p("/login"),
            &[
                ("csrf", &csrf),
                ("next", &next),
                ("username", "admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(
        signed_in.header(header::LOCATION),
        Some(p("/settings/roles").as_str())
    );

    let id = &creds.id;
    let pages = [
        "/settings".to_owned(),
        "/settings/service-accounts".to_owned(),
        "/settings/service-accounts?q=bill&status=enabled".to_owned(),
        "/settings/service-accounts/new".to_owned(),
        format!("/settings/service-accounts/{id}"),
        format!("/settings/service-accounts/{id}/edit"),
        format!("/settings/service-accounts/{id}/regenerate"),
        format!("/settings/service-accounts/{id}/delete"),
        "/settings/roles".to_owned(),
        "/settings/roles/new".to_owned(),
        "/settings/groups".to_owned(),
        "/settings/groups/new".to_owned(),
        "/settings/users".to_owned(),
        "/settings/audit".to_owned(),
        "/settings/signing-keys".to_owned(),
        "/settings/signing-keys/rotate".to_owned(),
        "/settings/service-accounts/nope".to_owned(),
        "/no-such-page".to_owned(),
    ];
    let mut assets = std::collections::BTreeSet::new();
    for page in &pages {
        let res = b.get(&p(page)).await;
        assert!(
            res.status == StatusCode::OK
                || res.status == StatusCode::SEE_OTHER
                || res.status == StatusCode::NOT_FOUND,
            "{page}: {}",
            res.status
        );
        assert_inside(page, &res);
        let text = res.text();
        for src in text
            .split("src=\"")
            .skip(1)
            .chain(text.split("href=\"/").skip(1))
        {
            let url = src.split('"').next().unwrap();
            if url.contains("/static/") {
                assets.insert(url.trim_start_matches('/').to_owned());
            }
        }
        // The same page asked for by htmx (boosted navigation and a partial).
        let res = b
            .get_with_headers(&p(page), &[("hx-request", "true"), ("hx-boosted", "true")])
            .await;
        assert_inside(&format!("{page} (htmx)"), &res);
    }
    // Static assets are served under the prefix.
    assert!(!assets.is_empty());
    for asset in &assets {
        let url = if asset.starts_with(&PREFIX[1..]) {
            format!("/{asset}")
        } else {
            p(&format!("/{asset}"))
        };
        assert_eq!(app.get(&url).send().await.status, StatusCode::OK, "{url}");
    }

    // A form's redirect, and htmx's answers to a change and to a lapsed session.
    let csrf = b.csrf_at(&p("/settings/service-accounts")).await;
    let toggled = b
        .post(
            &p(&format!("/settings/service-accounts/{id}/enabled")),
            &[("csrf", &csrf), ("enabled", "false")],
        )
        .await;
    assert_inside("toggle", &toggled);
    let toggled = b
        .post_with_headers(
            &p(&format!("/settings/service-accounts/{id}/enabled")),
            &[("csrf", &csrf), ("enabled", "true")],
            &[("hx-request", "true"), ("hx-target", "row")],
        )
        .await;
    assert_inside("toggle (htmx)", &toggled);
    let signed_out = b.post(&p("/logout"), &[("csrf", &csrf)]).await;
    assert_inside("sign out", &signed_out);
    let lapsed = b
        .get_with_headers(
            &p("/settings/service-accounts?q=x"),
            &[
                ("hx-request", "true"),
                (
                    "hx-current-url",
                    &format!("https://id.example.test{PREFIX}/settings/roles"),
                ),
            ],
        )
        .await;
    assert_eq!(lapsed.status, StatusCode::UNAUTHORIZED);
    assert_inside("lapsed session (htmx)", &lapsed);
    assert!(lapsed.headers.contains_key("hx-redirect"));
}
