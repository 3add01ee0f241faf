//! Client access list: `--allow ADDR[/BITS]` and /etc/distcc/clients.allow.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// A refused client gets its refusal line, then what it still sends is
/// read and dropped until it closes, for at most this long and this many
/// bytes: closing on unread data would reset the connection and could
/// lose the line before the client reads it.
pub const REFUSED_LINGER: Duration = Duration::from_secs(5);
pub const REFUSED_DRAIN: usize = 8 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("'{s}' is not an IP address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("'{s}': bad prefix length '{b}'"))?,
        };
        Ok(Cidr { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // IPv4 clients on a dual-stack socket arrive as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - self.bits as u32).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - self.bits as u32).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// distccd's `--allow-private` networks.
pub fn private_networks() -> Vec<Cidr> {
    [
        "192.168.0.0/16",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "127.0.0.0/8",
        "::1/128",
        "fe80::/10",
        "fc00::/7",
    ]
    .iter()
    .map(|s| Cidr::parse(s).expect("static network"))
    .collect()
}

/// Parse a clients.allow file: networks or hosts separated by whitespace or
/// lines, `#` comments. A bad entry names the file and line.
pub fn parse_allow_file(text: &str, name: &Path) -> Result<Vec<Cidr>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for word in line.split_whitespace() {
            out.push(Cidr::parse(word).map_err(|e| format!("{}:{}: {e}", name.display(), n + 1))?);
        }
    }
    Ok(out)
}

pub fn allowed(list: &[Cidr], ip: IpAddr) -> bool {
    list.iter().any(|c| c.contains(ip))
}

/// The line that tells `peer` it is refused, naming the address of ours
/// it reached (`local`, the accepted socket's own address).
pub fn refusal_line(local: std::io::Result<SocketAddr>, peer: SocketAddr) -> Vec<u8> {
    let server = local
        .map(|a| unmapped(a).ip())
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    crate::protocol::access_denied::line(&crate::protocol::access_denied::Denied {
        server,
        client: peer.ip(),
    })
}

/// A client address as distccd names it: an IPv4 client of a dual-stack
/// socket arrives as `[::ffff:a.b.c.d]:port`, and is logged (and shown on
/// the status page) as `a.b.c.d:port`.
pub fn unmapped(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => peer,
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_and_hosts() {
        let n = Cidr::parse("192.168.0.0/24").unwrap();
        assert!(n.contains(ip("192.168.0.77")));
        assert!(!n.contains(ip("192.168.1.1")));
        let h = Cidr::parse("192.168.0.1").unwrap();
        assert!(h.contains(ip("192.168.0.1")) && !h.contains(ip("192.168.0.2")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
    }

    #[test]
    fn mapped_ipv4_matches_ipv4_rule() {
        let n = Cidr::parse("127.0.0.1").unwrap();
        assert!(n.contains(ip("::ffff:127.0.0.1")));
    }

    #[test]
    fn mapped_peers_are_shown_as_ipv4() {
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            unmapped(sa("[::ffff:198.18.0.10]:4000")),
            sa("198.18.0.10:4000")
        );
        assert_eq!(unmapped(sa("[fd00::1]:4000")), sa("[fd00::1]:4000"));
        assert_eq!(unmapped(sa("127.0.0.1:4000")), sa("127.0.0.1:4000"));
    }

    #[test]
    fn bad_entries() {
        for s in ["192.168.0.0/33", "host.example", "1.2.3.4/x", "::1/129", ""] {
            assert!(Cidr::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn shipped_example_parses() {
        let p = Path::new("etc/distcc/clients.allow");
        let l = parse_allow_file(include_str!("../../etc/distcc/clients.allow"), p).unwrap();
        assert_eq!(l.len(), 2);
        assert!(allowed(&l, "192.168.0.42".parse().unwrap()));
        assert!(!allowed(&l, "10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn seed_clients_allow_parses() {
        let l = parse_allow_file(
            "# allowed\n192.168.0.0/24 192.168.0.1\n\n",
            Path::new("/etc/distcc/clients.allow"),
        )
        .unwrap();
        assert_eq!(l.len(), 2);
        let e = parse_allow_file("10.0.0.0/8\nfoo\n", Path::new("c.allow")).unwrap_err();
        assert!(e.starts_with("c.allow:2:"), "{e}");
    }
}
