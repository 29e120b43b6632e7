//! The client's address, which login throttling counts by.
//!
//! Behind proxies the TCP peer is the nearest proxy, so the client is read from
//! `X-Forwarded-For`: each proxy appends the address it saw, so with `n` trusted proxies the
//! client is the `n`-th entry from the right. Entries further left were written by the client
//! itself and are never believed.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use owp_platform::http::Problem;

use crate::routes::AppState;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address as throttling keys it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(String);

impl ClientAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An IPv4 address as is; an IPv6 address by its /64, the block one subscriber gets, so that
    /// a client cannot escape its counters by walking through its own addresses.
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(v4.to_string()),
                None => {
                    let [a, b, c, d, ..] = v6.segments();
                    Self(format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0)))
                }
            },
        }
    }
}

/// The client behind `trusted_proxies` proxies, or `peer` when `X-Forwarded-For` does not hold
/// that many entries (or holds no address there): a request that did not pass every proxy
/// shares its peer's counters rather than choosing its own.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: usize) -> IpAddr {
    if trusted_proxies == 0 {
        return peer;
    }
    // Several headers are one list, in order (RFC 9110, 5.3).
    let entries: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    entries.len().checked_sub(trusted_proxies).and_then(|index| entries[index].parse().ok()).unwrap_or(peer)
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied() else {
            tracing::error!("no peer address: auth must be served with connect info");
            return Err(Problem::internal());
        };
        Ok(Self::from_ip(client_ip(peer.ip(), &parts.headers, state.settings.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn the_nth_entry_from_the_right_is_the_client() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let headers = forwarded(&["6.6.6.6, 1.2.3.4", "5.6.7.8"]);
        assert_eq!(client_ip(peer, &headers, 0), peer);
        assert_eq!(client_ip(peer, &headers, 1).to_string(), "5.6.7.8");
        assert_eq!(client_ip(peer, &headers, 2).to_string(), "1.2.3.4");
        // Fewer entries than proxies, or garbage where the client should be: the peer.
        assert_eq!(client_ip(peer, &headers, 4), peer);
        assert_eq!(client_ip(peer, &HeaderMap::new(), 1), peer);
        assert_eq!(client_ip(peer, &forwarded(&["1.2.3.4, unknown"]), 1), peer);
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        let key = |text: &str| ClientAddress::from_ip(text.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_eq!(key("2001:db8:1:2:aaaa::1").as_str(), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:1.2.3.4").as_str(), "1.2.3.4");
        assert_eq!(key("1.2.3.4").as_str(), "1.2.3.4");
    }
}
