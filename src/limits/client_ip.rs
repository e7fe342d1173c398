//! Who the client is for per-address limits. `X-Forwarded-For` is anyone's
//! to write, so it counts only when the connection comes from a proxy the
//! operator trusts, and then only the addresses trusted proxies appended:
//! the right-most address that is not itself a trusted proxy.

use std::net::IpAddr;

use ipnet::IpNet;

/// Trusted proxies from `LOTTERY_TRUSTED_PROXIES`: addresses or CIDR
/// ranges, comma-separated.
pub fn parse_trusted(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse_net(s).ok_or_else(|| format!("expected an IP address or CIDR range, got {s:?}"))
        })
        .collect()
}

/// How long an IPv6 prefix counts as one client by default: a /64, the
/// smallest prefix a provider hands one subscriber (RFC 6177, RFC 7934
/// §6), from which it may pick any of 2^64 addresses, one per request.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// The address a per-address limit counts under: an IPv6 client by its
/// first `v6_prefix` bits (`LOTTERY_LIMIT_IPV6_PREFIX`). An IPv4 address
/// mapped into IPv6 (`::ffff:a.b.c.d`, a dual-stack socket's view) is that
/// IPv4 address.
pub fn bucket(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(v6_prefix.min(128)))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        },
    }
}

/// Every `X-Forwarded-For` field line of a request, in order, as one list:
/// RFC 9110 §5.3 lets a field be sent as several lines, which mean their
/// values joined with commas. A proxy that adds its own line after the
/// client's must not leave the client's forged line as "the" header. A
/// line that is not visible ASCII ends the list where it stands (the
/// right-most part is what trusted proxies wrote).
pub fn forwarded_for(lines: impl Iterator<Item = Result<String, ()>>) -> Option<String> {
    let mut joined: Option<String> = None;
    for line in lines {
        let part = line.unwrap_or_else(|()| "unreadable".into());
        joined = Some(match joined {
            Some(before) => format!("{before}, {part}"),
            None => part,
        });
    }
    joined
}

/// Whether `ip` is one of the operator's trusted proxies. A dual-stack
/// listener shows an IPv4 peer as `::ffff:a.b.c.d`: that is the IPv4
/// address, as `10.0.0.0/8` means it.
pub fn is_trusted(ip: &IpAddr, trusted: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// One `LOTTERY_TRUSTED_PROXIES` or `LOTTERY_CLUSTER_PEERS` item that is an
/// address or a CIDR range.
pub fn parse_net(item: &str) -> Option<IpNet> {
    item.parse::<IpNet>()
        .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
        .ok()
}

/// The client's address: the peer's, unless the peer is a trusted proxy
/// and says whom it forwards for.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| is_trusted(ip, trusted);
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in header.rsplit(',').map(str::trim) {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // Garbage left of here was written by the client: stop at the
            // last address a trusted proxy vouched for.
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted = parse_trusted("10.0.0.0/8, 127.0.0.1").unwrap();
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        // Through one trusted proxy.
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        // The client forged a left-most entry; two trusted hops follow.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                Some("6.6.6.6, 198.51.100.7, 10.2.2.2"),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // Trusted peer without the header, or with garbage.
        assert_eq!(client_ip(ip("10.1.1.1"), None, &trusted), ip("10.1.1.1"));
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("nonsense"), &trusted),
            ip("10.1.1.1")
        );
        assert!(parse_trusted("10.0.0.0/33").is_err());
        assert!(parse_trusted("").unwrap().is_empty());
    }

    #[test]
    fn several_header_lines_are_one_list_and_the_proxys_own_is_read() {
        let trusted = parse_trusted("10.0.0.0/8").unwrap();
        // The client sent a forged line; the proxy added its own line.
        let lines = ["6.6.6.6", "198.51.100.7"].map(|l| Ok(l.to_string()));
        let joined = forwarded_for(lines.into_iter()).unwrap();
        assert_eq!(joined, "6.6.6.6, 198.51.100.7");
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some(&joined), &trusted),
            ip("198.51.100.7")
        );
        // An unreadable line stops the walk where it stands: the last
        // trusted hop right of it is the answer, not what is left of it.
        let lines = [Ok("1.2.3.4".to_string()), Err(()), Ok("10.0.0.2".into())];
        let joined = forwarded_for(lines.into_iter()).unwrap();
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some(&joined), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(forwarded_for(std::iter::empty()), None);
    }

    #[test]
    fn a_trusted_proxy_is_known_by_its_ipv4_address_on_a_dual_stack_socket() {
        let trusted = parse_trusted("10.0.0.0/8").unwrap();
        assert!(is_trusted(&ip("::ffff:10.1.2.3"), &trusted));
        assert!(!is_trusted(&ip("::ffff:192.0.2.1"), &trusted));
        assert_eq!(parse_net("10.0.0.1"), Some("10.0.0.1/32".parse().unwrap()));
        assert_eq!(parse_net("lottery.svc"), None);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        assert_eq!(
            bucket(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 64),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            bucket(ip("2001:db8:1:2::1"), 64),
            bucket(ip("2001:db8:1:2:ffff::9"), 64)
        );
        assert_ne!(
            bucket(ip("2001:db8:1:2::1"), 64),
            bucket(ip("2001:db8:1:3::1"), 64)
        );
        assert_eq!(bucket(ip("::ffff:198.51.100.7"), 64), ip("198.51.100.7"));
        assert_eq!(bucket(ip("198.51.100.7"), 64), ip("198.51.100.7"));
        // The prefix is a setting: a /56 for providers that hand those out,
        // 128 for whole addresses.
        assert_eq!(bucket(ip("2001:db8:1:2ff::1"), 56), ip("2001:db8:1:200::"));
        assert_eq!(bucket(ip("2001:db8::1"), 128), ip("2001:db8::1"));
    }
}
