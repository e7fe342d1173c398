//! Where the cluster's members may be (`LOTTERY_CLUSTER_PEERS`). A member
//! registers its URL in etcd, and writes for its events are forwarded
//! there with the user's bearer token and the cluster's secret: whoever
//! can write etcd could register a URL of their own and collect both
//! (issue 24, finding 4). A URL is used only when its host is allowed
//! here: with the instances' own addresses as the patterns, an etcd writer
//! can at most make requests fail, never receive them (the default, every
//! private range, only keeps forwards off the public internet).
//!
//! A pattern is a CIDR range (`10.0.0.0/8`, `fd00::/8`), which matches an
//! IP-literal host, or a host name (`lottery-0.lottery.svc`), or a name
//! suffix (`*.lottery.svc.cluster.local`). Names are compared, never
//! resolved: what a name resolves to is not ours to trust.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::limits::client_ip::parse_net;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Net(IpNet),
    Host(String),
    /// `*.example.com`, kept as `.example.com`.
    Suffix(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peers(Vec<Pattern>);

/// Without the setting: loopback and the private ranges (RFC 1918, RFC
/// 4193), where a cluster's instances talk; never a public address.
pub const DEFAULT_PEERS: &str =
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

impl Default for Peers {
    fn default() -> Self {
        Self::parse(DEFAULT_PEERS).expect("the default patterns parse")
    }
}

impl Peers {
    /// Comma-separated patterns; at least one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let pattern = if let Some(net) = parse_net(item) {
                Pattern::Net(net)
            } else if let Some(suffix) = item.strip_prefix("*.") {
                check_name(suffix, item)?;
                Pattern::Suffix(format!(".{}", suffix.to_ascii_lowercase()))
            } else {
                check_name(item, item)?;
                Pattern::Host(item.to_ascii_lowercase())
            };
            patterns.push(pattern);
        }
        if patterns.is_empty() {
            return Err("expected CIDR ranges or host names, e.g. 10.0.0.0/8,*.lottery.svc".into());
        }
        Ok(Self(patterns))
    }

    /// Whether a member's URL may be forwarded to: http or https, no user
    /// or password in it, and an allowed host.
    pub fn allows(&self, url: &str) -> bool {
        let Ok(url) = reqwest::Url::parse(url) else {
            return false;
        };
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return false;
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.allows_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.allows_ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                let name = name.to_ascii_lowercase();
                self.0.iter().any(|pattern| match pattern {
                    Pattern::Host(host) => *host == name,
                    Pattern::Suffix(suffix) => name.ends_with(suffix.as_str()),
                    Pattern::Net(_) => false,
                })
            }
            None => false,
        }
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        self.0
            .iter()
            .any(|pattern| matches!(pattern, Pattern::Net(net) if net.contains(&ip)))
    }
}

fn check_name(name: &str, item: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !name.starts_with('.')
        && !name.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{item:?} is neither a CIDR range, an address, a host name nor *.suffix"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_names_and_suffixes_allow_their_urls_only() {
        let peers =
            Peers::parse("10.0.0.0/8, fd00::/8, lottery-0.internal, *.lottery.svc").unwrap();
        assert!(peers.allows("http://10.1.2.3:8080"));
        assert!(peers.allows("https://[fd00::5]:8443"));
        assert!(peers.allows("http://lottery-0.internal:8080"));
        assert!(peers.allows("http://LOTTERY-0.internal:8080"));
        assert!(peers.allows("http://b.lottery.svc:8080"));
        assert!(
            !peers.allows("http://lottery.svc:8080"),
            "the suffix needs a label before it"
        );
        assert!(!peers.allows("http://evil-lottery.svc:8080"));
        assert!(!peers.allows("http://203.0.113.9:8080"));
        assert!(!peers.allows("http://lottery-0.internal.evil.com:8080"));
        // A name is never resolved, even one that points into the range.
        assert!(!peers.allows("http://localhost:8080"));
        // Only http(s), and no credentials riding along.
        assert!(!peers.allows("ftp://10.0.0.1/"));
        assert!(!peers.allows("http://user:pw@10.0.0.1:8080"));
        assert!(!peers.allows("not a url"));
    }

    #[test]
    fn the_default_is_loopback_and_private_ranges() {
        let peers = Peers::default();
        for url in [
            "http://127.0.0.1:1",
            "http://[::1]:1",
            "http://192.168.1.9:1",
            "http://172.20.0.1:1",
        ] {
            assert!(peers.allows(url), "{url}");
        }
        for url in [
            "http://8.8.8.8:1",
            "http://[2001:db8::1]:1",
            "http://example.com:1",
        ] {
            assert!(!peers.allows(url), "{url}");
        }
    }

    #[test]
    fn bad_patterns_are_named() {
        assert!(Peers::parse("").is_err());
        assert!(Peers::parse("10.0.0.0/33")
            .unwrap_err()
            .contains("10.0.0.0/33"));
        assert!(Peers::parse("*.").is_err());
        assert!(Peers::parse("http://x").is_err());
    }
}
