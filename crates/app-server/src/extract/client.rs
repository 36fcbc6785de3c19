//! The client's address, for throttling: the TCP peer, or the address a
//! trusted proxy (nginx) reports in X-Forwarded-For.

use std::future::{ready, Ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use ipnet::IpNet;

use crate::errors::ApiError;
use crate::state::AppState;

pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequest for ClientAddr {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.trusted_proxies.as_slice())
            .unwrap_or(&[]);
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
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
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
                if !is_trusted(&ip) {
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
