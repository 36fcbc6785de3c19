//! What is known of the request's origin: the client's address, for
//! throttling (the TCP peer, or the address a trusted proxy, nginx, reports in
//! X-Forwarded-For), and the id a trusted proxy gave the request
//! (X-Request-Id), which it keeps when it resends the request to another
//! replica.

use std::future::{ready, Ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use ipnet::IpNet;

use crate::errors::ApiError;
use crate::state::AppState;

pub struct ClientAddr(pub Option<IpAddr>);

/// The X-Request-Id of a request whose peer is a trusted proxy; `None` from
/// anyone else (a client could pick any id) and when the value is not a
/// plain token of at most 64 characters.
pub struct ProxyRequestId(pub Option<String>);

const MAX_REQUEST_ID: usize = 64;

fn trusted_proxies(req: &HttpRequest) -> &[IpNet] {
    req.app_data::<web::Data<AppState>>()
        .map(|s| s.trusted_proxies.as_slice())
        .unwrap_or(&[])
}

impl FromRequest for ProxyRequestId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trusted = trusted_proxies(req);
        let from_proxy = req
            .peer_addr()
            .is_some_and(|a| is_trusted(trusted, &a.ip()));
        let id = from_proxy
            .then(|| req.headers().get("x-request-id"))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_request_id(v))
            .map(str::to_owned);
        ready(Ok(ProxyRequestId(id)))
    }
}

fn is_trusted(trusted: &[IpNet], ip: &IpAddr) -> bool {
    trusted.iter().any(|net| net.contains(ip))
}

fn is_request_id(v: &str) -> bool {
    (1..=MAX_REQUEST_ID).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl FromRequest for ClientAddr {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trusted = trusted_proxies(req);
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok());
        ready(Ok(ClientAddr(client_ip(
            req.peer_addr().map(|a| a.ip()),
            forwarded,
            trusted,
        ))))
    }
}

/// Walk the chain from the right: every hop added by a trusted proxy is
/// believed, and the first untrusted address is the client. Anything a client
/// wrote further left could be forged, so it is never used.
pub fn client_ip<'a>(
    peer: Option<IpAddr>,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    if !is_trusted(trusted, &peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = forwarded_for
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(trusted, &ip) {
                    break;
                }
            }
            // garbage in the chain: stop at the last address we could trust
            Err(_) => break,
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn request_ids_are_plain_short_tokens() {
        assert!(is_request_id("581a370ee7d636ba444f0ca5557360d6"));
        assert!(is_request_id("a-b_c.d"));
        assert!(!is_request_id(""));
        assert!(!is_request_id(&"a".repeat(65)));
        assert!(!is_request_id("a b"));
        assert!(!is_request_id("a\u{e9}"));
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_claim() {
        let trusted = ["127.0.0.1/32".parse().unwrap()];
        assert_eq!(
            client_ip(Some(ip("10.0.0.9")), ["1.2.3.4"].into_iter(), &trusted),
            Some(ip("10.0.0.9"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.9")), std::iter::empty(), &[]),
            Some(ip("10.0.0.9"))
        );
    }

    #[test]
    fn a_trusted_proxy_reports_the_client() {
        let trusted = [
            "127.0.0.1/32".parse().unwrap(),
            "172.28.0.0/16".parse().unwrap(),
        ];
        let peer = Some(ip("127.0.0.1"));
        assert_eq!(
            client_ip(peer, ["203.0.113.7"].into_iter(), &trusted),
            Some(ip("203.0.113.7"))
        );
        // a forged left part is ignored: the right-most untrusted hop wins
        assert_eq!(
            client_ip(
                peer,
                ["6.6.6.6, 203.0.113.7, 172.28.0.5"].into_iter(),
                &trusted
            ),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client_ip(peer, ["6.6.6.6", "203.0.113.7"].into_iter(), &trusted),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client_ip(peer, ["garbage"].into_iter(), &trusted),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(
            client_ip(peer, std::iter::empty(), &trusted),
            Some(ip("127.0.0.1"))
        );
    }
}
