//! The client's address. Behind a load balancer the socket's peer is the balancer, which
//! appends the address it saw to `X-Forwarded-For`. Only what proxies listed in
//! `trusted_proxies` appended is believed: reading the header from the right, the first
//! address that is not a trusted proxy is the client. Anything further left the client may
//! have written itself, so it is never used.

use crate::app::AppState;
use actix_web::http::header::HeaderName;
use actix_web::{web, HttpRequest};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client's address, as far as it can be told.
pub fn of(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.trusted_proxies.as_slice())
        .unwrap_or_default();
    if trusted.is_empty() {
        return Some(peer.to_canonical());
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all(FORWARDED_FOR)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    Some(behind(peer, &forwarded, trusted))
}

/// Walks back through the proxies the request came through while they are trusted.
fn behind(peer: IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> IpAddr {
    let mut client = peer.to_canonical();
    for entry in forwarded.iter().rev() {
        if !trusted.iter().any(|network| network.contains(&client)) {
            break;
        }
        match parse(entry) {
            Some(address) => client = address,
            // A trusted proxy wrote something that is no address: go no further than it.
            None => break,
        }
    }
    client
}

/// An entry of `X-Forwarded-For`: an address, possibly with a port (`[v6]:port`).
fn parse(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(texts: &[&str]) -> Vec<IpNet> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn only_trusted_proxies_are_looked_through() {
        let balancers = nets(&["10.0.0.0/8"]);
        // Straight from the client: the header is the client's own writing.
        assert_eq!(
            behind(ip("198.51.100.9"), &["203.0.113.1"], &balancers),
            ip("198.51.100.9")
        );
        // Through the balancer: the address it appended.
        assert_eq!(
            behind(ip("10.0.0.2"), &["203.0.113.1"], &balancers),
            ip("203.0.113.1")
        );
        // A forged entry left of the balancer's is not believed.
        assert_eq!(
            behind(ip("10.0.0.2"), &["192.0.2.66", " 203.0.113.1"], &balancers),
            ip("203.0.113.1")
        );
        // Two trusted hops.
        assert_eq!(
            behind(ip("10.0.0.2"), &["203.0.113.1", "10.1.2.3"], &balancers),
            ip("203.0.113.1")
        );
        // Ports and IPv4 written as IPv6 are understood; rubbish stops the walk.
        assert_eq!(
            behind(ip("10.0.0.2"), &["203.0.113.1:5555"], &balancers),
            ip("203.0.113.1")
        );
        assert_eq!(
            behind(ip("::ffff:10.0.0.2"), &["[2001:db8::1]:443"], &balancers),
            ip("2001:db8::1")
        );
        assert_eq!(
            behind(ip("10.0.0.2"), &["unknown"], &balancers),
            ip("10.0.0.2")
        );
        // No header: the balancer itself.
        assert_eq!(behind(ip("10.0.0.2"), &[], &balancers), ip("10.0.0.2"));
    }
}
