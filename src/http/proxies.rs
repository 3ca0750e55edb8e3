//! Reverse proxies the server trusts (`--trusted-proxy CIDR`): behind one,
//! every citizen arrives from the proxy's address, so rate limits and
//! sign-in lockouts would put a whole city in one bucket. A request from a
//! trusted proxy is counted against the address the proxy names in
//! `X-Forwarded-For`; from anyone else the header is ignored, since a
//! client can write whatever it likes there.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// At most this many addresses of a forwarding chain are read.
const MAX_HOPS: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(nets: &[IpNet]) -> TrustedProxies {
        TrustedProxies(nets.into())
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted
    /// proxy; then, walking `X-Forwarded-For` from its end (the hop the
    /// proxy added), the first address that is not a trusted proxy. A
    /// chain of trusted proxies only names its first address; a malformed
    /// header counts as the proxy's own request.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let mut chain: Vec<IpAddr> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else { return peer };
            for part in text.split(',') {
                match part.trim().parse::<IpAddr>() {
                    Ok(ip) if chain.len() < MAX_HOPS => chain.push(canonical(ip)),
                    Ok(_) => {}
                    Err(_) => return peer,
                }
            }
        }
        chain
            .iter()
            .rev()
            .find(|ip| !self.contains(**ip))
            .or(chain.first())
            .copied()
            .unwrap_or(peer)
    }
}

/// An IPv4 client on an IPv6 socket (`::ffff:a.b.c.d`) as its IPv4 self.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let trusted = TrustedProxies::new(&["10.0.0.0/24".parse().unwrap(), "::1/128".parse().unwrap()]);
        let forged = headers(&["1.2.3.4"]);
        // Not a proxy: its header is its own invention.
        assert_eq!(trusted.client(ip("203.0.113.9"), &forged), ip("203.0.113.9"));
        // The proxy names the client; a forged entry before it is ignored.
        let h = headers(&["1.2.3.4, 198.51.100.7"]);
        assert_eq!(trusted.client(ip("10.0.0.5"), &h), ip("198.51.100.7"));
        // Two trusted hops, headers split over lines.
        let h = headers(&["198.51.100.7", "10.0.0.9"]);
        assert_eq!(trusted.client(ip("10.0.0.5"), &h), ip("198.51.100.7"));
        // IPv4 behind an IPv6 socket, proxy over IPv6.
        assert_eq!(
            trusted.client(ip("::ffff:10.0.0.5"), &headers(&["198.51.100.7"])),
            ip("198.51.100.7")
        );
        assert_eq!(trusted.client(ip("::1"), &headers(&["2001:db8::7"])), ip("2001:db8::7"));
        // No header, or one that is not addresses: the proxy itself.
        assert_eq!(trusted.client(ip("10.0.0.5"), &HeaderMap::new()), ip("10.0.0.5"));
        assert_eq!(trusted.client(ip("10.0.0.5"), &headers(&["unknown"])), ip("10.0.0.5"));
        // Only trusted addresses in the chain: its first.
        assert_eq!(trusted.client(ip("10.0.0.5"), &headers(&["10.0.0.7"])), ip("10.0.0.7"));
        // No proxies configured: always the peer.
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.5"), &h), ip("10.0.0.5"));
    }
}
