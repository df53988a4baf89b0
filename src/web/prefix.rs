//! Console URLs under an issuer with a path (`--issuer https://host/keygate`, a proxy
//! forwarding `/keygate/…` unchanged): every link, form action, redirect, static asset and
//! htmx URL keygate sends carries the prefix.
//!
//! Done once, here, for every response, rather than in each template and handler: pages and
//! handlers keep writing root-relative URLs (`/settings/roles`), and this layer puts the
//! prefix before those in HTML attributes that hold URLs and in the headers that redirect.
//! Only markup written by keygate's templates can match: text that users typed is
//! HTML-escaped by askama (`"` becomes `&#34;`), so it never forms an attribute. Cookie
//! paths get the prefix too (the sign-in form's cookie lives at `/login`), and the one URL
//! a browser sends back, htmx's `HX-Current-URL`, loses it, so handlers see root paths only.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Attributes whose value is a URL.
const URL_ATTRIBUTES: [&str; 11] = [
    "href",
    "src",
    "action",
    "formaction",
    "hx-get",
    "hx-post",
    "hx-put",
    "hx-patch",
    "hx-delete",
    "hx-push-url",
    "hx-replace-url",
];

/// Response headers whose value is a URL.
const URL_HEADERS: [&str; 5] = [
    "location",
    "hx-redirect",
    "hx-location",
    "hx-push-url",
    "hx-replace-url",
];

/// Largest HTML page rewritten (console pages are a few kilobytes).
const MAX_PAGE: usize = 4 * 1024 * 1024;

/// `url` under `prefix` if it is a root-relative URL not under it yet.
pub fn prefixed(prefix: &str, url: &str) -> Option<String> {
    let already = url
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']));
    (url.starts_with('/') && !url.starts_with("//") && !already).then(|| format!("{prefix}{url}"))
}

/// A full or root-relative URL under `prefix` with the prefix taken out of its path.
fn without_prefix(prefix: &str, url: &str) -> Option<String> {
    let path_at = match url.split_once("://") {
        Some((scheme, rest)) => scheme.len() + 3 + rest.find('/')?,
        None => 0,
    };
    let (origin, path) = url.split_at(path_at);
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() || rest.starts_with(['?', '#']) {
        Some(format!("{origin}/{rest}"))
    } else {
        rest.starts_with('/').then(|| format!("{origin}{rest}"))
    }
}

/// A `Set-Cookie` value whose `Path` (other than `/`) is put under `prefix`.
fn cookie_under(prefix: &str, cookie: &str) -> Option<String> {
    let mut changed = false;
    let parts: Vec<String> = cookie
        .split(';')
        .map(|part| {
            let trimmed = part.trim_start();
            match trimmed.get(..5) {
                Some(name) if name.eq_ignore_ascii_case("path=") => {
                    match prefixed(prefix, &trimmed[5..]).filter(|_| &trimmed[5..] != "/") {
                        Some(p) => {
                            changed = true;
                            format!(" Path={p}")
                        }
                        None => part.to_owned(),
                    }
                }
                _ => part.to_owned(),
            }
        })
        .collect();
    changed.then(|| parts.join(";"))
}

/// `html` with `prefix` before every root-relative URL in a [`URL_ATTRIBUTES`] attribute.
pub fn rewrite_html(prefix: &str, html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 256);
    let mut rest = html;
    while let Some(at) = rest.find("=\"/") {
        let (before, value_on) = rest.split_at(at + 2);
        out.push_str(before);
        let name_start = before[..at]
            .rfind(|c: char| c.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let name = before[name_start..at].to_ascii_lowercase();
        let value_end = value_on.find('"').unwrap_or(value_on.len());
        let value = &value_on[..value_end];
        match prefixed(prefix, value).filter(|_| URL_ATTRIBUTES.contains(&name.as_str())) {
            Some(v) => out.push_str(&v),
            None => out.push_str(value),
        }
        rest = &value_on[value_end..];
    }
    out.push_str(rest);
    out
}

/// Middleware (only installed for an issuer with a path): prefixes the URLs of every
/// response.
pub async fn prefix_urls(prefix: String, mut req: Request, next: Next) -> Response {
    let current = req
        .headers()
        .get("hx-current-url")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| without_prefix(&prefix, v))
        .and_then(|v| HeaderValue::from_str(&v).ok());
    if let Some(v) = current {
        req.headers_mut().insert("hx-current-url", v);
    }
    let res = next.run(req).await;
    let (mut parts, body) = res.into_parts();
    let cookies: Vec<HeaderValue> = parts
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|c| cookie_under(&prefix, c))
                .and_then(|c| HeaderValue::from_str(&c).ok())
                .unwrap_or_else(|| v.clone())
        })
        .collect();
    if !cookies.is_empty() {
        parts.headers.remove(header::SET_COOKIE);
        for c in cookies {
            parts.headers.append(header::SET_COOKIE, c);
        }
    }
    for name in URL_HEADERS {
        let name = HeaderName::from_static(name);
        let new = parts
            .headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| prefixed(&prefix, v))
            .and_then(|v| HeaderValue::from_str(&v).ok());
        if let Some(v) = new {
            parts.headers.insert(name, v);
        }
    }
    let html = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, MAX_PAGE).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a page to prefix its URLs");
            return Response::from_parts(parts, Body::empty());
        }
    };
    let body = match std::str::from_utf8(&bytes) {
        Ok(text) => Body::from(rewrite_html(&prefix, text)),
        Err(_) => Body::from(bytes),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_relative_urls_in_url_attributes_get_the_prefix_once() {
        let html = r#"<a href="/settings/roles">R</a><form action="/logout"><img src="/static/a.svg"><button hx-post="/x?y=/z">"#;
        assert_eq!(
            rewrite_html("/kg", html),
            r#"<a href="/kg/settings/roles">R</a><form action="/kg/logout"><img src="/kg/static/a.svg"><button hx-post="/kg/x?y=/z">"#
        );
        assert_eq!(
            rewrite_html("/kg", &rewrite_html("/kg", html)),
            rewrite_html("/kg", html)
        );
    }

    #[test]
    fn other_attributes_other_urls_and_escaped_text_are_left_alone() {
        let html = r##"<a href="//cdn.example/x" title="/not-a-url" href2="/y"><a href="https://e.x/" data-x="/y">&#34;/t"##;
        assert_eq!(rewrite_html("/kg", html), html);
        assert_eq!(prefixed("/kg", "/kgx/a").as_deref(), Some("/kg/kgx/a"));
        assert_eq!(prefixed("/kg", "/kg"), None);
        assert_eq!(prefixed("/kg", "/kg?next=1"), None);
        assert_eq!(prefixed("/kg", "data:text/csv,a"), None);
    }

    #[test]
    fn cookie_paths_get_the_prefix_and_the_current_url_loses_it() {
        assert_eq!(
            cookie_under("/kg", "c=1; Path=/login; HttpOnly").as_deref(),
            Some("c=1; Path=/kg/login; HttpOnly")
        );
        assert_eq!(cookie_under("/kg", "c=1; Path=/; HttpOnly"), None);
        assert_eq!(
            without_prefix("/kg", "https://h.example/kg/settings?q=1").as_deref(),
            Some("https://h.example/settings?q=1")
        );
        assert_eq!(without_prefix("/kg", "/kg").as_deref(), Some("/"));
        assert_eq!(without_prefix("/kg", "https://h.example/other"), None);
    }
}
