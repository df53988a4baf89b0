//! Extractors shared by the handlers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::config::Cidr;

/// The client's address, for the audit log, the sign-in throttle and the client-auth backoff
/// ("unknown" in in-process tests). Behind a proxy listed in `--trusted-proxies`, it is the
/// nearest untrusted address of `Forwarded` (RFC 7239) or `X-Forwarded-For`.
#[derive(Debug, Clone)]
pub struct Source(pub String);

impl FromRequestParts<AppState> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(source_of(parts, &app.config.trusted_proxies)))
    }
}

/// The source address of a request whose proxies in `trusted` are believed.
pub fn source_of(parts: &Parts, trusted: &[Cidr]) -> String {
    let Some(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return "unknown".to_owned();
    };
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer.to_string();
    }
    // Walk the chain from the nearest hop back; each trusted proxy appended the address it
    // saw. Stop at the first address no trusted proxy vouches for, or at something that is
    // not an address (written by the client itself): then the last good hop is the client.
    let mut client = peer;
    for hop in forwarded_chain(&parts.headers).into_iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => client = ip,
            Some(ip) => return ip.to_string(),
            None => break,
        }
    }
    client.to_string()
}

/// The addresses of `Forwarded: for=…` (preferred) or `X-Forwarded-For`, client first;
/// `None` for an entry that is not an IP address (`unknown`, an obfuscated name, junk).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .into_iter()
            .map(|element| {
                let node = element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.eq_ignore_ascii_case("for").then_some(v)
                })?;
                parse_node(node.trim_matches('"'))
            })
            .collect();
    }
    values("x-forwarded-for")
        .into_iter()
        .map(parse_node)
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.parse::<SocketAddr>().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::builder();
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let (mut parts, ()) = b.body(()).unwrap().into_parts();
        let addr: SocketAddr = format!("{peer}:4000").parse().unwrap();
        parts.extensions.insert(ConnectInfo(addr));
        parts
    }

    fn nets(s: &[&str]) -> Vec<Cidr> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
        let p = parts("203.0.113.9", &[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(source_of(&p, &nets(&["10.0.0.0/8"])), "203.0.113.9");
        assert_eq!(source_of(&p, &[]), "203.0.113.9");
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_spoofed_entries_to_the_left_do_not_count() {
        let trusted = nets(&["10.0.0.0/8"]);
        let p = parts(
            "10.0.0.2",
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.5")],
        );
        assert_eq!(source_of(&p, &trusted), "198.51.100.7");
    }

    #[test]
    fn the_forwarded_header_is_read_with_ports_and_brackets() {
        let trusted = nets(&["10.0.0.0/8"]);
        let p = parts(
            "10.0.0.2",
            &[(
                "forwarded",
                r#"for=192.0.2.60;proto=http, for="[2001:db8::1]:4711""#,
            )],
        );
        assert_eq!(source_of(&p, &trusted), "2001:db8::1");
        let p = parts("10.0.0.2", &[("forwarded", "for=unknown, for=10.0.0.3")]);
        assert_eq!(source_of(&p, &trusted), "10.0.0.3");
    }
}
